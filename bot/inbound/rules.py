"""The keyword responder's rules, pure: messages + the state they see -> writes and outcomes.

Messages of a batch are decided strictly in arrival order against a snapshot that each
decision updates, so a batch gives the same result as handling its messages one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.config.types import Config
from bot.inbound.keywords import (
    CONSENT_ACTIONS,
    KeywordMatch,
    check_rules,
    fill_reply,
    resolve_group,
)
from gateway.base import InboundSms
from gateway.gsm import analyse
from storage.inbound import (
    AuditRow,
    BatchState,
    ContactRow,
    GroupRow,
    InboundRow,
    ReplyRow,
    Writes,
)
from storage.states import KeywordAction

logger = logging.getLogger(__name__)

MAX_LISTED_GROUPS = 10
MAX_ECHO_CHARS = 30
MAX_CACHED_TEXTS = 512
_NONE = {"en": "none", "sw": "hakuna"}


@dataclass(frozen=True, slots=True)
class Prepared:
    """An inbound SMS with its sender in E.164 and its keyword, ready to be decided."""

    sms: InboundSms
    phone: str
    match: KeywordMatch | None
    received_at: str


@dataclass(frozen=True, slots=True)
class InboundResult:
    """What became of one inbound message."""

    id: int
    duplicate: bool
    phone: str
    action: KeywordAction | None
    language: str | None
    outcome: str  # opted_out, opted_in, joined, left, help, inbox, duplicate, ...
    reply: str | None = None  # the text queued, if any
    reply_suppressed: bool = False  # the loop guard held a reply back
    contact_id: int | None = None
    broadcast_id: int | None = None

    @property
    def inbox(self) -> bool:
        """Whether the message went to staff as an ordinary message."""
        return self.outcome == "inbox"


@dataclass(slots=True)
class Plan:
    """The writes a batch makes and each message's result, in arrival order."""

    writes: Writes = field(default_factory=Writes)
    results: list[InboundResult] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Decision:
    outcome: str
    reply: str | None = None  # reply key in the keyword replies
    values: Mapping[str, str] = field(default_factory=dict)
    ignore_optout: bool = False
    # Sent even past the loop guard (still counted): the opt-out confirmation, which goes once
    # per opt-out and is the last message the number gets, so it cannot feed a loop.
    past_guard: bool = False


# A keyword action's rule: (message, its keyword, inbound id, snapshot, writes) -> decision.
Rule = Callable[[Prepared, KeywordMatch, int, BatchState, Writes], _Decision]


