"""A delivery report applied as one function in the database thread (Database.run): one hop.

A final delivery state never moves, and a repeated report changes nothing. Reports come one
per message sent, so on a busy day they are the most frequent transaction; holding the
database for one round trip instead of four lets the inbound batches and the dispatcher in
between.
"""

from __future__ import annotations

from storage.db import Conn, Database
from storage.outbox.settle import FINAL_DELIVERY


async def apply_delivery(
    db: Database, *, gateway: str, provider_id: str, status: str, provider_status: str, stamp: str
) -> tuple[int, int | None] | None:
    """Record a delivery report in a transaction of its own; None if the id is unknown,
    else (changed, broadcast_id)."""
    return await db.run(
        apply_delivery_in,
        gateway=gateway,
        provider_id=provider_id,
        status=status,
        provider_status=provider_status,
        stamp=stamp,
    )


def apply_delivery_in(
    conn: Conn, *, gateway: str, provider_id: str, status: str, provider_status: str, stamp: str
) -> tuple[int, int | None] | None:
    """Record a delivery report, in the database thread (see apply_delivery)."""
    row = conn.execute(
        "SELECT id, broadcast_id, delivery_status FROM outbox "
        "WHERE gateway = ? AND provider_id = ?",
        (gateway, provider_id),
    ).fetchone()
    if row is None:
        return None
    row_id, broadcast_id, current = row
    if current in FINAL_DELIVERY or current == status:
        return 0, broadcast_id
    conn.execute(
        "UPDATE outbox SET delivery_status = ?, provider_status = ?, updated_at = ? WHERE id = ?",
        (status, provider_status, stamp, row_id),
    )
    return 1, broadcast_id
