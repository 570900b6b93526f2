"""Named queries the tests and benchmarks read (and nudge) the database with.

The async ones take the core's `Database`; `DbFile` reads a database file straight with
sqlite3, for a CLI run's file or a server running in another process (WAL).

Filters are keyword arguments, column = value: None is IS NULL, PRESENT is IS NOT NULL,
a tuple is IN (...), anything else is = ?.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.db import Database

Row = dict[str, Any]
Snapshot = dict[str, list[tuple[Any, ...]]]


class _Present:
    def __repr__(self) -> str:
        return "PRESENT"


PRESENT: Any = _Present()

_TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table'"
_GROUPS_OF_SQL = (
    "SELECT g.label FROM memberships m JOIN groups g ON g.id = m.group_id "
    "JOIN contacts c ON c.id = m.contact_id WHERE c.phone = ?"
)
_ADDRESS_BOOK_SQL = (
    "SELECT c.phone, c.opted_out_at IS NOT NULL AS out, group_concat(g.label) AS gs "
    "FROM contacts c LEFT JOIN memberships m ON m.contact_id = c.id "
    "LEFT JOIN groups g ON g.id = m.group_id GROUP BY c.id ORDER BY c.phone"
)
_CONTACT_GROUPS_SQL = (
    "SELECT c.phone, c.name, c.first_name, c.updated_at, g.label FROM contacts c "
    "LEFT JOIN memberships m ON m.contact_id = c.id "
    "LEFT JOIN groups g ON g.id = m.group_id ORDER BY c.phone, g.label"
)
_REPLIES_SQL = (
    "SELECT i.provider_id, o.phone, o.state, o.text FROM outbox o "
    "JOIN inbound i ON i.id = o.inbound_id"
)
_BROADCAST_TEXTS_SQL = (
    "SELECT COALESCE(o.text, b.body) AS t FROM outbox o "
    "JOIN broadcasts b ON b.id = o.broadcast_id WHERE o.broadcast_id = ? ORDER BY o.id"
)
_IN_FLIGHT_SQL = (
    "SELECT COUNT(*) FROM outbox WHERE state = 'sending' "
    "OR (state = 'queued' AND next_attempt_at <= ?) "
    "OR (state = 'sent' AND delivery_status IS NULL)"
)
_UNSETTLED_SQL = (
    "SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'claimed', "
    "'sending') OR (state = 'sent' AND delivery_status IS NULL)"
)
_AUDITED_SQL = "SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE ?"
_REFUSALS_AUDITED_SQL = "SELECT * FROM audit_log WHERE action NOT LIKE '%refused'"


@dataclass(frozen=True, slots=True)
class Query:
    """One statement and its parameters."""

    sql: str
    params: tuple[Any, ...] = ()


def _where(filters: Mapping[str, Any]) -> Query:
    parts: list[str] = []
    params: list[Any] = []
    for column, value in filters.items():
        if value is None:
            parts.append(f"{column} IS NULL")
        elif value is PRESENT:
            parts.append(f"{column} IS NOT NULL")
        elif isinstance(value, tuple):
            parts.append(f"{column} IN ({','.join('?' * len(value))})")
            params.extend(value)
        else:
            parts.append(f"{column} = ?")
            params.append(value)
    return Query(" WHERE " + " AND ".join(parts) if parts else "", tuple(params))


def select(
    table: str,
    *columns: str,
    order: str | None = "id",
    limit: int | None = None,
    **filters: Any,
) -> Query:
    """SELECT columns (all by default) FROM table WHERE filters ORDER BY order LIMIT limit."""
    where = _where(filters)
    sql = f"SELECT {', '.join(columns) or '*'} FROM {table}{where.sql}"
    sql += f" ORDER BY {order}" if order else ""
    sql += f" LIMIT {int(limit)}" if limit is not None else ""
    return Query(sql, where.params)


def count(table: str, **filters: Any) -> Query:
    """SELECT COUNT(*) FROM table WHERE filters."""
    where = _where(filters)
    return Query(f"SELECT COUNT(*) FROM {table}{where.sql}", where.params)


async def fetch(db: Database, query: Query) -> list[Row]:
    """The rows of one query, as dicts."""
    async with db.read() as tx:
        return [dict(r) for r in await tx.fetchall(query.sql, query.params)]


async def scalar(db: Database, query: Query) -> Any:
    """The first column of the first row of one query."""
    async with db.read() as tx:
        return await tx.scalar(query.sql, query.params)


async def table_rows(db: Database, table: str, *columns: str, **filters: Any) -> list[Row]:
    """Rows of any table (see `select`)."""
    return await fetch(db, select(table, *columns, **filters))


async def outbox_rows(db: Database, *columns: str, **filters: Any) -> list[Row]:
    """Outbox rows (the given columns, or all) matching the filters, in id order."""
    return await fetch(db, select("outbox", *columns, **filters))


async def inbound_rows(db: Database, *columns: str, **filters: Any) -> list[Row]:
    """Stored inbound messages matching the filters, in id order."""
    return await fetch(db, select("inbound", *columns, **filters))


async def contact_state(db: Database, phone: str) -> Row:
    """The contact row of one number (fails if there is none)."""
    [row] = await fetch(db, select("contacts", phone=phone))
    return row


async def modem_usage_rows(db: Database) -> list[Row]:
    """Messages and segments counted per modem and day."""
    return await fetch(db, select("modem_usage", "modem_id", "messages", "segments", order=None))


async def journal_rows(db: Database) -> list[Row]:
    """The send journal's batches (batch_id, next_batch_id, outcome), in id order."""
    return await fetch(db, select("send_journal", "batch_id", "next_batch_id", "outcome"))


