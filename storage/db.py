"""The SQLite database: one connection in a thread of its own, WAL, and serialised transactions."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from storage.migrations import MIGRATIONS
from storage.sqlite.checkpoint import Checkpointer
from storage.sqlite.engine import Conn, DatabaseThread
from storage.sqlite.tx import Tx

logger = logging.getLogger(__name__)

SCHEMA_VERSION = len(MIGRATIONS)
DEFAULT_CACHE_MB = 32  # SQLite page cache per connection, in MB
# The writer checkpoints itself only past this many WAL pages (64 MB): the checkpointer does
# it first, so commits on the dispatch path seldom wait for a checkpoint and its fsync.
WRITER_CHECKPOINT_PAGES = 16000
SQLITE_INT_LIMIT = 2**63  # SQLite's integers are 64-bit: every id is below this in magnitude
T = TypeVar("T")
P = ParamSpec("P")

__all__ = [
    "DEFAULT_CACHE_MB",
    "SCHEMA_VERSION",
    "SQLITE_INT_LIMIT",
    "Conn",
    "Database",
    "DatabaseSettings",
    "StorageError",
    "Tx",
    "open_database",
]


class StorageError(Exception):
    """The database could not be opened or migrated; the message says why."""


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """Where the database file is, and how much page cache its connection may hold."""

    path: Path
    cache_mb: int = DEFAULT_CACHE_MB


async def open_database(settings: DatabaseSettings, *, migrate: bool = True) -> Database:
    """Open (creating if needed) the database the settings name, migrated forward."""
    return await Database.open(settings.path, migrate=migrate, cache_mb=settings.cache_mb)


class Database:
    """One connection in its own thread; every write goes through `transaction()` or `run()`,
    one at a time."""

    def __init__(self, thread: DatabaseThread, path: Path):
        self._thread = thread
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
            thread = await DatabaseThread.connect(path)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"{path}: cannot open database: {exc}") from None
        db = cls(thread, path)
        try:
            await thread.call(_configure, cache_mb=cache_mb)
            if migrate:
                await db.migrate()
        except sqlite3.DatabaseError as exc:
            await thread.close()
            raise StorageError(f"{path}: not a usable SQLite database: {exc}") from None
        db._checkpointer = Checkpointer(path)
        return db

    @property
    def hops(self) -> int:
        """How many calls have gone to the database thread (tests count them)."""
        return self._thread.hops

    async def close(self) -> None:
        """Wait for the write in flight, then close the connection."""
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
            self._checkpointer = None
        async with self._lock:
            await self._thread.close()

    async def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            async with self.read() as tx:
                return bool(await tx.scalar("SELECT 1"))
        except sqlite3.Error as exc:
            logger.warning("database ping failed: %s", exc)
            return False

    async def in_transaction(self) -> bool:
        """Whether the connection is inside a transaction, once the calls queued have run."""
        return await self._thread.call(_in_transaction)

    async def schema_version(self) -> int:
        """The schema version recorded in the file."""
        return await self._thread.call(_user_version)

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
            async with self.transaction() as tx:
                await tx.executescript_in_tx(MIGRATIONS[version - 1])
                await tx.execute(f"PRAGMA user_version={version}")
            applied.append(version)
            logger.info("database migrated to schema version %d", version)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception; one at a time."""
        async with self._lock:
            try:
                await self._thread.call(_begin)
                yield Tx(self._thread)
            except BaseException:
                # Queued after every statement of the transaction (even one whose awaiter
                # was cancelled, BEGIN included), so nothing of it is left open.
                await _to_the_end(self._thread.call(_rollback))
                raise
            else:
                await _to_the_end(self._thread.call(_commit))

    async def run(
        self, fn: Callable[Concatenate[Conn, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run fn(conn, *args, **kwargs) as one transaction in the database thread, in one hop."""
        async with self._lock:
            return await _to_the_end(self._thread.call(_atomic, fn, args, kwargs))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A consistent read: waits for writes in flight so it never sees half of one."""
        async with self._lock:
            yield Tx(self._thread)

    async def backup(self, target: Path) -> None:
        """Copy the live database to `target` with SQLite's online backup API."""
        if target.exists():
            raise StorageError(f"{target}: already exists; choose a new file name")
        async with self._lock:
            await _to_the_end(self._thread.call(_backup, target))


async def _to_the_end(work: asyncio.Future[T]) -> T:
    """Await a call; if cancelled meanwhile, still wait for it to end (commit or rollback)
    before raising, so the caller's lock is held until nothing of it is in flight."""
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        if not work.done():
            await asyncio.wait([work])
        raise


def _configure(conn: Conn, *, cache_mb: int) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    # SQLite's page cache grows with the pages read until it holds cache_mb, then stays.
    conn.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
    conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")


def _atomic(conn: Conn, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args, **kwargs)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _commit(conn: Conn) -> None:
    try:
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)  # a failed COMMIT must not leave the transaction open
        raise


def _rollback(conn: Conn) -> None:
    if conn.in_transaction:  # BEGIN itself may have failed
        conn.execute("ROLLBACK")


def _in_transaction(conn: Conn) -> bool:
    return conn.in_transaction


def _backup(conn: Conn, target: Path) -> None:
    dest = sqlite3.connect(target)
    try:
        conn.backup(dest)
    finally:
        dest.close()


def _begin(conn: Conn) -> None:
    conn.execute("BEGIN IMMEDIATE")


def _user_version(conn: Conn) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])
