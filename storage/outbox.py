"""The outbox: one row per message and recipient, claimed in batches and settled once."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from storage.audience import AudienceQuery
from storage.db import Tx

logger = logging.getLogger(__name__)

PRIORITY_URGENT = 0  # keyword replies, one-to-one
PRIORITY_BULK = 10
FINAL_DELIVERY = ("delivered", "failed", "rejected", "expired")


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


async def claim(
    tx: Tx,
    *,
    now: float,
    gateway: str,
    batch_id: str,
    limit: int,
    allow_promo: bool,
    stamp: str,
    state: str = "sending",
) -> Claimed | None:
    """Take the next ready batch (urgent first), skip opted-out rows, and mark it `state`.

    `sending` means the request may leave at once; `claimed` reserves the batch while another
    request is in flight, and `promote` turns it into `sending` just before it leaves.
    """
    promo_clause = "" if allow_promo else "AND o.promo = 0 "
    first = await tx.fetchone(
        "SELECT o.id, o.broadcast_id, o.text, o.sender_id FROM outbox o "
        "LEFT JOIN broadcasts b ON b.id = o.broadcast_id "
        "WHERE o.state = 'queued' AND o.next_attempt_at <= ? "
        f"{promo_clause}AND (o.broadcast_id IS NULL OR b.state IN ('approved', 'sending')) "
        "ORDER BY o.priority, o.next_attempt_at, o.id LIMIT 1",
        (now,),
    )
    if first is None:
        return None
    if first["broadcast_id"] is None:
        rows = await tx.fetchall(
            "SELECT o.id, o.phone, o.contact_id, o.attempts, o.segments, o.ignore_optout, "
            "o.text AS text, c.opted_out_at FROM outbox o "
            "LEFT JOIN contacts c ON c.id = o.contact_id WHERE o.id = ?",
            (first["id"],),
        )
    else:
        rows = await tx.fetchall(
            "SELECT o.id, o.phone, o.contact_id, o.attempts, o.segments, o.ignore_optout, "
            "COALESCE(o.text, b.body) AS text, c.opted_out_at FROM outbox o "
            "INDEXED BY outbox_queued JOIN broadcasts b ON b.id = o.broadcast_id "
            "LEFT JOIN contacts c ON c.id = o.contact_id "
            "WHERE o.broadcast_id = ? AND o.state = 'queued' AND o.next_attempt_at <= ? "
            "AND o.text IS ? AND o.sender_id IS ? ORDER BY o.id LIMIT ?",
            (first["broadcast_id"], now, first["text"], first["sender_id"], limit),
        )
    skipped = [r["id"] for r in rows if r["opted_out_at"] and not r["ignore_optout"]]
    if skipped:
        await _set_state(tx, skipped, "skipped", stamp, error="opted out before sending")
    take = [r for r in rows if not (r["opted_out_at"] and not r["ignore_optout"])]
    if not take:
        return Claimed(batch_id, first["broadcast_id"], "", None, (), (), (), (), 0)
    ids = [r["id"] for r in take]
    marks = ",".join("?" * len(ids))
    await tx.execute(
        f"UPDATE outbox SET state = ?, gateway = ?, batch_id = ?, attempts = attempts + 1, "
        f"updated_at = ? WHERE id IN ({marks})",
        [state, gateway, batch_id, stamp, *ids],
    )
    return Claimed(
        batch_id=batch_id,
        broadcast_id=first["broadcast_id"],
        text=take[0]["text"],
        sender_id=first["sender_id"],
        ids=tuple(ids),
        phones=tuple(r["phone"] for r in take),
        contact_ids=tuple(r["contact_id"] for r in take),
        attempts=tuple(r["attempts"] + 1 for r in take),
        segments=take[0]["segments"],
    )


async def sendable(tx: Tx, batch: Claimed, *, stamp: str) -> Claimed | None:
    """Check a `claimed` batch just before it leaves; None if nothing of it may go.

    Rows whose contact opted out meanwhile are skipped; a broadcast paused or cancelled
    meanwhile keeps its rows back. Only reads unless something changed.
    """
    rows = await tx.fetchall(
        "SELECT o.id FROM outbox o INDEXED BY outbox_claimed JOIN contacts c "
        "ON c.id = o.contact_id WHERE o.batch_id = ? AND o.state = 'claimed' "
        "AND o.ignore_optout = 0 AND c.opted_out_at IS NOT NULL",
        (batch.batch_id,),
    )
    drop = {r[0] for r in rows}
    if drop:
        await _set_state(tx, list(drop), "skipped", stamp, error="opted out before sending")
    if batch.broadcast_id is not None:
        state = await tx.scalar("SELECT state FROM broadcasts WHERE id = ?", (batch.broadcast_id,))
        if state not in ("approved", "sending"):
            await release(tx, batch.batch_id, stamp=stamp)
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


async def urgent_ready(tx: Tx, *, now: float) -> bool:
    """Whether an urgent (reply or one-to-one) row is ready to go."""
    return bool(
        await tx.scalar(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'queued' AND priority = ? "
            "AND next_attempt_at <= ?)",
            (PRIORITY_URGENT, now),
        )
    )


async def release(tx: Tx, batch_id: str, *, stamp: str) -> None:
    """Give a `claimed` batch back to the queue (its request never left)."""
    await tx.execute(
        "UPDATE outbox SET state = 'queued', attempts = attempts - 1, batch_id = NULL, "
        "updated_at = ? WHERE batch_id = ? AND state = 'claimed'",
        (stamp, batch_id),
    )


async def _set_state(
    tx: Tx, ids: Sequence[int], state: str, stamp: str, *, error: str | None = None
) -> None:
    marks = ",".join("?" * len(ids))
    await tx.execute(
        f"UPDATE outbox SET state = ?, error = ?, updated_at = ? WHERE id IN ({marks})",
        [state, error, stamp, *ids],
    )


async def mark_sent(tx: Tx, rows: Sequence[Sequence[Any]], *, stamp: str) -> None:
    """Rows accepted by the provider: (id, provider_id, provider_status, cost)."""
    if not rows:
        return
    await tx.executemany(
        "UPDATE outbox SET state = 'sent', provider_id = ?, provider_status = ?, cost = ?, "
        "error = NULL, updated_at = ? WHERE id = ?",
        [(pid, status, cost, stamp, rid) for rid, pid, status, cost in rows],
    )


async def mark_failed(tx: Tx, rows: Iterable[tuple[int, str]], *, stamp: str) -> None:
    """Rows that failed for good: (id, reason)."""
    rows = list(rows)
    if not rows:
        return
    await tx.executemany(
        "UPDATE outbox SET state = 'failed', error = ?, updated_at = ? WHERE id = ?",
        [(reason, stamp, rid) for rid, reason in rows],
    )


async def mark_retry(tx: Tx, rows: Iterable[tuple[int, float, str]], *, stamp: str) -> None:
    """Rows to try again later: (id, next_attempt_at, reason)."""
    rows = list(rows)
    if not rows:
        return
    await tx.executemany(
        "UPDATE outbox SET state = 'queued', next_attempt_at = ?, error = ?, batch_id = NULL, "
        "updated_at = ? WHERE id = ?",
        [(at, reason, stamp, rid) for rid, at, reason in rows],
    )


async def mark_unknown(tx: Tx, ids: Sequence[int], reason: str, *, stamp: str) -> None:
    """Rows whose request may have reached the provider: never re-sent automatically."""
    if ids:
        await _set_state(tx, ids, "unknown", stamp, error=reason)


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


async def requeue_unknown(tx: Tx, broadcast_id: int, *, stamp: str) -> int:
    """Deliberately queue a broadcast's `unknown` rows again; return how many."""
    return await tx.execute(
        "UPDATE outbox SET state = 'queued', next_attempt_at = 0, batch_id = NULL, "
        "error = 'resent on request', updated_at = ? WHERE broadcast_id = ? AND state = 'unknown'",
        (stamp, broadcast_id),
    )