async def count_rows(db: Database, table: str, **filters: Any) -> int:
    """How many rows of a table match the filters."""
    return int(await scalar(db, count(table, **filters)))


async def outbox_states(db: Database) -> Counter[str]:
    """Outbox rows per state."""
    rows = await fetch(db, Query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state"))
    return Counter({str(r["state"]): int(r["n"]) for r in rows})


async def earliest_attempt(db: Database) -> Any:
    """The earliest next_attempt_at of the outbox."""
    return await scalar(db, Query("SELECT MIN(next_attempt_at) FROM outbox"))


async def in_flight(db: Database, now: float) -> int:
    """Outbox rows still moving: sending, queued and due by `now`, or sent but not reported."""
    return int(await scalar(db, Query(_IN_FLIGHT_SQL, (now,))))


async def unsettled(db: Database) -> int:
    """Outbox rows queued, claimed or sending, or sent without a delivery report yet."""
    return int(await scalar(db, Query(_UNSETTLED_SQL)))


async def group_labels(db: Database, phone: str) -> list[Row]:
    """The labels of the groups a number is in ({"label": ...} rows)."""
    return await fetch(db, Query(_GROUPS_OF_SQL, (phone,)))


async def address_book(db: Database) -> list[Row]:
    """Every contact: phone, opted out (0/1) and its groups' labels joined, by phone."""
    return await fetch(db, Query(_ADDRESS_BOOK_SQL))


async def broadcast_texts(db: Database, broadcast_id: int) -> list[str]:
    """The text each recipient of a broadcast gets (its own, or the broadcast's), in id order."""
    rows = await fetch(db, Query(_BROADCAST_TEXTS_SQL, (broadcast_id,)))
    return [str(r["t"]) for r in rows]


async def update_outbox(db: Database, values: Mapping[str, Any], **filters: Any) -> int:
    """Set columns of the outbox rows matching the filters; how many rows changed."""
    where = _where(filters)
    assignments = ", ".join(f"{column} = ?" for column in values)
    sql = f"UPDATE outbox SET {assignments}{where.sql}"
    async with db.transaction() as tx:
        return await tx.execute(sql, (*values.values(), *where.params))


async def mark_first_queued_sent(db: Database) -> None:
    """Mark the lowest queued outbox row sent, as if a send had just settled."""
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE outbox SET state = 'sent' WHERE id = (SELECT MIN(id) FROM outbox "
            "WHERE state = 'queued')"
        )


async def poison_inbound(db: Database, text: str) -> None:
    """Make this connection refuse to store an inbound message with `text` (a real failure)."""
    literal = "'" + text.replace("'", "''") + "'"  # a trigger takes no bound parameters
    async with db.transaction() as tx:
        await tx.execute(
            f"CREATE TEMP TRIGGER poison BEFORE INSERT ON inbound WHEN NEW.text = {literal} "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )


async def snapshot(db: Database, *, internal: bool = False, refusals: bool = True) -> Snapshot:
    """Every row of every table (`internal`: SQLite's too; not `refusals`' audit rows), sorted."""
    names_sql = _TABLES_SQL if internal else _TABLES_SQL + " AND name NOT LIKE 'sqlite_%'"
    out: Snapshot = {}
    async with db.read() as tx:
        for row in await tx.fetchall(names_sql):
            name = str(row["name"])
            sql = f'SELECT * FROM "{name}"'
            if name == "audit_log" and not refusals:
                sql = _REFUSALS_AUDITED_SQL
            rows = await tx.fetchall(sql)
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


class DbFile:
    """Reads a database file straight with sqlite3 (a CLI's file, another process's server)."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        else:
            conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def fetch(self, query: Query) -> list[Row]:
        """The rows of one query, as dicts."""
        with contextlib.closing(self._connect()) as conn:
            return [dict(r) for r in conn.execute(query.sql, query.params).fetchall()]

    def rows(self, table: str, *columns: str, **filters: Any) -> list[Row]:
        """Rows of a table (see `select`)."""
        return self.fetch(select(table, *columns, **filters))

    def tuples(self, table: str, *columns: str, **filters: Any) -> list[tuple[Any, ...]]:
        """Rows of a table as tuples (see `select`)."""
        return [tuple(r.values()) for r in self.rows(table, *columns, **filters)]

    def values(self, table: str, column: str, **filters: Any) -> list[Any]:
        """One column of a table's rows, in id order (or `order`)."""
        return [r[column] for r in self.rows(table, column, **filters)]

    def count(self, table: str, **filters: Any) -> int:
        """How many rows of a table match the filters."""
        [row] = self.fetch(count(table, **filters))
        return int(next(iter(row.values())))

    def count_audited(self, prefix: str) -> int:
        """How many audit entries have an action starting with `prefix` (e.g. "broadcast")."""
        [row] = self.fetch(Query(_AUDITED_SQL, (prefix + "%",)))
        return int(row["n"])

    def outbox_states(self) -> Counter[str]:
        """Outbox rows per state."""
        rows = self.fetch(Query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state"))
        return Counter({str(r["state"]): int(r["n"]) for r in rows})

    def contacts_with_groups(self) -> list[Row]:
        """phone, name, first_name, updated_at and one group label a row, by phone and label."""
        return self.fetch(Query(_CONTACT_GROUPS_SQL))

    def replies(self) -> list[Row]:
        """Each reply in the outbox with the provider id of the message it answers."""
        return self.fetch(Query(_REPLIES_SQL))

    def tables(self, names: Iterable[str]) -> list[list[tuple[Any, ...]]]:
        """Every row of each named table, ordered by the first column."""
        with contextlib.closing(self._connect()) as conn:
            return [
                [tuple(r) for r in conn.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()]
                for name in names
            ]
