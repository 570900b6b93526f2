"""The broadcast lifecycle: compose with a preview, four-eyes approval, cancel, pause, resend."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.broadcasts.audience import parse_audience
from bot.broadcasts.compose import parse_template
from bot.broadcasts.planner import BroadcastPlanner
from bot.broadcasts.rules import Decision, Outcome, approvals_needed, refusal, send_start
from bot.clock import Clock
from bot.config.types import Config, Person
from bot.contacts.phones import PhoneNormaliser
from bot.errors import Forbidden, NotFound, UserError
from bot.notify import Notifier
from bot.validate import check_sender_id
from bot.views import BroadcastView, load_view
from storage import audit, outbox
from storage import broadcasts as store
from storage.db import Database
from storage.states import LIVE_STATES, OPEN_STATES, BroadcastKind, BroadcastState

logger = logging.getLogger(__name__)

__all__ = ["BroadcastService", "Decision", "Outcome"]

KINDS = tuple(BroadcastKind)
_MOVABLE = (*OPEN_STATES, *LIVE_STATES, BroadcastState.PAUSED)  # what a cancel may stop


class BroadcastService:
    """The one place that creates broadcasts and moves them through their states."""

    def __init__(
        self,
        db: Database,
        config: Config,
        *,
        phones: PhoneNormaliser,
        clock: Clock,
        notifier: Notifier,
        wake: Any = None,
    ):
        self.db = db
        self.config = config
        self.phones = phones
        self.clock = clock
        self.notifier = notifier
        self.wake = wake or (lambda: None)
        self.planner = BroadcastPlanner(config, clock=clock)

    async def compose(
        self,
        *,
        audience: str,
        message: str,
        requester: Person,
        kind: str = BroadcastKind.ALERT,
        send_at: datetime | None = None,
        sender_id: str | None = None,
    ) -> BroadcastView:
        """Create a broadcast from an audience expression and a text, and return its preview."""
        if kind not in KINDS:
            raise UserError(f"unknown kind {kind!r}: use {' or '.join(KINDS)}")
        kind = BroadcastKind(kind)
        if sender_id:
            check_sender_id(sender_id)
        now = self.clock.now()
        if send_at is not None and send_at < now - timedelta(minutes=1):
            raise UserError(f"the send time {send_at.isoformat()} is in the past")
        parsed = parse_audience(audience, self.phones)
        footer = self.config.dispatch.footers.get(kind, "")
        stamp = now.isoformat()
        async with self.db.transaction() as tx:
            query, groups = await self.planner.resolve(tx, parsed, stamp=stamp)
            valid = await self.planner.valid_fields(tx)
            template = parse_template(message, valid=valid, footer=footer)
            start = send_start(kind, send_at, now, self.config)
            preview = await self.planner.preview(
                tx, query, template, parsed, groups=groups, send_at=start
            )
            if preview.recipients == 0:
                raise UserError(
                    f"nobody to send to: {parsed.describe()} has {preview.matched} contacts, "
                    f"{preview.opted_out} of them opted out"
                )
            needed = approvals_needed(preview.recipients, self.config.dispatch)
            expires = now + timedelta(minutes=self.config.dispatch.approval_expiry_minutes)
            bid = await store.insert(
                tx,
                state=BroadcastState.AWAITING_APPROVAL if needed else BroadcastState.DRAFT,
                kind=kind,
                audience=parsed.expression,
                message=message,
                sender_id=sender_id or self.config.dispatch.default_sender_id,
                requested_by=requester.id,
                send_at=send_at.isoformat() if send_at else None,
                expires_at=expires.isoformat(),
                approvals_needed=needed,
                preview=preview,
                stamp=stamp,
            )
            await audit.record(
                tx,
                at=now,
                actor=requester.id,
                action="broadcast.create",
                subject=f"b{bid}",
                audience=parsed.expression,
                recipients=preview.recipients,
                kind=kind,
            )
            view = await load_view(tx, bid, self.config)
        if needed:
            await self.notifier.approval_requested(view)
        return view

    async def approve(self, broadcast_id: int, *, person: Person) -> Decision:
        """Record an approval; the last one needed freezes the recipients and queues the send."""
        now = self.clock.now()
        stamp = now.isoformat()
        async with self.db.transaction() as tx:
            b = await self._get(tx, broadcast_id)
            refused = refusal(b, person, now)
            if refused:
                await audit.record(
                    tx,
                    at=now,
                    actor=person.id,
                    action="broadcast.approve_refused",
                    subject=f"b{b.id}",
                    reason=refused[0],
                )
                view = await load_view(tx, b.id, self.config)
                return Decision(Outcome.REFUSED, refused[0], view, forbidden=refused[1])
            if not await store.add_decision(tx, b.id, person.id, "approve", stamp=stamp):
                view = await load_view(tx, b.id, self.config)
                return Decision(Outcome.REFUSED, f"you already approved broadcast {b.id}", view)
            await audit.record(
                tx, at=now, actor=person.id, action="broadcast.approve", subject=f"b{b.id}"
            )
            approvals = [d for d in await store.decisions(tx, b.id) if d["decision"] == "approve"]
            if len(approvals) < max(b.approvals_needed, 1):
                view = await load_view(tx, b.id, self.config)
                left = b.approvals_needed - len(approvals)
                return Decision(Outcome.WAITING, f"approved; {left} more approver needed", view)
            await self.planner.freeze(tx, b, parse_audience(b.audience, self.phones), now=now)
            await store.set_state(
                tx, b.id, BroadcastState.APPROVED, stamp=stamp, expect=OPEN_STATES
            )
            await audit.record(
                tx,
                at=now,
                actor=person.id,
                action="broadcast.state",
                subject=f"b{b.id}",
                state=BroadcastState.APPROVED,
            )
            view = await load_view(tx, b.id, self.config)
        self.wake()
        await self.notifier.broadcast_updated(view)
        message = f"broadcast {b.id} approved: {view.recipients} recipients queued"
        if view.preview.recipients != view.recipients:
            message += f" (preview showed {view.preview.recipients}; the list changed)"
        return Decision(Outcome.APPROVED, message, view)

    async def reject(self, broadcast_id: int, *, person: Person) -> Decision:
        """An approver turns a broadcast down; nothing is sent."""
        now = self.clock.now()
        async with self.db.transaction() as tx:
            b = await self._get(tx, broadcast_id)
            refused = refusal(b, person, now)
            if refused and not (refused[1] and person.id == b.requested_by):
                view = await load_view(tx, b.id, self.config)
                return Decision(Outcome.REFUSED, refused[0], view, forbidden=refused[1])
            await store.add_decision(tx, b.id, person.id, "reject", stamp=now.isoformat())
            await store.set_state(
                tx, b.id, BroadcastState.REJECTED, stamp=now.isoformat(), expect=OPEN_STATES
            )
            await audit.record(
                tx, at=now, actor=person.id, action="broadcast.reject", subject=f"b{b.id}"
            )
            view = await load_view(tx, b.id, self.config)
        await self.notifier.broadcast_updated(view)
        return Decision(Outcome.REJECTED, f"broadcast {b.id} rejected", view)

    async def cancel(self, broadcast_id: int, *, person: Person) -> Decision:
        """Stop a broadcast: before approval, or its unsent rows during a send."""
        now = self.clock.now()
        stamp = now.isoformat()
        async with self.db.transaction() as tx:
            b = await self._get(tx, broadcast_id)
            if person.id != b.requested_by and not person.can_approve:
                raise Forbidden("only the requester or an approver can cancel a broadcast")
            cancelled = BroadcastState.CANCELLED
            if not await store.set_state(tx, b.id, cancelled, stamp=stamp, expect=_MOVABLE):
                view = await load_view(tx, b.id, self.config)
                return Decision(Outcome.REFUSED, f"broadcast {b.id} is already {b.state}", view)
            dropped = await outbox.cancel_queued(tx, b.id, stamp=stamp)
            await audit.record(
                tx,
                at=now,
                actor=person.id,
                action="broadcast.cancel",
                subject=f"b{b.id}",
                unsent=dropped,
            )
            view = await load_view(tx, b.id, self.config)
        await self.notifier.broadcast_updated(view)
        return Decision(Outcome.CANCELLED, f"broadcast {b.id} cancelled; {dropped} not sent", view)

    async def set_paused(
        self, broadcast_id: int, *, paused: bool, actor: str, reason: str = ""
    ) -> bool:
        """Pause a sending broadcast (e.g. on low balance) or resume it."""
        now = self.clock.now()
        stamp = now.isoformat()
        async with self.db.transaction() as tx:
            b = await self._get(tx, broadcast_id)
            if paused:
                moved = await store.set_state(
                    tx, b.id, BroadcastState.PAUSED, stamp=stamp, expect=LIVE_STATES
                )
                await store.set_fields(tx, b.id, stamp=stamp, paused_reason=reason)
            else:
                moved = await store.set_state(
                    tx, b.id, BroadcastState.SENDING, stamp=stamp, expect=(BroadcastState.PAUSED,)
                )
                await store.set_fields(tx, b.id, stamp=stamp, paused_reason=None)
            if moved:
                await audit.record(
                    tx,
                    at=now,
                    actor=actor,
                    action="broadcast.pause" if paused else "broadcast.resume",
                    subject=f"b{b.id}",
                    reason=reason,
                )
            view = await load_view(tx, b.id, self.config)
        if moved:
            self.wake()
            await self.notifier.broadcast_updated(view)
            if paused:
                await self.notifier.alert(f"broadcast {b.id} paused: {reason}")
        return moved

    async def resend_unknown(self, broadcast_id: int, *, person: Person) -> int:
        """Deliberately queue again the rows whose first send may or may not have gone out."""
        now = self.clock.now()
        async with self.db.transaction() as tx:
            b = await self._get(tx, broadcast_id)
            if person.id != b.requested_by and not person.can_approve:
                raise Forbidden("only the requester or an approver can resend")
            count = await outbox.requeue_unknown(tx, b.id, stamp=now.isoformat())
            if count:
                await store.set_state(
                    tx,
                    b.id,
                    BroadcastState.SENDING,
                    stamp=now.isoformat(),
                    expect=(BroadcastState.DONE, BroadcastState.SENDING),
                )
            await audit.record(
                tx,
                at=now,
                actor=person.id,
                action="broadcast.resend_unknown",
                subject=f"b{b.id}",
                rows=count,
            )
        self.wake()
        return count

    async def view(self, broadcast_id: int) -> BroadcastView:
        """The broadcast with its preview, counts and decisions."""
        async with self.db.read() as tx:
            await self._get(tx, broadcast_id)
            return await load_view(tx, broadcast_id, self.config)

    async def recent(self, *, limit: int = 10) -> list[BroadcastView]:
        """The newest broadcasts."""
        async with self.db.read() as tx:
            rows = await store.recent(tx, limit=limit)
            return [await load_view(tx, r.id, self.config) for r in rows]

    async def set_chat_ref(self, broadcast_id: int, platform: str, ref: dict[str, Any]) -> None:
        """Remember where a chat front shows this broadcast, for progress edits."""
        async with self.db.transaction() as tx:
            b = await self._get(tx, broadcast_id)
            refs = dict(b.chat_refs)
            refs[platform] = ref
            await store.set_fields(tx, b.id, stamp=self.clock.now().isoformat(), chat_refs=refs)

    async def expire_due(self) -> list[int]:
        """Expire broadcasts whose approval window has passed."""
        now = self.clock.now()
        async with self.db.transaction() as tx:
            ids = await store.expire_due(tx, now_iso=now.isoformat())
            for bid in ids:
                await audit.record(
                    tx, at=now, actor="system", action="broadcast.expire", subject=f"b{bid}"
                )
            views = [await load_view(tx, bid, self.config) for bid in ids]
        for view in views:
            await self.notifier.broadcast_updated(view)
        return ids

    @staticmethod
    async def _get(tx: Any, broadcast_id: int) -> store.BroadcastRow:
        b = await store.get(tx, broadcast_id)
        if b is None:
            raise NotFound(f"no broadcast {broadcast_id}")
        return b
