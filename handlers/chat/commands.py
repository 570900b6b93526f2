"""The platform-independent command layer: a parsed command and a person in, a Reply out."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from bot.auditing import Auditor
from bot.broadcasts.service import Decision, Outcome
from bot.config.types import Person
from bot.contacts.phones import PhoneError
from bot.core import Core
from bot.errors import UserError
from bot.views import BroadcastView
from handlers.chat import cards
from handlers.chat.parse import Command, parse_command, parse_when
from handlers.chat.tokens import CommandSyntaxError

logger = logging.getLogger(__name__)

LIST_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a command: the platform, their id there, and the configured person (if any)."""

    platform: str
    user_id: str
    person: Person | None

    @property
    def actor(self) -> str:
        """The audit actor: the person id, or platform:user for strangers."""
        return self.person.id if self.person else f"{self.platform}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a command; `preview` marks a new broadcast's preview (shown publicly)."""

    text: str
    ok: bool = True
    view: BroadcastView | None = None
    preview: bool = False


def printable(text: str) -> str:
    """`text` with any unpaired surrogate (e.g. echoed from bad input) written as an escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def help_text(core: Core) -> str:
    """Short, example-led help."""
    d = core.config.dispatch
    return "\n".join(
        [
            "/sms sends SMS from chat. Examples:",
            '/sms club:ict "Meeting moved to 5pm, Hall B" — preview first, then send',
            '/sms dept:ict -club:chess "Exams start Monday" --at "2026-12-01 07:00" '
            "--kind promo --sender UNIVERSITY",
            "/sms status 12 · /sms list · /sms cancel 12 · /sms groups",
            '/sms reply +254712345678 "Thanks, noted" — one message to one number',
            "/sms resend 12 — send again the messages left unknown, on purpose",
            "/sms test — a test SMS to your own phone",
            "/sms approve 12 · /sms reject 12 — or use the buttons on the approval card",
            f"{d.approval_threshold}+ recipients need an approver who is not you. Quotes are "
            f"optional; placeholders: {{first_name}}, {{name}}, {{greeting}}. Times are "
            f"{core.config.timezone.key}.",
        ]
    )


class Commands:
    """Runs chat commands against the core, audits every one, and answers in one Reply."""

    def __init__(self, core: Core):
        self.core = core
        self.auditor = Auditor(core.db, clock=core.clock)

    def caller(self, platform: str, user_id: str) -> Caller:
        """Map a platform user to the configured person with that id there, if there is one."""
        return Caller(platform, user_id, self.core.config.person_for(platform, user_id))

    async def run(self, text: str, caller: Caller) -> Reply:
        """Parse and execute the text after /sms."""
        if caller.person is None:
            return await self._refuse(caller, "command")
        try:
            command = parse_command(text)
        except CommandSyntaxError as exc:
            reply = Reply(printable(str(exc)), ok=False)
            await self._audit(caller, Command("invalid"), reply=reply)
            return reply
        return await self.execute(command, caller)

    async def click(self, action: str, value: str, *, caller: Caller) -> Reply:
        """A button press: approve/reject/cancel a broadcast, or ask how to reply."""
        if action == "reply":
            return await self.execute(Command("reply_hint", number=value), caller)
        if action not in ("approve", "reject", "cancel") or not value.isdigit():
            return Reply("this button is out of date; use /sms status to see the broadcast", False)
        return await self.execute(Command(action, broadcast_id=int(value)), caller)

    async def execute(self, command: Command, caller: Caller) -> Reply:
        """Run a parsed command as the caller; errors become one friendly line."""
        if caller.person is None:
            return await self._refuse(caller, command.verb)
        try:
            reply = await self._do(command, caller.person)
        except (UserError, PhoneError) as exc:
            reply = Reply(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, ok=False)
        except Exception:
            logger.exception("chat command %s from %s failed", command.verb, caller.actor)
            reply = Reply("something went wrong on our side (it is logged); try again", ok=False)
        reply = replace(reply, text=printable(reply.text))  # may echo input; must be sendable
        await self._audit(caller, command, reply=reply)
        return reply

    async def _refuse(self, caller: Caller, verb: str) -> Reply:
        reply = Reply(
            f"you are not on the smsops staff list, so /sms is not available to you. Ask an "
            f"admin to add your {caller.platform} id {caller.user_id} to the config.",
            ok=False,
        )
        await self.auditor.record(
            actor=f"{caller.platform}:{caller.user_id}",
            action="chat.refused",
            subject=verb,
            platform=caller.platform,
        )
        return reply

    async def _audit(self, caller: Caller, command: Command, *, reply: Reply) -> None:
        subject = f"b{command.broadcast_id}" if command.broadcast_id else command.number
        try:
            await self.auditor.record(
                actor=caller.actor,
                action=f"chat.{command.verb}",
                subject=subject or "",
                platform=caller.platform,
                user=caller.user_id,
                ok=reply.ok,
                reply=reply.text.splitlines()[0][:200] if reply.text else "",
            )
        except Exception:
            logger.exception("could not audit chat.%s by %s", command.verb, caller.actor)

    async def _do(self, command: Command, person: Person) -> Reply:
        core = self.core
        verb, bid = command.verb, command.broadcast_id
        if verb == "help":
            return Reply(help_text(core))
        if verb == "send":
            return await self._compose(command, person)
        if verb == "status":
            view = await core.broadcasts.view(bid) if bid else await self._latest(person)
            if view is None:
                return Reply("you have no broadcasts yet; start with /sms help")
            return Reply(cards.status_text(view, core.config), view=view)
        if verb == "list":
            views = await core.broadcasts.recent(limit=LIST_LIMIT)
            if not views:
                return Reply("no broadcasts yet; start with /sms help")
            return Reply("\n".join(cards.list_line(v, core.config) for v in views))
        if verb == "groups":
            groups = await core.book.groups()
            if not groups:
                return Reply("no groups yet: import contacts with a Club or Department column")
            lines = [
                f"{g.label} — {g.members} members{' (joinable)' if g.joinable else ''}"
                for g in groups
            ]
            return Reply(f"{len(groups)} groups:\n" + "\n".join(lines))
        if verb in ("approve", "reject", "cancel"):
            assert bid is not None
            return await self._decide(verb, bid, person=person)
        if verb == "resend":
            assert bid is not None
            count = await core.broadcasts.resend_unknown(bid, person=person)
            if not count:
                return Reply(f"broadcast {bid} has no unknown messages; nothing was resent")
            return Reply(f"broadcast {bid}: {count} unknown message(s) queued again, on purpose")
        if verb == "reply":
            return await self._reply(command.number, command.message, person=person)
        if verb == "reply_hint":
            return Reply(cards.reply_hint(command.number))
        if verb == "test":
            if not person.phone:
                return Reply(f"no phone for you in config (people.{person.id}.phone)", ok=False)
            text = command.message or (
                f"smsops test message for {person.name} from {core.config.organisation}. "
                "If you can read this, SMS works."
            )
            row = await core.messaging.send_one(person.phone, text, person=person, purpose="test")
            return Reply(f"test SMS queued to your phone {person.phone} (message {row})")
        return Reply(f"unknown command {verb}; see /sms help", ok=False)

    async def _compose(self, command: Command, person: Person) -> Reply:
        core = self.core
        send_at = None
        if command.at:
            send_at = parse_when(command.at, zone=core.config.timezone, now=core.clock.now())
        view = await core.broadcasts.compose(
            audience=command.audience,
            message=command.message,
            requester=person,
            kind=command.kind,
            send_at=send_at,
            sender_id=command.sender,
        )
        text = cards.preview_message(view, core.config).text
        return Reply(text, view=view, preview=True)

    async def _latest(self, person: Person) -> BroadcastView | None:
        views = await self.core.broadcasts.recent(limit=50)
        mine = [v for v in views if v.requested_by == person.id]
        found = mine or views
        return found[0] if found else None

    async def _decide(self, verb: str, bid: int, *, person: Person) -> Reply:
        svc = self.core.broadcasts
        method = {"approve": svc.approve, "reject": svc.reject, "cancel": svc.cancel}[verb]
        decision: Decision = await method(bid, person=person)
        if decision.outcome is Outcome.WAITING:
            # The core only announces state changes; a first of two approvals updates cards too.
            await self.core.notifier.broadcast_updated(decision.view)
        return Reply(
            decision.message, ok=decision.outcome is not Outcome.REFUSED, view=decision.view
        )

    async def _reply(self, number: str, text: str, *, person: Person) -> Reply:
        try:
            phone = self.core.phones.normalise(number)
        except PhoneError as exc:
            raise UserError(f"{number}: {exc} — write the number like +254712345678") from None
        row = await self.core.messaging.send_one(phone, text, person=person, purpose="reply")
        return Reply(f"reply to {phone} queued (message {row})")
