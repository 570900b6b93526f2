"""The SQLite database: one aiosqlite connection, WAL, foreign keys, and serialised transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.migrations import MIGRATIONS

logger = logging.getLogger(__name__)

SCHEMA_VERSION = len(MIGRATIONS)
DEFAULT_CACHE_MB = 32  # SQLite page cache per connection, in MB
CHECKPOINT_SECONDS = 0.1  # how often a thread of its own copies the WAL into the file
# The writer checkpoints itself only past this many WAL pages (64 MB): the thread above does
# it first, so commits on the dispatch path seldom wait for a checkpoint and its fsync.
WRITER_CHECKPOINT_PAGES = 16000
T = TypeVar("T")
Conn = sqlite3.Connection  # what a storage function run in the database thread is handed


class StorageError(Exception):
    """The database could not be opened or migrated; the message says why."""


class Database:
    """One connection; every write goes through `transaction()`, one at a time."""

    def __init__(self, conn: aiosqlite.Connection, path: Path):
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._checkpointer: Checkpointer | None = None

    @classmethod
    async def open(
        cls, path: Path, *, migrate: bool = True, cache_mb: int = DEFAULT_CACHE_MB
    ) -> Database:
        """Open (creating if needed) the database file and migrate it forward."""
        try:
            if path.is_dir():
                raise StorageError(f"{path}: is a directory, not a database file")
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"{path}: cannot open database: {exc}") from None
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            # SQLite's page cache grows with the pages read until it holds cache_mb, then stays.
            await conn.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
            await conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
            if migrate:
                await db.migrate()
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StorageError(f"{path}: not a usable SQLite database: {exc}") from None
        db._checkpointer = Checkpointer(path)
        return db

    async def close(self) -> None:
        """Wait for the write in flight, then close the connection."""
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
            self._checkpointer = None
        async with self._lock:
            await self.conn.close()

    async def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            async with self.read() as tx:
                return bool(await tx.scalar("SELECT 1"))
        except sqlite3.Error as exc:
            logger.warning("database ping failed: %s", exc)
            return False

    async def schema_version(self) -> int:
        """The schema version recorded in the file."""
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> list[int]:
        """Apply every pending migration, each in its own transaction; return those applied."""
        current = await self.schema_version()
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path}: schema version {current} is newer than this program "
                f"({SCHEMA_VERSION}); upgrade smsops"
            )
        applied = []
        for version in range(current + 1, SCHEMA_VERSION + 1):
            async with self.transaction() as conn:
                await conn.executescript_in_tx(MIGRATIONS[version - 1])
                await conn.execute(f"PRAGMA user_version={version}")
            applied.append(version)
            logger.info("database migrated to schema version %d", version)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception; one at a time."""
        async with self._lock:
            await self._begin()
            try:
                yield Tx(self.conn)
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(conn, *args, **kwargs) as one transaction in the database thread, in one hop."""
        async with self._lock:
            work = asyncio.ensure_future(_in_thread(self.conn, _atomic, fn, *args, **kwargs))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                # The function runs to its end (commit or rollback) whatever happens here;
                # hold the lock until it has, so no other transaction starts inside it.
                with contextlib.suppress(Exception):
                    await work
                raise

    async def _begin(self) -> None:
        # aiosqlite runs a queued statement even if its awaiter is cancelled, so a
        # cancellation here must wait for BEGIN to land and then roll it back;
        # otherwise the connection is left inside a transaction nobody owns.
        begin = asyncio.ensure_future(self.conn.execute("BEGIN IMMEDIATE"))
        try:
            await asyncio.shield(begin)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await begin
            if self.conn.in_transaction:
                await self.conn.execute("ROLLBACK")
            raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A consistent read: waits for writes in flight so it never sees half of one."""
        async with self._lock:
            yield Tx(self.conn)

    async def backup(self, target: Path) -> None:
        """Copy the live database to `target` with SQLite's online backup API."""
        if target.exists():
            raise StorageError(f"{target}: already exists; choose a new file name")
        dest = sqlite3.connect(target)
        try:
            async with self._lock:
                await self.conn.backup(dest)
        finally:
            dest.close()


class Checkpointer:
    """Copies the WAL back into the database file from a thread and connection of its own
    (PASSIVE: never in a writer's way), so commits seldom stop for a checkpoint."""

    def __init__(self, path: Path, *, every: float = CHECKPOINT_SECONDS):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(path, every), name="sqlite-checkpoint", daemon=True
        )
        self._thread.start()

    def _run(self, path: Path, every: float) -> None:
        try:
            conn = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            logger.warning("%s: no background checkpoints: %s", path, exc)
            return
        try:
            while not self._stop.wait(every):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # the writer checkpoints itself meanwhile
                    logger.warning("%s: background checkpoint failed: %s", path, exc)
                    self._stop.wait(10 * every)
        finally:
            conn.close()

    def stop(self) -> None:
        """End the thread (after the checkpoint in progress, if any)."""
        self._stop.set()
        self._thread.join()


def _atomic(conn: Conn, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args, **kwargs)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


async def _in_thread(
    conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    # aiosqlite runs queued functions in its connection thread, in order; its public calls
    # take one statement per hop, so several statements go as one function instead.
    run: Callable[..., Awaitable[T]] = conn._execute
    return await run(fn, conn._conn, *args, **kwargs)


class Tx:
    """The statements available inside a transaction or read; only storage/ uses it."""

    def __init__(self, conn: aiosqlite.Connection):
        self.conn = conn

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(conn, *args, **kwargs) in the database thread, inside this transaction."""
        return await _in_thread(self.conn, fn, *args, **kwargs)

    async def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> int:
        """Run one statement; return the number of rows changed."""
        cur = await self.conn.execute(sql, params)
        count = cur.rowcount
        await cur.close()
        return count

    async def insert(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> int:
        """Run an INSERT and return the new row id."""
        cur = await self.conn.execute(sql, params)
        rowid = cur.lastrowid
        await cur.close()
        return int(rowid or 0)

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        """Run one statement for many parameter rows."""
        await self.conn.executemany(sql, rows)

    async def fetchall(
        self, sql: str, params: Iterable[Any] | dict[str, Any] = ()
    ) -> list[sqlite3.Row]:
        """All rows of a query."""
        return list(await self.conn.execute_fetchall(sql, params))

    async def fetchone(
        self, sql: str, params: Iterable[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        async with self.conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return row

    async def scalar(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def executescript_in_tx(self, script: str) -> None:
        """Run a multi-statement script inside the current transaction."""
        for statement in _split_sql(script):
            await self.conn.execute(statement)


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