class KeywordRules:
    """Decides each message: consent changes, group changes, the reply, or the inbox."""

    def __init__(self, config: Config):
        k = config.keywords
        self.replies = k.replies
        self.max_replies = k.max_auto_replies_per_hour
        self.sender_id = config.dispatch.default_sender_id
        self.base = {"org": config.organisation, "contact": k.help_contact or config.organisation}
        self._segment_cache: dict[str, int] = {}
        self._fixed_texts: dict[tuple[str, str], str] = {}
        self.actions: Mapping[KeywordAction, Rule] = {
            KeywordAction.OPTOUT: self._optout,
            KeywordAction.OPTIN: self._optin,
            KeywordAction.HELP: self._help,
            KeywordAction.JOIN: self._join,
            KeywordAction.LEAVE: self._leave,
        }
        check_rules(self.actions)

    def plan(self, batch: Sequence[Prepared], snap: BatchState, *, stamp: str) -> Plan:
        """Decide every message of a batch in order."""
        plan = Plan()
        for item in batch:
            plan.results.append(self._one(item, snap, plan.writes, stamp=stamp))
        return plan

    def _one(self, p: Prepared, snap: BatchState, w: Writes, *, stamp: str) -> InboundResult:
        m = p.match
        action, language = (m.action, m.language) if m else (None, None)
        key = (p.sms.gateway, p.sms.provider_id)
        if key in snap.known:
            return InboundResult(snap.known[key], True, p.phone, action, language, "duplicate")
        inbound_id = snap.known[key] = snap.next_inbound
        snap.next_inbound += 1
        contact = snap.contacts.get(p.phone)
        if m is None or (contact and contact.opted_out and m.action not in CONSENT_ACTIONS):
            decision = _Decision("inbox")  # an opted-out sender only ever gets back in by START
        else:
            decision = self.actions[m.action](p, m, inbound_id, snap, w)
        contact = snap.contacts.get(p.phone)
        contact_id = contact.id if contact else None
        w.inbound.append(
            InboundRow(
                id=inbound_id,
                gateway=p.sms.gateway,
                provider_id=p.sms.provider_id,
                sender=p.phone,
                recipient=p.sms.recipient,
                text=p.sms.text,
                received_at=p.received_at,
                stored_at=stamp,
                contact_id=contact_id,
                action=action,
                language=language,
                outcome=decision.outcome,
                link_id=p.sms.link_id,
                incomplete=p.sms.incomplete,
            )
        )
        reply, suppressed = None, False
        may_reply = not (contact and contact.opted_out) or decision.ignore_optout
        if decision.reply is not None and language is not None and may_reply:
            if snap.reply_counts.get(p.phone, 0) >= self.max_replies and not decision.past_guard:
                suppressed = True
                logger.warning("loop guard: no reply to %s (inbound %d)", p.phone, inbound_id)
            else:
                snap.reply_counts[p.phone] = snap.reply_counts.get(p.phone, 0) + 1
                reply = self._text(language, decision.reply, decision.values)
                w.replies.append(
                    ReplyRow(
                        inbound_id=inbound_id,
                        contact_id=contact_id,
                        phone=p.phone,
                        text=reply,
                        segments=self._segments(reply),
                        ignore_optout=decision.ignore_optout,
                        sender_id=self.sender_id,
                    )
                )
        return InboundResult(
            inbound_id,
            False,
            p.phone,
            action,
            language,
            decision.outcome,
            reply=reply,
            reply_suppressed=suppressed,
            contact_id=contact_id,
        )

    def _segments(self, text: str) -> int:
        """SMS parts of a reply; most replies are the same few texts, so remember them."""
        segments = self._segment_cache.get(text)
        if segments is None:
            if len(self._segment_cache) > MAX_CACHED_TEXTS:
                self._segment_cache.clear()
            segments = self._segment_cache[text] = analyse(text).segments
        return segments

    def _text(self, language: str, key: str, values: Mapping[str, str]) -> str:
        if not values:  # STOP, START and HELP replies are the same text every time
            cached = self._fixed_texts.get((language, key))
            if cached is not None:
                return cached
        table = self.replies.get(language) or self.replies["en"]
        template = table.get(key) or self.replies["en"][key]
        text = fill_reply(template, {**self.base, **values})
        if not values:
            self._fixed_texts[(language, key)] = text
        return text

    @staticmethod
    def _listing(labels: Iterable[str], language: str | None) -> str:
        items = list(labels)
        if not items:
            return _NONE.get(language or "en", "-")
        more = len(items) > MAX_LISTED_GROUPS
        return ", ".join(items[:MAX_LISTED_GROUPS]) + (", ..." if more else "")

    @staticmethod
    def _contact(phone: str, snap: BatchState, w: Writes) -> ContactRow:
        contact = snap.contacts.get(phone)
        if contact is None:
            contact = ContactRow(snap.next_contact, phone, "", False)
            snap.next_contact += 1
            snap.contacts[phone] = contact
            w.new_contacts.append((contact.id, phone))
        return contact

    @staticmethod
    def _audit(p: Prepared, action: str, inbound_id: int, w: Writes, **extra: str) -> None:
        details = {"source": "sms", "message": p.sms.text, "inbound_id": inbound_id, **extra}
        w.audit.append(AuditRow(p.sms.gateway, action, p.phone, details))

    def _consent(
        self, p: Prepared, out: bool, inbound_id: int, snap: BatchState, w: Writes
    ) -> None:
        contact = self._contact(p.phone, snap, w)
        snap.contacts[p.phone] = ContactRow(contact.id, contact.phone, contact.name, out)
        w.consent.append((contact.id, out, "sms"))
        self._audit(p, "contact.optout" if out else "contact.optin", inbound_id, w)

    def _optout(
        self, p: Prepared, _m: KeywordMatch, inbound_id: int, snap: BatchState, w: Writes
    ) -> _Decision:
        contact = snap.contacts.get(p.phone)
        if contact is not None and contact.opted_out:
            return _Decision("already_opted_out")  # confirmed once already
        self._consent(p, True, inbound_id, snap, w)
        return _Decision("opted_out", "optout", ignore_optout=True, past_guard=True)

    def _optin(
        self, p: Prepared, _m: KeywordMatch, inbound_id: int, snap: BatchState, w: Writes
    ) -> _Decision:
        contact = snap.contacts.get(p.phone)
        if contact is None or not contact.opted_out:
            return _Decision("inbox")  # e.g. YES to a question: an answer, not a consent change
        self._consent(p, False, inbound_id, snap, w)
        return _Decision("opted_in", "optin")

    @staticmethod
    def _help(
        _p: Prepared, _m: KeywordMatch, _inbound_id: int, _snap: BatchState, _w: Writes
    ) -> _Decision:
        return _Decision("help", "help")

    def _join(
        self, p: Prepared, m: KeywordMatch, inbound_id: int, snap: BatchState, w: Writes
    ) -> _Decision:
        joinable = [g for g in snap.groups if g.joinable]
        listing = self._listing((g.label for g in joinable), m.language)
        if not m.argument:
            return _Decision("join_usage", "join_usage", {"groups": listing})
        found = resolve_group(m.argument, joinable)
        if not found:
            values = {"query": m.argument[:MAX_ECHO_CHARS], "groups": listing}
            return _Decision("no_such_group", "no_such_group", values)
        if len(found) > 1:
            listing = self._listing((g.label for g in found), m.language)
            return _Decision("ambiguous_group", "ambiguous_group", {"groups": listing})
        group = found[0]
        contact = self._contact(p.phone, snap, w)
        already = (contact.id, group.id) in snap.memberships
        snap.memberships.add((contact.id, group.id))
        values = {"group": group.label, "name": self._handle(group, self._leavable(contact, snap))}
        if already:
            return _Decision("already_member", "already_member", values)
        w.joins.append((contact.id, group.id))
        self._audit(p, "group.join", inbound_id, w, group=group.label)
        return _Decision("joined", "joined", values)

    def _leave(
        self, p: Prepared, m: KeywordMatch, inbound_id: int, snap: BatchState, w: Writes
    ) -> _Decision:
        contact = snap.contacts.get(p.phone)
        mine = [g for g in snap.groups if contact and (contact.id, g.id) in snap.memberships]
        listing = self._listing((g.label for g in mine), m.language)
        if not m.argument:
            return _Decision("leave_usage", "leave_usage", {"groups": listing})
        found = resolve_group(
            m.argument, self._leavable(contact, snap), prefer=(g.id for g in mine)
        )
        if len(found) > 1:
            listing = self._listing((g.label for g in found), m.language)
            return _Decision("ambiguous_group", "ambiguous_leave", {"groups": listing})
        if not found:  # named as typed: whether a group they are not in exists is not said
            values = {"group": m.argument[:MAX_ECHO_CHARS], "groups": listing}
            return _Decision("not_member", "not_member", values)
        group = found[0]
        name = self._handle(group, self._leavable(contact, snap))
        values = {"group": group.label, "name": name, "groups": listing}
        if contact is None or (contact.id, group.id) not in snap.memberships:
            return _Decision("not_member", "not_member", values)
        snap.memberships.discard((contact.id, group.id))
        w.leaves.append((contact.id, group.id))
        self._audit(p, "group.leave", inbound_id, w, group=group.label)
        return _Decision("left", "left", values)

    @staticmethod
    def _leavable(contact: ContactRow | None, snap: BatchState) -> list[GroupRow]:
        """The groups a sender's LEAVE may name: the joinable ones and every one they are in."""
        return [
            g
            for g in snap.groups
            if g.joinable or (contact is not None and (contact.id, g.id) in snap.memberships)
        ]

    @staticmethod
    def _handle(group: GroupRow, groups: Sequence[GroupRow]) -> str:
        """The short name to type for a group: its name when no other of `groups` shares it."""
        same = sum(1 for g in groups if g.name == group.name)
        return group.name if same == 1 else group.label
