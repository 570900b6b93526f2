"""Taking batches from the outbox for a dispatch lane: claim, reserve, promote, release."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.broadcasts.schedule import in_quiet_hours
from bot.clock import Clock
from bot.config.types import Config
from bot.dispatch.journal_applier import JournalApplier
from bot.dispatch.settle import Settler
from gateway.base import Gateway
from storage import outbox
from storage.db import Database
from storage.outbox import Claimed, ClaimRequest, SettlePlan, lanes
from storage.outbox.lanes import Answer


class Claims:
    """The outbox side of a lane: which batch goes next, recorded before it leaves."""

    def __init__(
        self,
        db: Database,
        config: Config,
        *,
        settler: Settler,
        clock: Clock,
        new_id: Callable[[], str],
        caps: Mapping[str, int] | None = None,
    ):
        self.db = db
        self.config = config
        self.settler = settler
        self.clock = clock
        self.new_id = new_id
        self.caps = dict(caps or {})

    async def claim(
        self, name: str, gw: Gateway, *, state: str, applier: JournalApplier | None = None
    ) -> Claimed | None:
        """Take the next ready batch for gateway `name` and mark it `state`; None if none.

        With `applier`, journaled outcomes are written in the same transaction.
        """
        size = min(self.config.dispatch.batch_size, gw.max_recipients_per_request)
        size = max(1, min(size, self.caps.get(name, size)))
        now = self.clock.now()
        d = self.config.dispatch
        allow_promo = not in_quiet_hours(
            now, start=d.quiet_start, end=d.quiet_end, zone=self.config.timezone
        )
        stamp = now.isoformat()
        request = ClaimRequest(
            now=now.timestamp(),
            gateway=name,
            batch_id=self.new_id(),
            limit=size,
            allow_promo=allow_promo,
            stamp=stamp,
            state=state,
        )
        if applier is not None:
            batch = await applier.flush_with(request)
        else:
            batch = await lanes.claim(self.db, request)
        bid = batch.broadcast_id if batch is not None else None
        if bid is not None and batch is not None and batch.ids and bid not in self.settler.marked:
            async with self.db.transaction() as tx:
                await self.settler.mark_sending(tx, bid, stamp=stamp)
            self.settler.marked.add(bid)  # remembered only once committed
        if batch is not None and not batch.ids:  # every row in it had opted out
            await self.settler.after_batch(batch.broadcast_id)
        return batch

    async def promote(
        self,
        name: str,
        batch: Claimed,
        plan: SettlePlan,
        ahead: Claimed,
        *,
        urgent: bool,
    ) -> Claimed | None:
        """Journal `batch`'s answer and name the batch leaving next, in one transaction.

        That is `ahead` (re-checked for opt-outs and pauses), or, when `urgent`, a waiting
        reply or one-to-one message instead (then `ahead` goes back to the queue).
        """
        stamp = self.clock.now().isoformat()
        now = self.clock.now().timestamp()
        answer = Answer(batch.batch_id, name, batch.broadcast_id, plan)
        urgent_claim = None
        if urgent and ahead.broadcast_id is not None:
            urgent_claim = ClaimRequest(
                now=now,
                gateway=name,
                batch_id=self.new_id(),
                limit=1,
                allow_promo=True,
                stamp=stamp,
            )
        # one hop to the database: re-check `ahead` (or take an urgent row) and journal
        return await lanes.promote(self.db, ahead, answer, stamp=stamp, urgent=urgent_claim)

    async def release(self, batch: Claimed) -> None:
        """Give a reserved batch back to the queue (its request never left)."""
        async with self.db.transaction() as tx:
            await outbox.release(tx, batch.batch_id, stamp=self.clock.now().isoformat())
