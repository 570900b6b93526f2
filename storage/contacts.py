"""Contacts, groups and memberships: every SQL statement about who is in the address book."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.db import Tx


@dataclass(slots=True)
class ContactIn:
    """One contact to store: an E.164 phone, names, extra fields and group labels."""

    phone: str
    name: str = ""
    first_name: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Contact:
    """A stored contact."""

    id: int
    phone: str
    name: str
    first_name: str
    extra: dict[str, Any]
    opted_out_at: str | None
    optout_source: str | None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """A stored group with its member count."""

    id: int
    label: str
    kind: str
    name: str
    joinable: bool
    members: int = 0


def _row_contact(r: Any, groups: tuple[str, ...] = ()) -> Contact:
    return Contact(
        id=r["id"],
        phone=r["phone"],
        name=r["name"],
        first_name=r["first_name"],
        extra=json.loads(r["extra"]),
        opted_out_at=r["opted_out_at"],
        optout_source=r["optout_source"],
        groups=groups,
    )


async def upsert_batch(
    tx: Tx, rows: Sequence[ContactIn], *, now: datetime, source: str
) -> list[str]:
    """Insert or merge contacts and memberships; return 'imported'|'updated'|'unchanged' per row."""
    stamp = now.isoformat()
    phones = list(dict.fromkeys(r.phone for r in rows))
    existing: dict[str, dict[str, Any]] = {}
    for r in await tx.fetchall(
        "SELECT id, phone, name, first_name, extra FROM contacts "
        "WHERE phone IN (SELECT value FROM json_each(?))",
        (json.dumps(phones),),
    ):
        existing[r["phone"]] = {
            "id": r["id"],
            "name": r["name"],
            "first_name": r["first_name"],
            "extra": json.loads(r["extra"]),
            "new": False,
            "dirty": False,
        }
    results: list[str] = []
    for row in rows:
        cur = existing.get(row.phone)
        if cur is None:
            existing[row.phone] = {
                "id": None,
                "name": row.name,
                "first_name": row.first_name,
                "extra": dict(row.extra),
                "new": True,
                "dirty": True,
            }
            results.append("imported")
            continue
        changed = False
        for key in ("name", "first_name"):
            value = getattr(row, key)
            if value and value != cur[key]:
                cur[key] = value
                changed = True
        for k, v in row.extra.items():
            if v and cur["extra"].get(k) != v:
                cur["extra"][k] = v
                changed = True
        if changed:
            cur["dirty"] = True
        results.append("updated" if changed else "unchanged")
    new = [(p, c) for p, c in existing.items() if c["new"]]
    if new:
        # Inside this write transaction nobody else inserts, so ids can be assigned here,
        # which saves reading them back.
        next_id = int(await tx.scalar("SELECT COALESCE(MAX(id), 0) FROM contacts")) + 1
        for offset, (_, c) in enumerate(new):
            c["id"] = next_id + offset
        # One statement per batch: SQLite unpacks the rows from JSON in C.
        await tx.execute(
            "INSERT INTO contacts (id, phone, name, first_name, extra, created_at, updated_at) "
            "SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), "
            "json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'), "
            "json_extract(j.value, '$[4]'), ?, ? FROM json_each(?) j",
            (
                stamp,
                stamp,
                json.dumps([[c["id"], p, c["name"], c["first_name"], c["extra"]] for p, c in new]),
            ),
        )
    await tx.executemany(
        "UPDATE contacts SET name = ?, first_name = ?, extra = ?, updated_at = ? WHERE id = ?",
        [
            (c["name"], c["first_name"], json.dumps(c["extra"]), stamp, c["id"])
            for c in existing.values()
            if c["dirty"] and not c["new"]
        ],
    )
    wanted = {(row.phone, label) for row in rows for label in row.groups}
    if wanted:
        group_ids = await ensure_groups(tx, {label for _, label in wanted}, now=now)
        old_ids = [c["id"] for c in existing.values() if not c["new"]]
        have: set[tuple[int, int]] = set()
        for chunk in _chunks(old_ids, 900):
            marks = ",".join("?" * len(chunk))
            for r in await tx.fetchall(
                f"SELECT contact_id, group_id FROM memberships WHERE contact_id IN ({marks})",
                chunk,
            ):
                have.add((r["contact_id"], r["group_id"]))
        add = {(existing[p]["id"], group_ids[label]) for p, label in wanted} - have
        await tx.execute(
            "INSERT OR IGNORE INTO memberships (contact_id, group_id, added_at, source) "
            "SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), ?, ? "
            "FROM json_each(?) j",
            (stamp, source, json.dumps(list(add))),
        )
        gained = {cid for cid, _ in add}
        for i, row in enumerate(rows):
            cur = existing[row.phone]
            if results[i] == "unchanged" and not cur["new"] and cur["id"] in gained:
                results[i] = "updated"
    return results


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def split_label(label: str) -> tuple[str, str]:
    """Split `kind:name` into its parts."""
    kind, _, name = label.partition(":")
    return kind, name


async def ensure_groups(tx: Tx, labels: Iterable[str], *, now: datetime) -> dict[str, int]:
    """Create any missing groups; return label -> id."""
    labels = list(labels)
    await tx.executemany(
        "INSERT OR IGNORE INTO groups (label, kind, name, joinable, created_at) "
        "VALUES (?, ?, ?, 0, ?)",
        [(label, *split_label(label), now.isoformat()) for label in labels],
    )
    marks = ",".join("?" * len(labels))
    rows = await tx.fetchall(f"SELECT id, label FROM groups WHERE label IN ({marks})", labels)
    return {r["label"]: r["id"] for r in rows}


async def create_group(tx: Tx, label: str, *, joinable: bool, now: datetime) -> bool:
    """Create a group, or update its joinable flag; return True when it was new."""
    kind, name = split_label(label)
    existed = await tx.scalar("SELECT id FROM groups WHERE label = ?", (label,))
    if existed:
        await tx.execute("UPDATE groups SET joinable = ? WHERE id = ?", (int(joinable), existed))
        return False
    await tx.insert(
        "INSERT INTO groups (label, kind, name, joinable, created_at) VALUES (?, ?, ?, ?, ?)",
        (label, kind, name, int(joinable), now.isoformat()),
    )
    return True


async def list_groups(tx: Tx) -> list[Group]:
    """All groups with member counts (opted-out members included), by label."""
    rows = await tx.fetchall(
        "SELECT g.id, g.label, g.kind, g.name, g.joinable, COUNT(m.contact_id) AS members "
        "FROM groups g LEFT JOIN memberships m ON m.group_id = g.id GROUP BY g.id ORDER BY g.label"
    )
    return [
        Group(r["id"], r["label"], r["kind"], r["name"], bool(r["joinable"]), r["members"])
        for r in rows
    ]


async def get_contact(tx: Tx, phone: str) -> Contact | None:
    """One contact by E.164 phone, with its group labels."""
    r = await tx.fetchone("SELECT * FROM contacts WHERE phone = ?", (phone,))
    if r is None:
        return None
    groups = await tx.fetchall(
        "SELECT g.label FROM memberships m JOIN groups g ON g.id = m.group_id "
        "WHERE m.contact_id = ? ORDER BY g.label",
        (r["id"],),
    )
    return _row_contact(r, tuple(g["label"] for g in groups))


async def iter_contacts(tx: Tx, *, group: str | None = None) -> AsyncGenerator[Contact, None]:
    """Stream contacts ordered by id, optionally those in one group, with their labels."""
    where = ""
    params: tuple[str, ...] = ()
    if group is not None:
        where = "WHERE c.id IN (SELECT contact_id FROM memberships m JOIN groups g "
        where += "ON g.id = m.group_id WHERE g.label = ?)"
        params = (group,)
    sql = (
        "SELECT c.*, (SELECT group_concat(g.label, ' ') FROM memberships m JOIN groups g "
        f"ON g.id = m.group_id WHERE m.contact_id = c.id) AS labels FROM contacts c {where} "
        "ORDER BY c.id"
    )
    async with contextlib.aclosing(tx.stream(sql, params)) as rows:
        async for r in rows:
            labels = tuple(sorted((r["labels"] or "").split()))
            yield _row_contact(r, labels)


async def set_opt_out(
    tx: Tx, phone: str, *, opted_out: bool, source: str, now: datetime
) -> bool | None:
    """Opt a contact out or in; None if unknown, else whether anything changed."""
    r = await tx.fetchone("SELECT id, opted_out_at FROM contacts WHERE phone = ?", (phone,))
    if r is None:
        return None
    if opted_out == (r["opted_out_at"] is not None):
        return False
    if opted_out:
        await tx.execute(
            "UPDATE contacts SET opted_out_at = ?, optout_source = ?, updated_at = ? WHERE id = ?",
            (now.isoformat(), source, now.isoformat(), r["id"]),
        )
    else:
        await tx.execute(
            "UPDATE contacts SET opted_out_at = NULL, optout_source = NULL, updated_at = ? "
            "WHERE id = ?",
            (now.isoformat(), r["id"]),
        )
    return True
