"""Writing journaled batch outcomes to their outbox rows, off the path between two requests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.clock import Clock
from bot.dispatch.settle import Settler
from storage import outbox
from storage.db import Database
from storage.outbox import Claimed, ClaimRequest, SettlePlan, journal, lanes
from storage.outbox.lanes import Outcome

logger = logging.getLogger(__name__)

APPLY_EVERY_SECONDS = 0.02

# (gateway, batch, plan, batch named as leaving next)
Entry = tuple[str, Claimed, SettlePlan, str | None]


class JournalApplier:
    """Keeps the outcomes journaled on the critical path and writes them in grouped steps."""

    def __init__(self, db: Database, *, settler: Settler, clock: Clock):
        self.db = db
        self.settler = settler
        self.clock = clock
        self.entries: list[Entry] = []
        self.broke: list[tuple[str, Claimed, SettlePlan]] = []  # effects still to apply
        self.ready = asyncio.Event()

    def add(self, entry: Entry) -> None:
        """Remember one journaled batch; the applier writes it soon."""
        self.entries.append(entry)
        self.ready.set()

    async def flush(self) -> None:
        """Write journaled batch outcomes to their rows, many batches in one transaction."""
        await self.flush_with(None)
        await self.after_broke()

    async def after_broke(self) -> None:
        """What follows a batch refused for low balance (the broadcast pauses), in order."""
        broke, self.broke = self.broke, []
        for name, batch, plan in broke:
            await self.settler.effects(plan, batch.broadcast_id, name)

    async def flush_with(self, claim: ClaimRequest | None) -> Claimed | None:
        """Flush, and claim a lane's next batch in the same transaction (a lane does this while
        its request is in flight: one commit, off the path between requests)."""
        entries, self.entries = self.entries, []
        if not entries:
            return None if claim is None else await lanes.claim(self.db, claim)
        stamp = self.clock.now().isoformat()
        result: Claimed | None = None
        try:
            if any(plan.blacklisted for _, _, plan, _ in entries):
                async with self.db.transaction() as tx:  # carrier opt-outs: the general path
                    for name, _batch, plan, _next_id in entries:
                        await self.settler.apply(tx, plan, gateway=name)
                    await journal.written(tx, [b.batch_id for _, b, _, _ in entries])
                    if claim is not None:
                        result = await outbox.claim(tx, claim)
            else:
                outcomes = [
                    Outcome(name, b.batch_id, plan.sent, plan.failed, plan.retry)
                    for name, b, plan, _ in entries
                ]
                clashes, result = await lanes.write_outcomes(
                    self.db, outcomes, stamp=stamp, claim=claim
                )
                for name, rid, pid in clashes:
                    self.settler.warn_clash(name, rid, pid)
        except BaseException:
            self.entries[:0] = entries  # still in the journal table; try again later
            raise
        # A broadcast with a batch just claimed is still pending: no need to ask.
        claimed = result.broadcast_id if result is not None and result.ids else None
        latest: dict[int | None, str] = {}
        for name, batch, plan, _ in entries:
            if plan.broke and claim is not None:  # as ever, a moment later (see run)
                self.broke.append((name, batch, plan))
                self.ready.set()
            elif plan.broke:
                await self.settler.effects(plan, batch.broadcast_id, name)
            latest[batch.broadcast_id] = name
        for broadcast_id in latest:
            pending = True if broadcast_id is not None and broadcast_id == claimed else None
            await self.settler.after_batch(broadcast_id, pending=pending)
        return result

    async def run(self, stopping: Callable[[], bool], busy: Callable[[], bool]) -> None:
        """Flush what busy lanes leave (they flush as they go), until stopped."""
        while not stopping():
            await self.ready.wait()
            self.ready.clear()
            await asyncio.sleep(APPLY_EVERY_SECONDS)  # let a few batches gather
            try:
                await self.after_broke()
                if busy():
                    continue  # a lane sending batches back to back flushes while in flight
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("applying the send journal failed; will retry")
                await asyncio.sleep(1.0)
                self.ready.set()
