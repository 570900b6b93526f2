"""The broadcast lifecycle: compose with a preview, four-eyes approval, cancel, pause, resend."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from bot.broadcasts.audience import Audience, parse_audience
from bot.broadcasts.compose import parse_template
from bot.broadcasts.planner import BroadcastPlanner
from bot.broadcasts.rules import (
    Decision,
    Outcome,
    approvals_needed,
    growth_note,
    refusal,
    resend_refusal,
    send_start,
    steer_refusal,
)
from bot.broadcasts.transition import Step, get_row, transition
from bot.config.types import Person
from bot.deps import Deps, Service
from bot.errors import Forbidden, UserError
from bot.validate import check_sender_id
from bot.views import BroadcastView, load_view
from storage import audit, outbox
from storage import broadcasts as store
from storage.states import LIVE_STATES, OPEN_STATES, BroadcastKind, BroadcastState

__all__ = ["BroadcastService", "Decision", "Outcome"]

KINDS = tuple(BroadcastKind)
_MOVABLE = (*OPEN_STATES, *LIVE_STATES, BroadcastState.PAUSED)  # what a cancel may stop


class BroadcastService(Service):
    """The one place that creates broadcasts and moves them through their states."""

    def __init__(self, deps: Deps, *, wake: Callable[[], None]):
        super().__init__(deps)
        self.wake = wake
        self.planner = BroadcastPlanner(self.config, clock=self.clock)

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
        """Record an approval; the approvals needed are decided on the audience as it is now,
        and the last one needed freezes the recipients and queues the send."""
        opened = False
        async with self._transition(broadcast_id) as s:
            b, now = s.row, s.now
            parsed = parse_audience(b.audience, self.phones)
            size = b.preview.recipients
            if refusal(b, person, now=now, needed=0) is None:  # open and not expired
                size = await self.planner.audience_size(s.tx, parsed, now=now)
            needed = max(b.approvals_needed, approvals_needed(size, self.config.dispatch))
            grew = "" if size == b.preview.recipients else f" ({growth_note(b.preview, size)})"
            refused = refusal(b, person, now=now, needed=needed)
            if refused:
                reason = refused[0] + grew if refused[1] else refused[0]
                await s.audit("broadcast.approve_refused", actor=person.id, reason=reason)
                s.end(Outcome.REFUSED, reason, forbidden=refused[1])
            elif not await store.add_decision(s.tx, b.id, person.id, "approve", stamp=s.stamp):
                s.end(Outcome.REFUSED, f"you already approved broadcast {b.id}")
            else:
                await s.audit("broadcast.approve", actor=person.id, recipients=size)
                decisions = await store.decisions(s.tx, b.id)
                approvals = sum(d["decision"] == "approve" for d in decisions)
                if approvals < max(needed, 1):
                    opened = await self._need_more(s, needed)
                    left = needed - approvals
                    s.end(Outcome.WAITING, f"approved; {left} more approver needed{grew}")
                else:
                    await self._queue(s, person, parsed)
        view = s.loaded
        if opened:
            await self.notifier.approval_requested(view)
        message = f"broadcast {b.id} approved: {view.recipients} recipients queued"
        if view.preview.recipients != view.recipients:
            message += f" ({growth_note(view.preview, view.recipients)})"
        return s.decision(Outcome.APPROVED, message)

    async def _need_more(self, s: Step, needed: int) -> bool:
        """The audience grew past a threshold: store the approvals it needs now; True if a
        draft became one awaiting approval (its approvers get a card)."""
        b = s.row
        if needed == b.approvals_needed:
            return False
        await store.set_fields(s.tx, b.id, stamp=s.stamp, approvals_needed=needed)
        s.changed = True
        awaiting = BroadcastState.AWAITING_APPROVAL
        return await store.set_state(
            s.tx, b.id, awaiting, stamp=s.stamp, expect=(BroadcastState.DRAFT,)
        )

    async def _queue(self, s: Step, person: Person, parsed: Audience) -> None:
        """The last approval: freeze the recipients into the outbox, mark approved."""
        b = s.row
        await self.planner.freeze(s.tx, b, parsed, now=s.now)
        await store.set_state(
            s.tx, b.id, BroadcastState.APPROVED, stamp=s.stamp, expect=OPEN_STATES
        )
        await s.audit("broadcast.state", actor=person.id, state=BroadcastState.APPROVED)
        s.changed = s.wake = True

    async def reject(self, broadcast_id: int, *, person: Person) -> Decision:
        """An approver turns a broadcast down; nothing is sent."""
        async with self._transition(broadcast_id) as s:
            b = s.row
            refused = refusal(b, person, now=s.now)
            if refused and not (refused[1] and person.id == b.requested_by):
                s.end(Outcome.REFUSED, refused[0], forbidden=refused[1])
            else:
                await store.add_decision(s.tx, b.id, person.id, "reject", stamp=s.stamp)
                rejected = BroadcastState.REJECTED
                await store.set_state(s.tx, b.id, rejected, stamp=s.stamp, expect=OPEN_STATES)
                await s.audit("broadcast.reject", actor=person.id)
                s.changed = True
        return s.decision(Outcome.REJECTED, f"broadcast {b.id} rejected")

    async def cancel(self, broadcast_id: int, *, person: Person) -> Decision:
        """Stop a broadcast: before approval, or its unsent rows during a send."""
        dropped = 0
        async with self._transition(broadcast_id) as s:
            b = s.row
            if person.id != b.requested_by and not person.can_approve:
                raise Forbidden("only the requester or an approver can cancel a broadcast")
            cancelled = BroadcastState.CANCELLED
            if not await store.set_state(s.tx, b.id, cancelled, stamp=s.stamp, expect=_MOVABLE):
                s.end(Outcome.REFUSED, f"broadcast {b.id} is already {b.state}")
            else:
                dropped = await outbox.cancel_queued(s.tx, b.id, stamp=s.stamp)
                await s.audit("broadcast.cancel", actor=person.id, unsent=dropped)
                s.changed = True
        return s.decision(Outcome.CANCELLED, f"broadcast {b.id} cancelled; {dropped} not sent")

    async def pause(self, broadcast_id: int, *, person: Person, paused: bool = True) -> bool:
        """A person pauses (or resumes) a broadcast: the requester or an approver only."""
        verb = "pause" if paused else "resume"
        async with self._transition(broadcast_id) as s:
            refused = steer_refusal(s.row, person, verb=verb)
            if refused:
                raise Forbidden(refused)
            moved = await self._set_paused(s, paused=paused, actor=person.id, reason="by staff")
        return await self._paused_told(s, moved=moved, paused=paused)

    async def set_paused(
        self, broadcast_id: int, *, paused: bool, actor: str, reason: str = ""
    ) -> bool:
        """The core itself pauses a sending broadcast (e.g. on low balance) or resumes it."""
        async with self._transition(broadcast_id) as s:
            moved = await self._set_paused(s, paused=paused, actor=actor, reason=reason)
        return await self._paused_told(s, moved=moved, paused=paused)

    async def _set_paused(self, s: Step, *, paused: bool, actor: str, reason: str) -> bool:
        """Move between sending and paused; a broadcast in any other state is left untouched."""
        b, tx, stamp = s.row, s.tx, s.stamp
        if paused:
            moved = await store.set_state(
                tx, b.id, BroadcastState.PAUSED, stamp=stamp, expect=LIVE_STATES
            )
        else:
            moved = await store.set_state(
                tx, b.id, BroadcastState.SENDING, stamp=stamp, expect=(BroadcastState.PAUSED,)
            )
        if moved:
            await store.set_fields(tx, b.id, stamp=stamp, paused_reason=reason if paused else None)
            action = "broadcast.pause" if paused else "broadcast.resume"
            await s.audit(action, actor=actor, reason=reason)
            s.changed = s.wake = True
        return moved

    async def _paused_told(self, s: Step, *, moved: bool, paused: bool) -> bool:
        """After a pause that moved: alert staff with its reason; whether it moved."""
        if moved and paused:
            await self.notifier.alert(f"broadcast {s.row.id} paused: {s.loaded.paused_reason}")
        return moved

    async def resend_unknown(
        self, broadcast_id: int, *, person: Person, row_id: int | None = None
    ) -> int:
        """Deliberately queue again the rows whose first send may or may not have gone out
        (only `row_id`, when given); the requester or an approver, while the broadcast lives."""
        async with self._transition(broadcast_id) as s:
            b = s.row
            refused = resend_refusal(b, person)
            if refused:
                raise Forbidden(refused[0]) if refused[1] else UserError(refused[0])
            count = await outbox.requeue_unknown(s.tx, b.id, stamp=s.stamp, row_id=row_id)
            if count:
                await store.set_state(
                    s.tx,
                    b.id,
                    BroadcastState.SENDING,
                    stamp=s.stamp,
                    expect=(BroadcastState.DONE, BroadcastState.SENDING),
                )
                await s.audit("broadcast.resend_unknown", actor=person.id, rows=count)
                s.wake = True
        return count

    def _transition(self, broadcast_id: int) -> AbstractAsyncContextManager[Step]:
        """One change of one broadcast in one transaction (see bot.broadcasts.transition)."""
        return transition(
            self.db,
            broadcast_id,
            now=self.clock.now(),
            config=self.config,
            notifier=self.notifier,
            wake=self.wake,
        )

    async def view(self, broadcast_id: int) -> BroadcastView:
        """The broadcast with its preview, counts and decisions."""
        async with self.db.read() as tx:
            await get_row(tx, broadcast_id)
            return await load_view(tx, broadcast_id, self.config)

    async def recent(self, *, limit: int = 10) -> list[BroadcastView]:
        """The newest broadcasts."""
        async with self.db.read() as tx:
            rows = await store.recent(tx, limit=limit)
            return [await load_view(tx, r.id, self.config) for r in rows]

    async def set_chat_ref(self, broadcast_id: int, platform: str, ref: dict[str, Any]) -> None:
        """Remember where a chat front shows this broadcast, for progress edits."""
        async with self.db.transaction() as tx:
            b = await get_row(tx, broadcast_id)
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
