"""Inbound SMS: the inbound table, the state a batch of messages needs, its writes, the inbox.

Every query here is one round trip to the database thread (fetchall / executemany), so a
batch of inbound messages costs a fixed number of round trips however many it holds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from storage.db import Tx
from storage.outbox import PRIORITY_URGENT

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContactRow:
    """What the keyword responder needs to know about a sender already in the address book."""

    id: int
    phone: str
    name: str
    opted_out: bool


@dataclass(frozen=True, slots=True)
class JoinableGroup:
    """A group recipients may JOIN and LEAVE by SMS."""

    id: int
    label: str
    kind: str
    name: str


@dataclass(slots=True)
class InboundRow:
    """One stored inbound message (ids are allocated by the caller inside its transaction)."""

    id: int
    gateway: str
    provider_id: str
    sender: str
    recipient: str
    text: str
    received_at: str
    stored_at: str
    contact_id: int | None
    action: str | None
    language: str | None
    outcome: str
    link_id: str | None = None
    broadcast_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReplyRow:
    """An automatic reply for the urgent lane, queued at most once per inbound message."""

    inbound_id: int
    contact_id: int | None
    phone: str
    text: str
    segments: int
    ignore_optout: bool
    sender_id: str | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An audit entry, written in the format of storage.audit.record."""

    actor: str
    action: str
    subject: str
    details: dict[str, Any]


@dataclass(slots=True)
class Writes:
    """Everything one batch of inbound messages changes, applied in one go."""

    new_contacts: list[tuple[int, str]] = field(default_factory=list)  # (id, phone)
    consent: list[tuple[int, bool, str]] = field(default_factory=list)  # (id, opted_out, source)
    joins: list[tuple[int, int]] = field(default_factory=list)  # (contact_id, group_id)
    leaves: list[tuple[int, int]] = field(default_factory=list)
    inbound: list[InboundRow] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)
    replies: list[ReplyRow] = field(default_factory=list)


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


async def known_ids(tx: Tx, gateway: str, provider_ids: Sequence[str]) -> dict[str, int]:
    """Provider id -> inbound row id for the messages of this gateway already stored."""
    if not provider_ids:
        return {}
    rows = await tx.fetchall(
        f"SELECT id, provider_id FROM inbound WHERE gateway = ? "
        f"AND provider_id IN ({_marks(provider_ids)})",
        [gateway, *provider_ids],
    )
    return {r["provider_id"]: r["id"] for r in rows}


async def contacts_by_phone(tx: Tx, phones: Sequence[str]) -> dict[str, ContactRow]:
    """The contacts among these E.164 numbers, with their opt-out state."""
    if not phones:
        return {}
    rows = await tx.fetchall(
        f"SELECT id, phone, name, opted_out_at FROM contacts WHERE phone IN ({_marks(phones)})",
        list(phones),
    )
    return {
        r["phone"]: ContactRow(r["id"], r["phone"], r["name"], r["opted_out_at"] is not None)
        for r in rows
    }


async def reply_counts(tx: Tx, phones: Sequence[str], *, since: str) -> dict[str, int]:
    """Automatic replies (outbox rows answering an inbound message) per number since a time."""
    if not phones:
        return {}
    rows = await tx.fetchall(
        "SELECT phone, COUNT(*) AS n FROM outbox WHERE inbound_id IS NOT NULL "
        f"AND phone IN ({_marks(phones)}) AND created_at >= ? GROUP BY phone",
        [*phones, since],
    )
    return {r["phone"]: r["n"] for r in rows}


async def next_ids(tx: Tx) -> tuple[int, int]:
    """The next free inbound and contact ids; only stable inside a write transaction."""
    rows = await tx.fetchall(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM inbound) + 1 AS inbound, "
        "(SELECT COALESCE(MAX(id), 0) FROM contacts) + 1 AS contact"
    )
    return int(rows[0]["inbound"]), int(rows[0]["contact"])


async def joinable_groups(tx: Tx) -> list[JoinableGroup]:
    """Every group recipients may join by SMS, by label."""
    rows = await tx.fetchall(
        "SELECT id, label, kind, name FROM groups WHERE joinable = 1 ORDER BY label"
    )
    return [JoinableGroup(r["id"], r["label"], r["kind"], r["name"]) for r in rows]


