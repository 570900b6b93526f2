"""The inbox: stored messages that were not keywords, listed for staff and marked read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Conn, Tx


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def contact_labels_in(conn: Conn, contact_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The group labels of each of these contacts (in the database thread)."""
    if not contact_ids:
        return {}
    rows = conn.execute(
        "SELECT m.contact_id, g.label FROM memberships m JOIN groups g ON g.id = m.group_id "
        f"WHERE m.contact_id IN ({_marks(contact_ids)}) ORDER BY g.label",
        list(contact_ids),
    ).fetchall()
    labels: dict[int, list[str]] = {}
    for contact_id, label in rows:
        labels.setdefault(contact_id, []).append(label)
    return {cid: tuple(values) for cid, values in labels.items()}


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A stored message that was not a keyword, for `smsops inbox list`."""

    id: int
    gateway: str
    phone: str
    name: str
    text: str
    received_at: str
    broadcast_id: int | None
    opted_out: bool
    read_at: str | None
    incomplete: bool = False  # some parts of a long message never arrived

    def as_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "id": self.id,
            "gateway": self.gateway,
            "phone": self.phone,
            "name": self.name,
            "text": self.text,
            "received_at": self.received_at,
            "broadcast_id": self.broadcast_id,
            "opted_out": self.opted_out,
            "read_at": self.read_at,
            "incomplete": self.incomplete,
        }


async def inbox(tx: Tx, *, unread_only: bool = False, limit: int = 50) -> list[InboxRow]:
    """The newest inbox messages, optionally only those nobody has read."""
    unread = "AND i.read_at IS NULL " if unread_only else ""
    rows = await tx.fetchall(
        "SELECT i.id, i.gateway, i.sender, i.text, i.received_at, i.broadcast_id, i.read_at, "
        "i.incomplete, "
        "COALESCE(c.name, '') AS name, c.opted_out_at FROM inbound i "
        "LEFT JOIN contacts c ON c.id = i.contact_id "
        f"WHERE i.outcome = 'inbox' {unread}ORDER BY i.id DESC LIMIT ?",
        (limit,),
    )
    return [
        InboxRow(
            id=r["id"],
            gateway=r["gateway"],
            phone=r["sender"],
            name=r["name"],
            text=r["text"],
            received_at=r["received_at"],
            broadcast_id=r["broadcast_id"],
            opted_out=r["opted_out_at"] is not None,
            read_at=r["read_at"],
            incomplete=bool(r["incomplete"]),
        )
        for r in rows
    ]


async def mark_read(tx: Tx, inbound_id: int, *, stamp: str) -> bool | None:
    """Mark an inbox message read; None if there is no such message, False if read already."""
    rows = await tx.fetchall(
        "SELECT read_at FROM inbound WHERE id = ? AND outcome = 'inbox'", (inbound_id,)
    )
    if not rows:
        return None
    if rows[0]["read_at"] is not None:
        return False
    await tx.execute("UPDATE inbound SET read_at = ? WHERE id = ?", (stamp, inbound_id))
    return True
