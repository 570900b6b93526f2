"""Taking outbox rows in batches: claim, check before leaving, release, and what is urgent.

Re-exported by storage.outbox, so callers keep using `outbox.<name>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Conn, Tx
from storage.outbox.settle import set_rows_state_in

PRIORITY_URGENT = 0  # keyword replies, one-to-one
PRIORITY_BULK = 10


@dataclass(frozen=True, slots=True)
class Claimed:
    """A batch of rows sharing one text, now in state `sending` on one gateway."""

    batch_id: str
    broadcast_id: int | None
    text: str
    sender_id: str | None
    ids: tuple[int, ...]
    phones: tuple[str, ...]
    contact_ids: tuple[int | None, ...]
    attempts: tuple[int, ...]
    segments: int


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """A lane's request for its next batch: up to `limit` ready rows for one gateway.

    `state` is `sending` when the request may leave at once, `claimed` to reserve the batch
    while another request is in flight (storage.outbox.lanes.promote makes it leave).
    """

    now: float
    gateway: str
    batch_id: str
    limit: int
    allow_promo: bool
    stamp: str
    state: str = "sending"


async def claim(tx: Tx, request: ClaimRequest) -> Claimed | None:
    """Take the next ready batch inside the caller's transaction (see claim_rows)."""
    return await tx.run(claim_rows, request)


def claim_rows(conn: Conn, request: ClaimRequest) -> Claimed | None:
    """Take the next ready batch (urgent first), skip opted-out rows, and mark it `state`."""
    now, gateway, batch_id = request.now, request.gateway, request.batch_id
    limit, stamp, state = request.limit, request.stamp, request.state
    promo_clause = "" if request.allow_promo else "AND o.promo = 0 "
    first = conn.execute(
        "SELECT o.id, o.broadcast_id, o.text, o.sender_id FROM outbox o "
        "LEFT JOIN broadcasts b ON b.id = o.broadcast_id "
        "WHERE o.state = 'queued' AND o.next_attempt_at <= ? "
        f"{promo_clause}AND (o.broadcast_id IS NULL OR b.state IN ('approved', 'sending')) "
        "ORDER BY o.priority, o.next_attempt_at, o.id LIMIT 1",
        (now,),
    ).fetchone()
    if first is None:
        return None
    first_id, broadcast_id, first_text, sender_id = first
    if broadcast_id is None:
        rows = conn.execute(
            "SELECT o.id, o.phone, o.contact_id, o.attempts, o.segments, o.ignore_optout, "
            "o.text AS text, c.opted_out_at FROM outbox o "
            "LEFT JOIN contacts c ON c.id = o.contact_id WHERE o.id = ?",
            (first_id,),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT o.id, o.phone, o.contact_id, o.attempts, o.segments, o.ignore_optout, "
            "COALESCE(o.text, b.body) AS text, c.opted_out_at FROM outbox o "
            "INDEXED BY outbox_queued JOIN broadcasts b ON b.id = o.broadcast_id "
            "LEFT JOIN contacts c ON c.id = o.contact_id "
            "WHERE o.broadcast_id = ? AND o.state = 'queued' AND o.next_attempt_at <= ? "
            "AND o.text IS ? AND o.sender_id IS ? ORDER BY o.id LIMIT ?",
            (broadcast_id, now, first_text, sender_id, limit),
        ).fetchall()
    skipped = [r[0] for r in rows if r[7] and not r[5]]
    if skipped:
        set_rows_state_in(conn, skipped, "skipped", stamp, error="opted out before sending")
        rows = [r for r in rows if not (r[7] and not r[5])]
    if not rows:
        return Claimed(batch_id, broadcast_id, "", None, (), (), (), (), 0)
    ids = [r[0] for r in rows]
    marks = ",".join("?" * len(ids))
    conn.execute(
        f"UPDATE outbox SET state = ?, gateway = ?, batch_id = ?, attempts = attempts + 1, "
        f"updated_at = ? WHERE id IN ({marks})",
        [state, gateway, batch_id, stamp, *ids],
    )
    return Claimed(
        batch_id=batch_id,
        broadcast_id=broadcast_id,
        text=rows[0][6],
        sender_id=sender_id,
        ids=tuple(ids),
        phones=tuple(r[1] for r in rows),
        contact_ids=tuple(r[2] for r in rows),
        attempts=tuple(r[3] + 1 for r in rows),
        segments=rows[0][4],
    )


def sendable_in(conn: Conn, *, batch: Claimed, stamp: str) -> Claimed | None:
    """Check a `claimed` batch just before it leaves; None if nothing of it may go.

    Rows whose contact opted out meanwhile are skipped; a broadcast paused or cancelled
    meanwhile keeps its rows back. Only reads unless something changed.
    """
    rows = conn.execute(
        "SELECT o.id FROM outbox o INDEXED BY outbox_claimed JOIN contacts c "
        "ON c.id = o.contact_id WHERE o.batch_id = ? AND o.state = 'claimed' "
        "AND o.ignore_optout = 0 AND c.opted_out_at IS NOT NULL",
        (batch.batch_id,),
    ).fetchall()
    drop = {r[0] for r in rows}
    if drop:
        set_rows_state_in(conn, list(drop), "skipped", stamp, error="opted out before sending")
    if batch.broadcast_id is not None:
        row = conn.execute(
            "SELECT state FROM broadcasts WHERE id = ?", (batch.broadcast_id,)
        ).fetchone()
        if row is None or row[0] not in ("approved", "sending"):
            release_in(conn, batch_id=batch.batch_id, stamp=stamp)
            return None
    if not drop:
        return batch
    keep = [i for i, rid in enumerate(batch.ids) if rid not in drop]
    if not keep:
        return None
    return Claimed(
        batch_id=batch.batch_id,
        broadcast_id=batch.broadcast_id,
        text=batch.text,
        sender_id=batch.sender_id,
        ids=tuple(batch.ids[i] for i in keep),
        phones=tuple(batch.phones[i] for i in keep),
        contact_ids=tuple(batch.contact_ids[i] for i in keep),
        attempts=tuple(batch.attempts[i] for i in keep),
        segments=batch.segments,
    )


async def mark_batch_sending(tx: Tx, batch_id: str, *, stamp: str) -> None:
    """Rows of a batch whose request has left (recorded in the journal) become `sending`."""
    await tx.execute(
        "UPDATE outbox SET state = 'sending', updated_at = ? WHERE batch_id = ? "
        "AND state = 'claimed'",
        (stamp, batch_id),
    )


def urgent_ready_in(conn: Conn, *, now: float) -> bool:
    """Whether an urgent (reply or one-to-one) row is ready to go, in the database thread."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'queued' AND priority = ? "
        "AND next_attempt_at <= ?)",
        (PRIORITY_URGENT, now),
    ).fetchone()
    return bool(row[0])


async def release(tx: Tx, batch_id: str, *, stamp: str) -> None:
    """Give a `claimed` batch back to the queue (its request never left)."""
    await tx.run(release_in, batch_id=batch_id, stamp=stamp)


def release_in(conn: Conn, *, batch_id: str, stamp: str) -> None:
    """Give a `claimed` batch back to the queue, in the database thread."""
    conn.execute(
        "UPDATE outbox SET state = 'queued', attempts = attempts - 1, batch_id = NULL, "
        "updated_at = ? WHERE batch_id = ? AND state = 'claimed'",
        (stamp, batch_id),
    )
