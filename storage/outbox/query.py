"""Read-only questions about outbox rows: statuses, per-broadcast counts, what is pending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Conn, Tx
from storage.states import OutboxState


async def statuses(tx: Tx, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Current state of some rows, for the REST API."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = await tx.fetchall(
        "SELECT id, phone, state, delivery_status, provider_id, error, attempts, cost "
        f"FROM outbox WHERE id IN ({marks}) ORDER BY id",
        list(ids),
    )
    return [dict(r) for r in rows]


@dataclass(slots=True)
class BroadcastCounts:
    """A broadcast's rows per state, those delivered or failed by report, and the cost so far.

    `sent` counts every row that left; `delivered` and `failed` add what delivery reports
    said of them (a sent row a report failed is in both `sent` and `failed`).
    """

    queued: int = 0
    sending: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    cancelled: int = 0
    cost: float = 0.0
    claimed: int = 0  # in the JSON only when some rows are claimed

    def as_json(self) -> dict[str, Any]:
        """The counts object of the REST API and --json output."""
        data: dict[str, Any] = {
            "queued": self.queued,
            "sending": self.sending,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "unknown": self.unknown,
            "skipped": self.skipped,
            "cancelled": self.cancelled,
            "cost": self.cost,
        }
        if self.claimed:
            data["claimed"] = self.claimed
        return data


_FAILED_DELIVERY = ("failed", "rejected", "expired")


async def broadcast_counts(tx: Tx, broadcast_id: int) -> BroadcastCounts:
    """Counts per state and delivery state, and the cost reported so far."""
    rows = await tx.fetchall(
        "SELECT state, delivery_status, COUNT(*) AS n, COALESCE(SUM(cost), 0) AS cost "
        "FROM outbox WHERE broadcast_id = ? GROUP BY state, delivery_status",
        (broadcast_id,),
    )
    counts = BroadcastCounts()
    cost = 0.0
    for r in rows:
        field = OutboxState(r["state"]).value  # each row state has its field
        delivery, n = r["delivery_status"], r["n"]
        setattr(counts, field, getattr(counts, field) + n)
        if delivery == "delivered":
            counts.delivered += n
        elif delivery in _FAILED_DELIVERY:
            counts.failed += n
        cost += r["cost"]
    counts.cost = round(cost, 4)
    return counts


async def has_pending(tx: Tx, broadcast_id: int) -> bool:
    """Whether any row of a broadcast is still queued or in flight (two index seeks)."""
    return bool(
        await tx.scalar(
            "SELECT EXISTS (SELECT 1 FROM outbox INDEXED BY outbox_queued "
            "WHERE state = 'queued' AND broadcast_id = ?) "
            "OR EXISTS (SELECT 1 FROM outbox INDEXED BY outbox_inflight "
            "WHERE state IN ('claimed', 'sending') AND broadcast_id = ?)",
            (broadcast_id, broadcast_id),
        )
    )


async def last_broadcast_for(tx: Tx, contact_id: int) -> int | None:
    """The last broadcast that was sent to this contact."""
    return await tx.run(last_broadcast_in, contact_id)


def last_broadcast_in(conn: Conn, contact_id: int) -> int | None:
    """The last broadcast that was sent to this contact, in the database thread."""
    row = conn.execute(
        "SELECT broadcast_id FROM outbox WHERE contact_id = ? AND broadcast_id IS NOT NULL "
        "AND state IN (?, ?) ORDER BY id DESC LIMIT 1",
        (contact_id, OutboxState.SENT, OutboxState.UNKNOWN),
    ).fetchone()
    return None if row is None else int(row[0])
