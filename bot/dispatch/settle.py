"""Settling a sent batch: sent, failed, retried with backoff, unknown; broadcast completion."""

from __future__ import annotations

import logging
import random
import re
from typing import Any

from bot.broadcasts.service import BroadcastService
from bot.capped import RecentSet, cap
from bot.deps import Deps, Service
from bot.views import load_view
from gateway.base import GatewayError, RecipientResult, SendOutcome
from storage import audit, outbox
from storage import broadcasts as bstore
from storage import contacts as cstore
from storage.outbox import Claimed, SettlePlan, journal
from storage.outbox.settle import Failed, Retry, Sent
from storage.states import LIVE_STATES, BroadcastState

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 3.0
TRACKED_BROADCASTS = 1024  # per-broadcast memory kept for at most this many broadcasts
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)")


def parse_cost(text: str) -> float | None:
    """The amount in a provider cost string like `KES 0.8000`."""
    match = _AMOUNT.search(text or "")
    return float(match.group(1)) if match else None


class Settler(Service):
    """Writes the outcome of each batch in one transaction, and reports progress."""

    def __init__(self, deps: Deps, *, broadcasts: BroadcastService, rng: random.Random):
        super().__init__(deps)
        self.broadcasts = broadcasts
        self.rng = rng
        self._last_progress: dict[int, float] = {}
        # Broadcasts moved to `sending` already, so later batches skip that write; forgotten
        # when the broadcast finishes, and bounded for those that never do (e.g. cancelled).
        self.marked: RecentSet[int] = RecentSet(TRACKED_BROADCASTS)

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next try: exponential with jitter, never under Retry-After."""
        d = self.config.dispatch
        delay = min(d.backoff_max_seconds, d.backoff_base_seconds * 2 ** max(0, attempts - 1))
        delay *= self.rng.uniform(0.5, 1.5)
        return float(max(delay, retry_after or 0.0))

    async def mark_sending(self, tx: Any, broadcast_id: int, *, stamp: str) -> None:
        """The first batch of an approved broadcast moves it to `sending`."""
        sending, approved = BroadcastState.SENDING, BroadcastState.APPROVED
        if await bstore.set_state(tx, broadcast_id, sending, stamp=stamp, expect=(approved,)):
            await audit.record(
                tx,
                at=self.clock.now(),
                actor="system",
                action="broadcast.state",
                subject=f"b{broadcast_id}",
                state=sending,
            )

    def plan(self, batch: Claimed, results: list[RecipientResult]) -> SettlePlan:
        """Decide each row's fate from the provider's per-recipient answers (no I/O)."""
        now = self.clock.now().timestamp()
        by_phone = {r.phone: r for r in results}
        sent: list[Sent] = []
        failed: list[Failed] = []
        retry: list[Retry | None] = []
        blacklisted: list[str] = []
        broke = False
        for rid, phone, attempts in zip(batch.ids, batch.phones, batch.attempts, strict=True):
            res = by_phone.get(phone)
            if res is None:
                reason = "missing from provider response"
                retry.append(self._retry_or_fail(rid, attempts, reason, now, failed))
                continue
            reason = res.reason or res.status
            if res.outcome is SendOutcome.ACCEPTED:
                sent.append((rid, res.provider_id, res.status, parse_cost(res.cost)))
            elif res.outcome in (SendOutcome.PERMANENT, SendOutcome.BLACKLISTED):
                failed.append((rid, f"{res.status_code or ''} {reason}".strip()))
                if res.outcome is SendOutcome.BLACKLISTED:
                    blacklisted.append(phone)
            elif res.outcome is SendOutcome.INSUFFICIENT_BALANCE:
                broke = True
                retry.append((rid, now + 60.0, "insufficient balance"))
            else:
                retry.append(self._retry_or_fail(rid, attempts, reason, now, failed))
        return SettlePlan(
            sent=sent,
            failed=failed,
            retry=[r for r in retry if r is not None],
            blacklisted=blacklisted,
            broke=broke,
        )

    async def apply(self, tx: Any, plan: SettlePlan, *, gateway: str) -> None:
        """Write a plan to the outbox rows and carrier opt-outs in `tx`."""
        now = self.clock.now()
        stamp = now.isoformat()
        for rid, pid in await outbox.mark_sent(tx, plan.sent, stamp=stamp):
            self.warn_clash(gateway, rid, pid)
        await outbox.mark_failed(tx, plan.failed, stamp=stamp)
        await outbox.mark_retry(tx, plan.retry, stamp=stamp)
        for phone in plan.blacklisted:
            if await cstore.set_opt_out(tx, phone, opted_out=True, source="carrier", now=now):
                await audit.record(
                    tx,
                    at=now,
                    actor=gateway,
                    action="contact.optout",
                    subject=phone,
                    source="carrier",
                    message="UserInBlacklist from the gateway",
                )

    def warn_clash(self, gateway: str, rid: int, pid: str) -> None:
        """Say that a provider id was refused because another message holds it."""
        logger.warning(
            "%s: message %d was accepted with provider id %s, which another message holds "
            "already; marked sent without it (delivery reports cannot be matched)",
            gateway,
            rid,
            pid,
        )

    async def effects(
        self,
        plan: SettlePlan,
        broadcast_id: int | None,
        gateway: str,
        *,
        pending: bool | None = None,
    ) -> None:
        """What follows a settled batch: pause on low balance, progress, completion."""
        broke = plan.broke
        if broke and broadcast_id is not None:
            await self.broadcasts.set_paused(
                broadcast_id,
                paused=True,
                actor="system",
                reason=f"{gateway}: insufficient balance; top up, then resume",
            )
        elif broke:
            await self.notifier.alert(f"{gateway}: insufficient balance; messages are waiting")
        await self.after_batch(broadcast_id, pending=pending)

    async def results(
        self, batch: Claimed, results: list[RecipientResult], *, gateway: str
    ) -> None:
        """Settle every row of a batch at once (when no other batch waits to go)."""
        plan = self.plan(batch, results)
        async with self.db.transaction() as tx:
            await self.apply(tx, plan, gateway=gateway)
        await self.effects(plan, batch.broadcast_id, gateway)

    async def apply_journal(self) -> int:
        """Write journaled batch outcomes to their rows; return how many were applied."""
        stamp = self.clock.now().isoformat()
        async with self.db.transaction() as tx:
            entries = await journal.pending(tx)
            for entry in entries:
                await self.apply(tx, entry.outcome, gateway=entry.gateway)
                if entry.next_batch_id:  # that request may have left: never resend it blindly
                    await outbox.mark_batch_sending(tx, entry.next_batch_id, stamp=stamp)
                await journal.remove(tx, entry.id)
        for entry in entries:
            await self.effects(entry.outcome, entry.broadcast_id, entry.gateway)
        return len(entries)

    def _retry_or_fail(
        self,
        rid: int,
        attempts: int,
        reason: str,
        now: float,
        failed: list[Failed],
        retry_after: float | None = None,
    ) -> Retry | None:
        if attempts >= self.config.dispatch.max_attempts:
            failed.append((rid, f"gave up after {attempts} attempts: {reason}"))
            return None
        return (rid, now + self.backoff(attempts, retry_after), reason)

    async def request_failed(
        self, batch: Claimed, exc: GatewayError, *, gateway: str, has_fallback: bool
    ) -> None:
        """The whole request failed and nothing in it was accepted."""
        now = self.clock.now()
        failed: list[Failed] = []
        retry: list[Retry | None] = []
        reason = f"{gateway}: {exc}"
        if exc.temporary:
            for rid, attempts in zip(batch.ids, batch.attempts, strict=True):
                if has_fallback:  # another gateway can take it at once
                    retry.append((rid, now.timestamp(), reason))
                else:
                    retry.append(
                        self._retry_or_fail(
                            rid, attempts, reason, now.timestamp(), failed, exc.retry_after
                        )
                    )
        else:  # configuration trouble (bad key, TLS): hold the rows, tell staff
            hold = now.timestamp() + self.config.dispatch.backoff_max_seconds
            retry = [(rid, hold, reason) for rid in batch.ids]
        async with self.db.transaction() as tx:
            await outbox.mark_retry(tx, [r for r in retry if r is not None], stamp=now.isoformat())
            await outbox.mark_failed(tx, failed, stamp=now.isoformat())
        if not exc.temporary:
            if batch.broadcast_id is not None:
                await self.broadcasts.set_paused(
                    batch.broadcast_id, paused=True, actor="system", reason=reason
                )
            else:
                await self.notifier.alert(reason)
        await self.after_batch(batch.broadcast_id)

    async def unknown(self, batch: Claimed, reason: str) -> None:
        """The request may have reached the provider: mark the rows unknown, never resend."""
        async with self.db.transaction() as tx:
            await outbox.mark_unknown(tx, batch.ids, reason, stamp=self.clock.now().isoformat())
        logger.warning(
            "%d message(s) in batch %s unknown: %s", len(batch.ids), batch.batch_id, reason
        )
        await self.after_batch(batch.broadcast_id)

    async def after_batch(self, broadcast_id: int | None, *, pending: bool | None = None) -> None:
        """Finish the broadcast when nothing is pending, else report progress now and then."""
        if broadcast_id is None:
            return
        if pending is None:
            async with self.db.read() as tx:
                pending = await outbox.has_pending(tx, broadcast_id)
        if not pending:
            await self._finish(broadcast_id)
        else:
            await self.progress(broadcast_id)

    async def progress(self, broadcast_id: int, *, force: bool = False) -> None:
        """Tell chat fronts the counts, at most every few seconds per broadcast."""
        if not getattr(self.notifier, "listening", True):
            return  # nobody watches: skip counting
        mono = self.clock.monotonic()
        if not force and mono - self._last_progress.get(broadcast_id, -1e9) < PROGRESS_SECONDS:
            return
        self._last_progress.pop(broadcast_id, None)
        self._last_progress[broadcast_id] = mono
        cap(self._last_progress, TRACKED_BROADCASTS)
        view = await self.broadcasts.view(broadcast_id)
        await self.notifier.progress(view)

    async def _finish(self, broadcast_id: int) -> None:
        now = self.clock.now()
        async with self.db.transaction() as tx:
            moved = await bstore.set_state(
                tx, broadcast_id, BroadcastState.DONE, stamp=now.isoformat(), expect=LIVE_STATES
            )
            if moved:
                await audit.record(
                    tx,
                    at=now,
                    actor="system",
                    action="broadcast.state",
                    subject=f"b{broadcast_id}",
                    state=BroadcastState.DONE,
                )
            view = await load_view(tx, broadcast_id, self.config) if moved else None
        self.marked.discard(broadcast_id)
        if view is not None:
            self._last_progress.pop(broadcast_id, None)
            await self.notifier.broadcast_updated(view)

    async def finish_done(self) -> None:
        """Close broadcasts with nothing left to send (e.g. every recipient opted out)."""
        async with self.db.read() as tx:
            ids = await bstore.sending_ids(tx)
            done = [bid for bid in ids if not await outbox.has_pending(tx, bid)]
        for bid in done:
            await self._finish(bid)
