"""The send journal: a batch's outcome written in one row on the critical path, applied later."""

from __future__ import annotations

import json
from dataclasses import dataclass

from storage.db import Conn, Tx
from storage.outbox.settle import SettlePlan

# An entry whose outcome is written to its rows keeps only its other duty: naming the batch
# that left after it, whose rows stay `claimed` until their own outcome is written.
APPLIED = json.dumps(SettlePlan().as_json())


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One settled batch not yet applied to its outbox rows."""

    id: int
    batch_id: str
    gateway: str
    broadcast_id: int | None
    outcome: SettlePlan
    next_batch_id: str | None


def add_in(
    conn: Conn,
    *,
    batch_id: str,
    gateway: str,
    broadcast_id: int | None,
    outcome: SettlePlan,
    next_batch_id: str | None,
    stamp: str,
) -> None:
    """Record a batch's outcome and the batch leaving next, in the database thread."""
    conn.execute(
        "INSERT INTO send_journal (batch_id, gateway, broadcast_id, outcome, next_batch_id, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (batch_id, gateway, broadcast_id, json.dumps(outcome.as_json()), next_batch_id, stamp),
    )


async def pending(tx: Tx) -> list[JournalEntry]:
    """Entries not yet applied, oldest first."""
    rows = await tx.fetchall("SELECT * FROM send_journal ORDER BY id")
    return [
        JournalEntry(
            r["id"],
            r["batch_id"],
            r["gateway"],
            r["broadcast_id"],
            SettlePlan.from_json(json.loads(r["outcome"])),
            r["next_batch_id"],
        )
        for r in rows
    ]


async def remove(tx: Tx, entry_id: int) -> None:
    """Forget an entry once its rows are written."""
    await tx.execute("DELETE FROM send_journal WHERE id = ?", (entry_id,))


async def written(tx: Tx, batch_ids: list[str]) -> None:
    """The outcomes of these batches are on their rows (see written_in)."""
    await tx.run(written_in, batch_ids)


def written_in(conn: Conn, batch_ids: list[str]) -> None:
    """The outcomes of these batches are on their rows: keep of their entries only the name of
    the batch that left next, while its rows are `claimed`; forget entries with nothing left."""
    marks = ",".join("?" * len(batch_ids))
    conn.execute(
        f"UPDATE send_journal SET outcome = ? WHERE batch_id IN ({marks})", [APPLIED, *batch_ids]
    )
    conn.execute(
        "DELETE FROM send_journal WHERE outcome = ? AND (next_batch_id IS NULL OR NOT EXISTS "
        "(SELECT 1 FROM outbox INDEXED BY outbox_claimed WHERE batch_id = next_batch_id "
        "AND state = 'claimed'))",
        (APPLIED,),
    )
