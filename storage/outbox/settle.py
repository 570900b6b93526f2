"""Settling outbox rows: sent, failed, retried, unknown, recovered, re-queued, delivered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage.db import Conn, Tx
from storage.states import OutboxState

FINAL_DELIVERY = ("delivered", "failed", "rejected", "expired")
CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
# WHERE clauses name row states as literals: SQLite uses a partial index (outbox_queued,
# outbox_claimed, outbox_inflight) only when the statement's WHERE names its literal state.

Sent = tuple[int, str | None, str, float | None]  # (row id, provider id, provider status, cost)
Failed = tuple[int, str]  # (row id, reason)
Retry = tuple[int, float, str]  # (row id, next attempt at, reason)


@dataclass(frozen=True, slots=True)
class SettlePlan:
    """What becomes of each row of a sent batch, decided from the provider's answer."""

    sent: list[Sent] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    retry: list[Retry] = field(default_factory=list)
    blacklisted: list[str] = field(default_factory=list)  # numbers the carrier blocks us at
    broke: bool = False  # the account ran out of credit

    def as_json(self) -> dict[str, Any]:
        """The plan as the send journal stores it."""
        return {
            "sent": self.sent,
            "failed": self.failed,
            "retry": self.retry,
            "blacklisted": self.blacklisted,
            "broke": self.broke,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SettlePlan:
        """A plan read back from the send journal (whose lists hold lists, not tuples)."""
        return cls(
            sent=[(r[0], r[1], r[2], r[3]) for r in data["sent"]],
            failed=[(r[0], r[1]) for r in data["failed"]],
            retry=[(r[0], r[1], r[2]) for r in data["retry"]],
            blacklisted=list(data["blacklisted"]),
            broke=bool(data["broke"]),
        )


async def set_rows_state(
    tx: Tx, ids: Sequence[int], state: OutboxState, stamp: str, *, error: str | None = None
) -> None:
    """Move rows to `state`, with an error text or None."""
    await tx.run(set_rows_state_in, ids, state, stamp, error=error)


def set_rows_state_in(
    conn: Conn, ids: Sequence[int], state: str, stamp: str, *, error: str | None = None
) -> None:
    """Move rows to `state`, with an error text or None, in the database thread."""
    marks = ",".join("?" * len(ids))
    conn.execute(
        f"UPDATE outbox SET state = ?, error = ?, updated_at = ? WHERE id IN ({marks})",
        [state, error, stamp, *ids],
    )


async def mark_sent(tx: Tx, rows: Sequence[Sequence[Any]], *, stamp: str) -> list[tuple[int, str]]:
    """Rows accepted by the provider (see mark_sent_in)."""
    if not rows:
        return []
    return await tx.run(mark_sent_in, rows, stamp=stamp)


def mark_sent_in(conn: Conn, rows: Sequence[Sequence[Any]], *, stamp: str) -> list[tuple[int, str]]:
    """Rows accepted by the provider: (id, provider_id, provider_status, cost).

    A provider id that another row of the same gateway holds already cannot be linked twice
    (the UNIQUE index): such a row is still `sent`, since it left, but without the id, which
    is named in its error. Returns those (row id, provider id) pairs; nothing is re-sent.
    """
    if not rows:
        return []
    before = conn.total_changes
    conn.executemany(
        "UPDATE OR IGNORE outbox SET state = 'sent', provider_id = ?, provider_status = ?, "
        "cost = ?, error = NULL, updated_at = ? WHERE id = ?",
        [(pid, status, cost, stamp, rid) for rid, pid, status, cost in rows],
    )
    if conn.total_changes - before == len(rows):
        return []  # every row changed: no provider id was refused
    wanted = {rid: pid for rid, pid, _, _ in rows if pid is not None}
    held: dict[int, str | None] = {}
    ids = list(wanted)
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        marks = ",".join("?" * len(part))
        for rid, pid in conn.execute(
            f"SELECT id, provider_id FROM outbox WHERE id IN ({marks})", part
        ).fetchall():
            held[rid] = pid
    clashes = [(rid, pid) for rid, pid in wanted.items() if rid in held and held[rid] != pid]
    if clashes:
        by_id = {rid: (status, cost) for rid, _, status, cost in rows}
        conn.executemany(
            "UPDATE outbox SET state = 'sent', provider_id = NULL, provider_status = ?, "
            "cost = ?, error = ?, updated_at = ? WHERE id = ?",
            [
                (
                    *by_id[rid],
                    f"sent; provider id {pid} is already linked to another message, "
                    "so delivery reports for it are not matched here",
                    stamp,
                    rid,
                )
                for rid, pid in clashes
            ],
        )
    return clashes


async def mark_failed(tx: Tx, rows: Iterable[tuple[int, str]], *, stamp: str) -> None:
    """Rows that failed for good: (id, reason)."""
    rows = list(rows)
    if rows:
        await tx.run(mark_failed_in, rows, stamp=stamp)


def mark_failed_in(conn: Conn, rows: Iterable[tuple[int, str]], *, stamp: str) -> None:
    """Rows that failed for good: (id, reason), in the database thread."""
    conn.executemany(
        "UPDATE outbox SET state = ?, error = ?, updated_at = ? WHERE id = ?",
        [(OutboxState.FAILED, reason, stamp, rid) for rid, reason in rows],
    )


async def mark_retry(tx: Tx, rows: Iterable[tuple[int, float, str]], *, stamp: str) -> None:
    """Rows to try again later: (id, next_attempt_at, reason)."""
    rows = list(rows)
    if rows:
        await tx.run(mark_retry_in, rows, stamp=stamp)


def mark_retry_in(conn: Conn, rows: Iterable[tuple[int, float, str]], *, stamp: str) -> None:
    """Rows to try again later: (id, next_attempt_at, reason), in the database thread."""
    conn.executemany(
        "UPDATE outbox SET state = 'queued', next_attempt_at = ?, error = ?, batch_id = NULL, "
        "updated_at = ? WHERE id = ?",
        [(at, reason, stamp, rid) for rid, at, reason in rows],
    )


def settle_in(
    conn: Conn,
    *,
    sent: Sequence[Sequence[Any]],
    failed: Iterable[tuple[int, str]],
    retry: Iterable[tuple[int, float, str]],
    stamp: str,
) -> list[tuple[int, str]]:
    """Write one batch's outcome (see mark_sent_in); return the refused provider ids."""
    clashes = mark_sent_in(conn, sent, stamp=stamp)
    if failed:
        mark_failed_in(conn, failed, stamp=stamp)
    if retry:
        mark_retry_in(conn, retry, stamp=stamp)
    return clashes


async def mark_unknown(tx: Tx, ids: Sequence[int], reason: str, *, stamp: str) -> None:
    """Rows whose request may have reached the provider: never re-sent automatically."""
    if ids:
        await set_rows_state(tx, ids, OutboxState.UNKNOWN, stamp, error=reason)


async def recover_in_flight(tx: Tx, *, stamp: str) -> list[tuple[str | None, str, int]]:
    """After a crash: `claimed` rows go back to the queue (their request never left) and rows
    left `sending` become `unknown`; return (gateway, batch, count) of the unknown ones.
    Apply the send journal first (and mark the batches it names as leaving `sending`), so
    settled batches are not mistaken for unknown ones."""
    await tx.execute(
        "UPDATE outbox SET state = 'queued', attempts = attempts - 1, batch_id = NULL, "
        "updated_at = ? WHERE state = 'claimed'",
        (stamp,),
    )
    rows = await tx.fetchall(
        "SELECT gateway, batch_id, COUNT(*) AS n FROM outbox WHERE state = 'sending' "
        "GROUP BY gateway, batch_id"
    )
    await tx.execute(
        "UPDATE outbox SET state = 'unknown', error = 'request in flight when the process stopped',"
        " updated_at = ? WHERE state = 'sending'",
        (stamp,),
    )
    return [(r["gateway"], r["batch_id"], r["n"]) for r in rows]


async def requeue_unknown(
    tx: Tx, broadcast_id: int, *, stamp: str, row_id: int | None = None
) -> int:
    """Deliberately queue a broadcast's `unknown` rows (or only `row_id`) again; how many."""
    only = "" if row_id is None else " AND id = ?"
    return await tx.execute(
        "UPDATE outbox SET state = 'queued', next_attempt_at = 0, batch_id = NULL, "
        "error = 'resent on request', updated_at = ? WHERE broadcast_id = ? AND state = 'unknown'"
        + only,
        (stamp, broadcast_id) if row_id is None else (stamp, broadcast_id, row_id),
    )


async def requeue_row(tx: Tx, row_id: int, *, stamp: str) -> int:
    """Deliberately queue one failed or unknown one-to-one row (not a broadcast's) again."""
    return await tx.execute(
        "UPDATE outbox SET state = 'queued', next_attempt_at = 0, batch_id = NULL, "
        "error = 'retried on request', updated_at = ? "
        "WHERE id = ? AND broadcast_id IS NULL AND state IN ('failed', 'unknown')",
        (stamp, row_id),
    )


async def row_broadcast(tx: Tx, row_id: int) -> int | None:
    """The broadcast an outbox row belongs to; None for a one-to-one row or no such row."""
    row = await tx.fetchone("SELECT broadcast_id FROM outbox WHERE id = ?", (row_id,))
    return None if row is None or row["broadcast_id"] is None else int(row["broadcast_id"])


async def cancel_queued(tx: Tx, broadcast_id: int, *, stamp: str) -> int:
    """Cancel a broadcast's rows that have not been sent (nor named in the journal as left)."""
    return await tx.execute(
        "UPDATE outbox SET state = 'cancelled', updated_at = ? "
        "WHERE broadcast_id = ? AND (state = 'queued' OR (state = 'claimed' AND batch_id NOT IN "
        "(SELECT next_batch_id FROM send_journal WHERE next_batch_id IS NOT NULL)))",
        (stamp, broadcast_id),
    )