async def requeue_row(tx: Tx, row_id: int, *, stamp: str) -> int:
    """Deliberately queue one failed or unknown one-to-one row again."""
    return await tx.execute(
        "UPDATE outbox SET state = 'queued', next_attempt_at = 0, batch_id = NULL, "
        "error = 'retried on request', updated_at = ? "
        "WHERE id = ? AND state IN ('failed', 'unknown')",
        (stamp, row_id),
    )


async def cancel_queued(tx: Tx, broadcast_id: int, *, stamp: str) -> int:
    """Cancel a broadcast's rows that have not been sent."""
    return await tx.execute(
        "UPDATE outbox SET state = 'cancelled', updated_at = ? "
        "WHERE broadcast_id = ? AND state IN ('queued', 'claimed')",
        (stamp, broadcast_id),
    )


async def apply_delivery(
    tx: Tx, *, gateway: str, provider_id: str, status: str, provider_status: str, stamp: str
) -> tuple[int, int | None] | None:
    """Record a delivery report; None if the id is unknown, else (changed, broadcast_id)."""
    row = await tx.fetchone(
        "SELECT id, broadcast_id, delivery_status FROM outbox "
        "WHERE gateway = ? AND provider_id = ?",
        (gateway, provider_id),
    )
    if row is None:
        return None
    if row["delivery_status"] in FINAL_DELIVERY or row["delivery_status"] == status:
        return 0, row["broadcast_id"]
    await tx.execute(
        "UPDATE outbox SET delivery_status = ?, provider_status = ?, updated_at = ? WHERE id = ?",
        (status, provider_status, stamp, row["id"]),
    )
    return 1, row["broadcast_id"]


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
    value = await tx.scalar(
        "SELECT broadcast_id FROM outbox WHERE contact_id = ? AND broadcast_id IS NOT NULL "
        "AND state IN ('sent', 'unknown') ORDER BY id DESC LIMIT 1",
        (contact_id,),
    )
    return None if value is None else int(value)
