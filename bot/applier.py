"""Writing journaled batch outcomes to their outbox rows, off the path between two requests."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.clock import Clock
from bot.settle import Settler
from storage import journal, outbox
from storage.db import Conn, Database
from storage.outbox import Claimed

logger = logging.getLogger(__name__)

APPLY_EVERY_SECONDS = 0.02

# (gateway, batch, plan, batch named as leaving next)
Entry = tuple[str, Claimed, dict[str, Any], str | None]


class JournalApplier:
    """Keeps the outcomes journaled on the critical path and writes them in grouped steps."""

    def __init__(self, db: Database, *, settler: Settler, clock: Clock):
        self.db = db
        self.settler = settler
        self.clock = clock
        self.entries: list[Entry] = []
        self.ready = asyncio.Event()

    def add(self, entry: Entry) -> None:
        """Remember one journaled batch; the applier writes it soon."""
        self.entries.append(entry)
        self.ready.set()

    async def flush(self) -> None:
        """Write journaled batch outcomes to their rows, many batches in one transaction."""
        entries, self.entries = self.entries, []
        if not entries:
            return
        stamp = self.clock.now().isoformat()
        try:
            if any(plan["blacklisted"] for _, _, plan, _ in entries):
                async with self.db.transaction() as tx:  # carrier opt-outs: the general path
                    for name, _batch, plan, next_id in entries:
                        await self.settler.apply(tx, plan, gateway=name)
                        if next_id:  # that request has left: its rows are `sending` from now on
                            await outbox.mark_batch_sending(tx, next_id, stamp=stamp)
                    await journal.remove_batches(tx, [b.batch_id for _, b, _, _ in entries])
            else:
                clashes = await self.db.run(_apply_in, entries=entries, stamp=stamp)
                for name, rid, pid in clashes:
                    self.settler.warn_clash(name, rid, pid)
        except BaseException:
            self.entries[:0] = entries  # still in the journal table; try again later
            raise
        latest: dict[int | None, str] = {}
        for name, batch, plan, _ in entries:
            if plan["broke"]:
                await self.settler.effects(plan, batch.broadcast_id, name)
            latest[batch.broadcast_id] = name
        for broadcast_id in latest:
            await self.settler.after_batch(broadcast_id)

    async def run(self, stopping: Any) -> None:
        """Flush whenever something was journaled, a few batches at a time, until stopped."""
        while not stopping():
            await self.ready.wait()
            self.ready.clear()
            await asyncio.sleep(APPLY_EVERY_SECONDS)  # let a few batches gather
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("applying the send journal failed; will retry")
                await asyncio.sleep(1.0)
                self.ready.set()


def _apply_in(conn: Conn, *, entries: list[Entry], stamp: str) -> list[tuple[str, int, str]]:
    clashes = []
    for name, _batch, plan, next_id in entries:
        for rid, pid in outbox.settle_in(
            conn, sent=plan["sent"], failed=plan["failed"], retry=plan["retry"], stamp=stamp
        ):
            clashes.append((name, rid, pid))
        if next_id:  # that request has left: its rows are `sending` from now on
            outbox.mark_batch_sending_in(conn, batch_id=next_id, stamp=stamp)
    journal.remove_batches_in(conn, [b.batch_id for _, b, _, _ in entries])
    return clashes
