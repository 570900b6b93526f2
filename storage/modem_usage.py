"""Per-SIM daily usage of GSM modems: messages and segments sent, by organisation-local day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from storage.db import Database, Tx


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One modem's counts for one day."""

    modem_id: str
    day: str  # ISO date, organisation-local
    messages: int
    segments: int


async def load_day(tx: Tx, day: str) -> dict[str, tuple[int, int]]:
    """Messages and segments per modem on one day."""
    rows = await tx.fetchall(
        "SELECT modem_id, messages, segments FROM modem_usage WHERE day = ?", (day,)
    )
    return {r["modem_id"]: (int(r["messages"]), int(r["segments"])) for r in rows}


async def add(tx: Tx, modem_id: str, *, day: str, messages: int, segments: int) -> None:
    """Add to a modem's counts for a day, creating the row on first use."""
    await tx.execute(
        "INSERT INTO modem_usage (modem_id, day, messages, segments) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (modem_id, day) DO UPDATE SET messages = messages + excluded.messages, "
        "segments = segments + excluded.segments",
        (modem_id, day, messages, segments),
    )


async def since(tx: Tx, first_day: str) -> list[UsageRow]:
    """Every modem's counts from `first_day` on, newest day first."""
    rows = await tx.fetchall(
        "SELECT modem_id, day, messages, segments FROM modem_usage WHERE day >= ? "
        "ORDER BY day DESC, modem_id",
        (first_day,),
    )
    return [UsageRow(r["modem_id"], r["day"], int(r["messages"]), int(r["segments"])) for r in rows]


class SqlUsageLedger:
    """The modem pool's UsageLedger (gateway.modem.pool) on the SQLite database."""

    def __init__(self, db: Database):
        self.db = db

    async def load_today(self, day: date) -> dict[str, tuple[int, int]]:
        """Counts per modem for `day`."""
        async with self.db.read() as tx:
            return await load_day(tx, day.isoformat())

    async def add(self, modem_id: str, day: date, *, messages: int, segments: int) -> None:
        """Add to a modem's counts for `day`, in its own transaction."""
        async with self.db.transaction() as tx:
            await add(tx, modem_id, day=day.isoformat(), messages=messages, segments=segments)
