"""The outbox: one row per message and recipient, queued here and claimed in batches.

Claiming batches lives in storage.outbox.claim, settling rows in storage.outbox.settle and
read-only queries in storage.outbox.query; their names are re-exported here so callers
keep using `outbox.<name>`.
"""

from __future__ import annotations

from collections.abc import Iterable

from storage.audience import AudienceQuery
from storage.db import Tx
from storage.outbox.claim import (
    PRIORITY_BULK,
    PRIORITY_URGENT,
    Claimed,
    ClaimRequest,
    claim,
    claim_rows,
    mark_batch_sending,
    release,
    release_in,
    sendable_in,
    urgent_ready_in,
)
from storage.outbox.query import (
    BroadcastCounts,
    broadcast_counts,
    has_pending,
    last_broadcast_for,
    statuses,
)
from storage.outbox.settle import (
    FINAL_DELIVERY,
    SettlePlan,
    cancel_queued,
    mark_failed,
    mark_retry,
    mark_sent,
    mark_unknown,
    recover_in_flight,
    requeue_row,
    requeue_unknown,
    row_broadcast,
    set_rows_state,
    set_rows_state_in,
    settle_in,
)

__all__ = [
    "FINAL_DELIVERY",
    "PRIORITY_BULK",
    "PRIORITY_URGENT",
    "BroadcastCounts",
    "ClaimRequest",
    "Claimed",
    "SettlePlan",
    "broadcast_counts",
    "cancel_queued",
    "claim",
    "claim_rows",
    "has_pending",
    "insert_rows",
    "insert_single",
    "insert_static",
    "last_broadcast_for",
    "mark_batch_sending",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "mark_unknown",
    "recover_in_flight",
    "release",
    "release_in",
    "requeue_row",
    "requeue_unknown",
    "row_broadcast",
    "sendable_in",
    "set_rows_state",
    "set_rows_state_in",
    "settle_in",
    "statuses",
    "urgent_ready_in",
]


async def insert_static(
    tx: Tx,
    query: AudienceQuery,
    *,
    broadcast_id: int,
    segments: int,
    promo: bool,
    sender_id: str | None,
    not_before: float,
    stamp: str,
) -> int:
    """Queue one row per opted-in audience contact, all with the broadcast's body text."""
    sql, params = query.sql()
    return await tx.execute(
        "INSERT OR IGNORE INTO outbox (broadcast_id, contact_id, phone, text, segments, priority, "
        "promo, sender_id, next_attempt_at, created_at, updated_at) "
        "SELECT ?, c.id, c.phone, NULL, ?, ?, ?, ?, ?, ?, ? FROM contacts c "
        f"WHERE c.opted_out_at IS NULL AND c.id IN ({sql}) ORDER BY c.id",
        [broadcast_id, segments, PRIORITY_BULK, int(promo), sender_id, not_before, stamp, stamp]
        + params,
    )


async def insert_rows(
    tx: Tx,
    rows: Iterable[tuple[int, str, str, int]],
    *,
    broadcast_id: int,
    promo: bool,
    sender_id: str | None,
    not_before: float,
    stamp: str,
) -> None:
    """Queue personalised rows: (contact_id, phone, text, segments)."""
    await tx.executemany(
        "INSERT OR IGNORE INTO outbox (broadcast_id, contact_id, phone, text, segments, priority, "
        "promo, sender_id, next_attempt_at, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (broadcast_id, cid, phone, text, seg, PRIORITY_BULK, int(promo), sender_id)
            + (not_before, stamp, stamp)
            for cid, phone, text, seg in rows
        ],
    )


async def insert_single(
    tx: Tx,
    *,
    contact_id: int | None,
    phone: str,
    text: str,
    segments: int,
    stamp: str,
    ignore_optout: bool = False,
    inbound_id: int | None = None,
    sender_id: str | None = None,
) -> int | None:
    """Queue one urgent message (reply or one-to-one); None if this inbound was answered already."""
    cur_changes = await tx.execute(
        "INSERT OR IGNORE INTO outbox (contact_id, phone, text, segments, priority, ignore_optout, "
        "inbound_id, sender_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (contact_id, phone, text, segments, PRIORITY_URGENT, int(ignore_optout), inbound_id)
        + (sender_id, stamp, stamp),
    )
    if not cur_changes:
        return None
    return int(await tx.scalar("SELECT last_insert_rowid()"))