async def memberships(tx: Tx, contact_ids: Sequence[int]) -> set[tuple[int, int]]:
    """(contact_id, group_id) for every membership of these contacts."""
    if not contact_ids:
        return set()
    rows = await tx.fetchall(
        f"SELECT contact_id, group_id FROM memberships WHERE contact_id IN ({_marks(contact_ids)})",
        list(contact_ids),
    )
    return {(r["contact_id"], r["group_id"]) for r in rows}


async def contact_labels(tx: Tx, contact_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The group labels of each of these contacts."""
    if not contact_ids:
        return {}
    rows = await tx.fetchall(
        "SELECT m.contact_id, g.label FROM memberships m JOIN groups g ON g.id = m.group_id "
        f"WHERE m.contact_id IN ({_marks(contact_ids)}) ORDER BY g.label",
        list(contact_ids),
    )
    labels: dict[int, list[str]] = {}
    for r in rows:
        labels.setdefault(r["contact_id"], []).append(r["label"])
    return {cid: tuple(values) for cid, values in labels.items()}


async def apply(tx: Tx, writes: Writes, *, stamp: str) -> None:
    """Apply a batch's writes in dependency order, one statement per kind of change."""
    if writes.new_contacts:
        await tx.executemany(
            "INSERT INTO contacts (id, phone, created_at, updated_at) VALUES (?, ?, ?, ?)",
            [(cid, phone, stamp, stamp) for cid, phone in writes.new_contacts],
        )
    if writes.consent:  # in order: the last change to a contact wins
        await tx.executemany(
            "UPDATE contacts SET opted_out_at = ?, optout_source = ?, updated_at = ? WHERE id = ?",
            [
                (stamp if out else None, source if out else None, stamp, cid)
                for cid, out, source in writes.consent
            ],
        )
    if writes.joins:
        await tx.executemany(
            "INSERT OR IGNORE INTO memberships (contact_id, group_id, added_at, source) "
            "VALUES (?, ?, ?, 'sms')",
            [(cid, gid, stamp) for cid, gid in writes.joins],
        )
    if writes.leaves:
        await tx.executemany(
            "DELETE FROM memberships WHERE contact_id = ? AND group_id = ?", writes.leaves
        )
    if writes.inbound:
        await tx.executemany(
            "INSERT INTO inbound (id, gateway, provider_id, sender, recipient, text, received_at, "
            "stored_at, contact_id, broadcast_id, action, language, outcome, link_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (r.id, r.gateway, r.provider_id, r.sender, r.recipient, r.text, r.received_at)
                + (r.stored_at, r.contact_id, r.broadcast_id, r.action, r.language, r.outcome)
                + (r.link_id,)
                for r in writes.inbound
            ],
        )
    if writes.audit:
        await tx.executemany(
            "INSERT INTO audit_log (at, actor, action, subject, details) VALUES (?, ?, ?, ?, ?)",
            [
                (stamp, a.actor, a.action, a.subject)
                + (json.dumps(a.details, default=str, sort_keys=True),)
                for a in writes.audit
            ],
        )
    if writes.replies:
        await tx.executemany(
            "INSERT OR IGNORE INTO outbox (contact_id, phone, text, segments, priority, "
            "ignore_optout, inbound_id, sender_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (r.contact_id, r.phone, r.text, r.segments, PRIORITY_URGENT, int(r.ignore_optout))
                + (r.inbound_id, r.sender_id, stamp, stamp)
                for r in writes.replies
            ],
        )


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
        }


async def inbox(tx: Tx, *, unread_only: bool = False, limit: int = 50) -> list[InboxRow]:
    """The newest inbox messages, optionally only those nobody has read."""
    unread = "AND i.read_at IS NULL " if unread_only else ""
    rows = await tx.fetchall(
        "SELECT i.id, i.gateway, i.sender, i.text, i.received_at, i.broadcast_id, i.read_at, "
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


async def replies_to(tx: Tx, inbound_id: int) -> list[dict[str, Any]]:
    """The outbox rows that answer one inbound message (at most one)."""
    rows = await tx.fetchall(
        "SELECT id, phone, text, state, ignore_optout, priority FROM outbox WHERE inbound_id = ?",
        (inbound_id,),
    )
    return [dict(r) for r in rows]
