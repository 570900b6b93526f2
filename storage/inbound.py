"""Inbound SMS: the inbound table, the state a batch of messages needs, its writes, the inbox.

A batch's whole transaction (read the state, decide, write) runs as one function in the
database thread (`commit_batch`): one round trip through the event loop
per batch however many messages it holds, and few statements (each kind of write is one
multi-row statement).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from storage.db import Conn, Database
from storage.inbox import contact_labels_in
from storage.outbox import PRIORITY_URGENT
from storage.outbox.query import last_broadcast_in
from storage.states import InboundOutcome

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ContactRow:
    """What the keyword responder needs to know about a sender already in the address book."""

    id: int
    phone: str
    name: str
    opted_out: bool


@dataclass(frozen=True, slots=True)
class GroupRow:
    """A group a JOIN or LEAVE may name: joinable ones, and those a sender is already in."""

    id: int
    label: str
    kind: str
    name: str
    joinable: bool = True


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
    incomplete: bool = False  # parts of a long message never came


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


@dataclass(slots=True)
class BatchState:
    """What the stored data says about the ids and senders of one batch."""

    known: dict[tuple[str, str], int]  # (gateway, provider_id) -> inbound id
    contacts: dict[str, ContactRow]
    reply_counts: dict[str, int]
    next_inbound: int
    next_contact: int
    groups: list[GroupRow] = field(default_factory=list)  # by label
    memberships: set[tuple[int, int]] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Batch(Generic[T]):
    """One batch of inbound messages to commit: what to read for it, and the caller's rules.

    `decide` turns the state read into the batch's writes (the caller's rules, pure).
    """

    ids: Sequence[tuple[str, str]]  # (gateway, provider_id)
    phones: Sequence[str]
    since: str  # automatic replies since then count towards the loop guard
    with_groups: bool
    stamp: str
    decide: Callable[[BatchState], tuple[T, Writes]]


Committed = tuple[T, BatchState, dict[int, tuple[str, ...]]]


async def commit_batch(db: Database, take: Callable[[], Batch[T] | None]) -> Committed[T] | None:
    """Commit one batch as one transaction and one hop to the database thread.

    `take` runs in that thread when the batch's turn comes (so the batch holds every message
    that arrived meanwhile) and names the batch, or None if there is nothing to do. Inbox
    rows get the last broadcast their sender was sent, and the group labels of inbox senders
    are read for the staff notification. Returns decide's result, the state and those labels.
    """
    return await db.run(_commit, take)


def _commit(conn: Conn, take: Callable[[], Batch[T] | None]) -> Committed[T] | None:
    batch = take()
    if batch is None:
        return None
    state = load_state(
        conn,
        ids=batch.ids,
        phones=batch.phones,
        since=batch.since,
        with_groups=batch.with_groups,
    )
    result, writes = batch.decide(state)
    inbox = [
        r for r in writes.inbound if r.outcome == InboundOutcome.INBOX and r.contact_id is not None
    ]
    for row in inbox:  # so that replies count towards the broadcast they answer
        if row.contact_id is not None:
            row.broadcast_id = last_broadcast_in(conn, row.contact_id)
    apply(conn, writes, stamp=batch.stamp)
    senders = list({r.contact_id for r in inbox if r.contact_id is not None})
    return result, state, contact_labels_in(conn, senders)


def load_state(
    conn: Conn,
    *,
    ids: Sequence[tuple[str, str]],
    phones: Sequence[str],
    since: str,
    with_groups: bool,
) -> BatchState:
    """Everything a batch is decided on, read as one row of JSON arrays (one statement).

    Which (gateway, provider_id) pairs are stored already, the senders' contacts, their
    automatic replies since `since` (the loop guard), the next free ids, and for JOIN/LEAVE
    the joinable groups, every group a sender is in (any group may be LEFT), and the senders'
    memberships.
    """
    groups = _GROUP_STATE if with_groups else "NULL, NULL"
    row = conn.execute(
        "SELECT (SELECT json_group_array(json_array(i.gateway, i.provider_id, i.id)) "
        "FROM json_each(?1) j JOIN inbound i ON i.gateway = json_extract(j.value, '$[0]') "
        "AND i.provider_id = json_extract(j.value, '$[1]')), "
        "(SELECT json_group_array(json_array(c.phone, c.name, c.id, "
        "c.opted_out_at IS NOT NULL)) FROM json_each(?2) j JOIN contacts c "
        "ON c.phone = j.value), "
        "(SELECT json_group_array(json_array(phone, n)) FROM (SELECT o.phone, COUNT(*) AS n "
        "FROM json_each(?2) j JOIN outbox o ON o.phone = j.value "
        "AND o.inbound_id IS NOT NULL AND o.created_at >= ?3 GROUP BY o.phone)), "
        "(SELECT COALESCE(MAX(id), 0) + 1 FROM inbound), "
        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM contacts), {groups}",
        (json.dumps(ids), json.dumps(phones), since),
    ).fetchone()
    state = BatchState(
        known={(g, pid): iid for g, pid, iid in json.loads(row[0])},
        contacts={
            phone: ContactRow(cid, phone, name, bool(out))
            for phone, name, cid, out in json.loads(row[1])
        },
        reply_counts=dict(json.loads(row[2])),
        next_inbound=row[3],
        next_contact=row[4],
    )
    if with_groups:
        for gid, label, joinable in json.loads(row[5]):
            kind, _, name = label.partition(":")
            state.groups.append(GroupRow(gid, label, kind, name, bool(joinable)))
        state.memberships = {(cid, gid) for cid, gid in json.loads(row[6])}
    return state


_MEMBERSHIPS = (
    "FROM json_each(?2) j JOIN contacts c ON c.phone = j.value "
    "JOIN memberships m ON m.contact_id = c.id"
)
_GROUP_STATE = (
    "(SELECT json_group_array(json_array(id, label, joinable)) FROM (SELECT id, label, joinable "
    f"FROM groups WHERE joinable = 1 OR id IN (SELECT m.group_id {_MEMBERSHIPS}) ORDER BY label)), "
    f"(SELECT json_group_array(json_array(m.contact_id, m.group_id)) {_MEMBERSHIPS})"
)


# The same text as json.dumps(details, default=str, sort_keys=True), without a new encoder
# for every row.
_details = json.JSONEncoder(default=str, sort_keys=True).encode

MAX_PARAMS = 999  # SQLite's historical limit on bound parameters per statement


def _insert(conn: Conn, head: str, rows: Sequence[Sequence[Any]]) -> None:
    """`head VALUES (...), (...)`: many rows per statement, so one step inserts them."""
    width = len(rows[0])
    per = MAX_PARAMS // width
    one = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        params = [value for row in chunk for value in row]
        conn.execute(f"{head} VALUES {', '.join([one] * len(chunk))}", params)


def apply(conn: Conn, writes: Writes, *, stamp: str) -> None:
    """Apply a batch's writes, new contacts first; each kind of change is one multi-row INSERT."""
    if writes.new_contacts:
        contacts = [(cid, phone, stamp, stamp) for cid, phone in writes.new_contacts]
        _insert(conn, _INSERT_CONTACTS, contacts)
    final: dict[int, tuple[bool, str]] = {}
    for cid, out, source in writes.consent:  # in order: the last change to a contact wins
        final[cid] = (out, source)
    for out, source in set(final.values()):
        ids = [cid for cid, state in final.items() if state == (out, source)]
        opted_at, why = (stamp, source) if out else (None, None)
        for start in range(0, len(ids), MAX_PARAMS - 3):
            chunk = ids[start : start + MAX_PARAMS - 3]
            sql = f"{_SET_CONSENT} ({', '.join('?' * len(chunk))})"
            conn.execute(sql, [opted_at, why, stamp, *chunk])
    if writes.joins:
        _insert(conn, _JOIN, [(cid, gid, stamp, "sms") for cid, gid in writes.joins])
    for cid, gid in writes.leaves:
        conn.execute(_LEAVE, (cid, gid))
    if writes.inbound:
        inbound = [
            (r.id, r.gateway, r.provider_id, r.sender, r.recipient, r.text, r.received_at)
            + (r.stored_at, r.contact_id, r.broadcast_id, r.action, r.language, r.outcome)
            + (r.link_id, int(r.incomplete))
            for r in writes.inbound
        ]
        _insert(conn, _INSERT_INBOUND, inbound)
    if writes.audit:
        audit = [(stamp, a.actor, a.action, a.subject, _details(a.details)) for a in writes.audit]
        _insert(conn, _INSERT_AUDIT, audit)
    if writes.replies:
        replies = [
            (r.contact_id, r.phone, r.text, r.segments, PRIORITY_URGENT, int(r.ignore_optout))
            + (r.inbound_id, r.sender_id, stamp, stamp)
            for r in writes.replies
        ]
        _insert(conn, _INSERT_REPLIES, replies)


_INSERT_CONTACTS = "INSERT INTO contacts (id, phone, created_at, updated_at)"
_SET_CONSENT = "UPDATE contacts SET opted_out_at = ?, optout_source = ?, updated_at = ? WHERE id IN"
_JOIN = "INSERT OR IGNORE INTO memberships (contact_id, group_id, added_at, source)"
_LEAVE = "DELETE FROM memberships WHERE contact_id = ? AND group_id = ?"
_INSERT_INBOUND = (
    "INSERT INTO inbound (id, gateway, provider_id, sender, recipient, text, received_at, "
    "stored_at, contact_id, broadcast_id, action, language, outcome, link_id, incomplete)"
)
# The same row format as storage.audit.record.
_INSERT_AUDIT = "INSERT INTO audit_log (at, actor, action, subject, details)"
# Replies go to the urgent lane; UNIQUE(inbound_id) queues at most one per inbound message.
_INSERT_REPLIES = (
    "INSERT OR IGNORE INTO outbox (contact_id, phone, text, segments, priority, ignore_optout, "
    "inbound_id, sender_id, created_at, updated_at)"
)
