"""Read-only questions about outbox rows: statuses, per-broadcast counts, what is pending."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from storage.db import Conn, Tx

logger = logging.getLogger(__name__)


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


async def broadcast_counts(tx: Tx, broadcast_id: int) -> dict[str, Any]:
    """Counts per state and delivery state, and the cost reported so far."""
    rows = await tx.fetchall(
        "SELECT state, delivery_status, COUNT(*) AS n, COALESCE(SUM(cost), 0) AS cost "
        "FROM outbox WHERE broadcast_id = ? GROUP BY state, delivery_status",
        (broadcast_id,),
    )
    counts: dict[str, Any] = {
        "queued": 0,
        "sending": 0,
        "sent": 0,
        "delivered": 0,
        "failed": 0,
        "unknown": 0,
        "skipped": 0,
        "cancelled": 0,
        "cost": 0.0,
    }
    for r in rows:
        state, delivery, n = r["state"], r["delivery_status"], r["n"]
        counts[state] = counts.get(state, 0) + n
        if delivery == "delivered":
            counts["delivered"] += n
        elif delivery in ("failed", "rejected", "expired"):
            counts["failed"] += n
        counts["cost"] += r["cost"]
    counts["cost"] = round(counts["cost"], 4)
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
        "AND state IN ('sent', 'unknown') ORDER BY id DESC LIMIT 1",
        (contact_id,),
    ).fetchone()
    return None if row is None else int(row[0])
