"""A broadcast's change of state as one transaction: the row, the writes, then the view and
the notifications, in that order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.broadcasts.rules import Decision, Outcome
from bot.config.types import Config
from bot.errors import NotFound
from bot.notify import Notifier
from bot.views import BroadcastView, load_view
from storage import audit
from storage import broadcasts as store
from storage.db import Database, Tx


@dataclass(slots=True)
class Step:
    """A broadcast inside its transition: the row, the transaction and the time."""

    tx: Tx
    row: store.BroadcastRow
    now: datetime
    changed: bool = False  # tell the chat fronts afterwards
    wake: bool = False  # tell the dispatcher afterwards (first)
    ended: tuple[Outcome, str, bool] | None = None  # outcome, message, forbidden
    view: BroadcastView | None = None

    @property
    def stamp(self) -> str:
        """The time as stored."""
        return self.now.isoformat()

    @property
    def loaded(self) -> BroadcastView:
        """The view read at the end of the transaction."""
        assert self.view is not None, "read after the transition"
        return self.view

    async def audit(self, action: str, *, actor: str, **details: Any) -> None:
        """Record `action` on this broadcast in the audit log, in its transaction."""
        subject = f"b{self.row.id}"
        await audit.record(
            self.tx, at=self.now, actor=actor, action=action, subject=subject, **details
        )

    def end(self, outcome: Outcome, message: str, *, forbidden: bool = False) -> None:
        """Say how the transition ends, e.g. refused; what the body wrote still commits."""
        self.ended = (outcome, message, forbidden)

    def decision(self, outcome: Outcome, message: str) -> Decision:
        """The decision to answer: how it ended if `end` was called, else this one."""
        if self.ended is not None:
            outcome, message, forbidden = self.ended
            return Decision(outcome, message, self.loaded, forbidden=forbidden)
        return Decision(outcome, message, self.loaded)


@asynccontextmanager
async def transition(
    db: Database,
    broadcast_id: int,
    *,
    now: datetime,
    config: Config,
    notifier: Notifier,
    wake: Callable[[], None],
) -> AsyncIterator[Step]:
    """The body reads `s.row` and writes in `s.tx`; afterwards the view is read in the same
    transaction, then the dispatcher is woken (`s.wake`) and the chat fronts told
    (`s.changed`). An ending set with `s.end` (e.g. a refusal) commits what the body wrote."""
    async with db.transaction() as tx:
        s = Step(tx, await get_row(tx, broadcast_id), now)
        yield s
        s.view = await load_view(tx, s.row.id, config)
    if s.wake:
        wake()
    if s.changed:
        await notifier.broadcast_updated(s.loaded)


async def get_row(tx: Any, broadcast_id: int) -> store.BroadcastRow:
    """The broadcast's row, or NotFound."""
    b = await store.get(tx, broadcast_id)
    if b is None:
        raise NotFound(f"no broadcast {broadcast_id}")
    return b
