"""SQL for audiences: which contacts a set of groups, exclusions and numbers selects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Tx


@dataclass(frozen=True, slots=True)
class AudienceQuery:
    """A resolved audience: group ids to include and exclude, contact ids, or everyone."""

    everyone: bool
    include_groups: tuple[int, ...]
    exclude_groups: tuple[int, ...]
    contact_ids: tuple[int, ...]

    def sql(self) -> tuple[str, list[Any]]:
        """A sub-select yielding the audience's contact ids, with its parameters."""
        parts: list[str] = []
        params: list[Any] = []
        if self.everyone:
            parts.append("SELECT id FROM contacts")
        if self.include_groups:
            marks = ",".join("?" * len(self.include_groups))
            parts.append(f"SELECT contact_id FROM memberships WHERE group_id IN ({marks})")
            params += self.include_groups
        if self.contact_ids:
            marks = ",".join("?" * len(self.contact_ids))
            parts.append(f"SELECT id FROM contacts WHERE id IN ({marks})")
            params += self.contact_ids
        sql = " UNION ".join(parts) if parts else "SELECT NULL WHERE 0"
        if self.exclude_groups:
            marks = ",".join("?" * len(self.exclude_groups))
            sql = f"{sql} EXCEPT SELECT contact_id FROM memberships WHERE group_id IN ({marks})"
            params += self.exclude_groups
        return sql, params


async def group_ids(tx: Tx) -> dict[str, int]:
    """Every group label with its id."""
    return {r["label"]: r["id"] for r in await tx.fetchall("SELECT id, label FROM groups")}


async def contact_ids_for(tx: Tx, phones: Sequence[str]) -> dict[str, int]:
    """Ids of existing contacts among these E.164 numbers."""
    if not phones:
        return {}
    marks = ",".join("?" * len(phones))
    rows = await tx.fetchall(f"SELECT id, phone FROM contacts WHERE phone IN ({marks})", phones)
    return {r["phone"]: r["id"] for r in rows}


async def add_bare_contacts(tx: Tx, phones: Sequence[str], *, stamp: str) -> None:
    """Create contacts with no name for numbers written literally in an audience."""
    await tx.executemany(
        "INSERT OR IGNORE INTO contacts (phone, created_at, updated_at) VALUES (?, ?, ?)",
        [(p, stamp, stamp) for p in phones],
    )


async def counts(tx: Tx, query: AudienceQuery) -> tuple[int, int]:
    """(all matched contacts, of whom opted out)."""
    sql, params = query.sql()
    row = await tx.fetchone(
        "SELECT COUNT(*) AS n, COALESCE(SUM(c.opted_out_at IS NOT NULL), 0) AS out "
        f"FROM contacts c WHERE c.id IN ({sql})",
        params,
    )
    return (row["n"], row["out"]) if row else (0, 0)


async def iter_recipients(
    tx: Tx, query: AudienceQuery, *, page: int = 5000
) -> AsyncIterator[list[Any]]:
    """Pages of opted-in audience contacts (id, phone, name, first_name, extra), by id."""
    sql, params = query.sql()
    last = 0
    while True:
        rows = await tx.fetchall(
            "SELECT c.id, c.phone, c.name, c.first_name, c.extra FROM contacts c "
            f"WHERE c.id > ? AND c.opted_out_at IS NULL AND c.id IN ({sql}) ORDER BY c.id LIMIT ?",
            [last, *params, page],
        )
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


async def extra_fields(tx: Tx) -> set[str]:
    """Every extra field name any contact has."""
    rows = await tx.fetchall("SELECT DISTINCT j.key FROM contacts, json_each(contacts.extra) j")
    return {r[0] for r in rows}
