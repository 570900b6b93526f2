"""The statements of a transaction or read, each sent to the database thread (see engine)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any, Concatenate, ParamSpec, TypeVar

from storage.sqlite.engine import Conn, DatabaseThread

T = TypeVar("T")
P = ParamSpec("P")
Params = Iterable[Any] | dict[str, Any]
STREAM_ROWS = 256  # rows per hop when a query is streamed


def _execute(conn: Conn, sql: str, params: Any) -> int:
    cur = conn.execute(sql, params)
    count = cur.rowcount
    cur.close()
    return count


def _insert(conn: Conn, sql: str, params: Any) -> int:
    cur = conn.execute(sql, params)
    rowid = cur.lastrowid
    cur.close()
    return int(rowid or 0)


def _executemany(conn: Conn, sql: str, rows: Any) -> None:
    conn.executemany(sql, rows).close()


def _fetchall(conn: Conn, sql: str, params: Any) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def _fetchone(conn: Conn, sql: str, params: Any) -> sqlite3.Row | None:
    cur = conn.execute(sql, params)
    row: sqlite3.Row | None = cur.fetchone()
    cur.close()
    return row


def _scalar(conn: Conn, sql: str, params: Any) -> Any:
    row = _fetchone(conn, sql, params)
    return None if row is None else row[0]


def _script(conn: Conn, statements: list[str]) -> None:
    for statement in statements:
        conn.execute(statement)


def _cursor(conn: Conn, sql: str, params: Any) -> sqlite3.Cursor:
    return conn.execute(sql, params)


def _more(_conn: Conn, cur: sqlite3.Cursor) -> list[sqlite3.Row]:
    return cur.fetchmany(STREAM_ROWS)


def _close(_conn: Conn, cur: sqlite3.Cursor) -> None:
    cur.close()


class Tx:
    """The statements available inside a transaction or read; only storage/ uses it.

    Each statement is one hop to the database thread; `run` sends several as one."""

    def __init__(self, thread: DatabaseThread):
        self._thread = thread

    async def run(
        self, fn: Callable[Concatenate[Conn, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run fn(conn, *args, **kwargs) in the database thread, inside this transaction."""
        return await self._thread.call(fn, *args, **kwargs)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows changed."""
        return await self._thread.call(_execute, sql, params)

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT and return the new row id."""
        return await self._thread.call(_insert, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        """Run one statement for many parameter rows."""
        await self._thread.call(_executemany, sql, rows)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """All rows of a query."""
        return await self._thread.call(_fetchall, sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        return await self._thread.call(_fetchone, sql, params)

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        return await self._thread.call(_scalar, sql, params)

    async def stream(self, sql: str, params: Params = ()) -> AsyncGenerator[sqlite3.Row, None]:
        """The rows of a query, fetched STREAM_ROWS at a time (close it inside the read)."""
        cur = await self._thread.call(_cursor, sql, params)
        try:
            while rows := await self._thread.call(_more, cur):
                for row in rows:
                    yield row
        finally:
            await self._thread.call(_close, cur)

    async def executescript_in_tx(self, script: str) -> None:
        """Run a multi-statement script inside the current transaction."""
        await self._thread.call(_script, _split_sql(script))


def _split_sql(script: str) -> list[str]:
    """Split a migration script into complete statements."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
