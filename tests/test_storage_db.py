"""The database wrapper: transactions survive cancellation at any await."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from storage.db import Conn, Database


@pytest.mark.parametrize("cancel_after", [0, 1, 2, 3])
async def test_cancelled_transaction_leaves_connection_usable(
    tmp_path: Path, cancel_after: int
) -> None:
    db = await Database.open(tmp_path / "t.db")
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER)")

        async def write() -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (1)")
                await asyncio.sleep(1)

        task = asyncio.create_task(write())
        for _ in range(cancel_after):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not await db.in_transaction()
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (2)")
        async with db.read() as tx:
            assert await tx.scalar("SELECT group_concat(x) FROM t") == "2"
    finally:
        await db.close()


async def test_page_cache_is_capped_at_cache_mb(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "c.db", cache_mb=3)
    try:
        async with db.read() as tx:
            row = await tx.fetchone("PRAGMA cache_size")
        assert row is not None and row[0] == -3 * 1024  # negative: KiB, not pages
    finally:
        await db.close()


async def test_run_is_one_transaction_in_one_hop_to_the_database_thread(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER)")
        seen: list[tuple[str, bool]] = []

        def work(conn: Conn, value: int) -> int:
            seen.append((threading.current_thread().name, conn.in_transaction))
            conn.execute("INSERT INTO t VALUES (?)", (value,))
            return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])

        before = db.hops
        assert await db.run(work, 7) == 1
        assert db.hops == before + 1
        assert seen == [("sqlite", True)]
        assert not await db.in_transaction()
    finally:
        await db.close()
    assert not any(t.name == "sqlite" for t in threading.enumerate())


async def test_a_cancelled_run_finishes_its_transaction_before_the_next(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER)")
        started = threading.Event()

        def slow(conn: Conn) -> None:
            conn.execute("INSERT INTO t VALUES (1)")
            started.set()
            time.sleep(0.2)
            conn.execute("INSERT INTO t VALUES (2)")

        task = asyncio.create_task(db.run(slow))
        await asyncio.to_thread(started.wait)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not await db.in_transaction()
        async with db.transaction() as tx:  # the function ran to its end and committed
            await tx.execute("INSERT INTO t VALUES (3)")
        async with db.read() as tx:
            assert await tx.scalar("SELECT group_concat(x) FROM t") == "1,2,3"
    finally:
        await db.close()


async def test_a_transaction_cancelled_while_begin_waits_leaves_none_open(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "b.db")
    other = sqlite3.connect(tmp_path / "b.db", isolation_level=None, check_same_thread=False)
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER)")
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock

        async def write() -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (1)")

        task = asyncio.create_task(write())
        await asyncio.sleep(0.1)  # BEGIN waits in the database thread (busy_timeout)
        task.cancel()
        await asyncio.sleep(0.05)
        other.execute("COMMIT")  # now BEGIN lands, after its awaiter was cancelled
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not await db.in_transaction()
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (2)")
        async with db.read() as tx:
            assert await tx.scalar("SELECT group_concat(x) FROM t") == "2"
    finally:
        other.close()
        await db.close()


async def test_a_failed_statement_rolls_the_transaction_back(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "f.db")
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER UNIQUE)")
        with pytest.raises(sqlite3.IntegrityError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (1)")
                await tx.execute("INSERT INTO t VALUES (1)")
        assert not await db.in_transaction()
        with pytest.raises(sqlite3.IntegrityError):
            await db.run(lambda conn: conn.executemany("INSERT INTO t VALUES (?)", [(2,), (2,)]))
        async with db.read() as tx:
            assert await tx.scalar("SELECT COUNT(*) FROM t") == 0
    finally:
        await db.close()


async def test_a_stream_fetches_many_rows_per_hop(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "s.db")
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER)")
            await tx.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(600)])
        before = db.hops
        async with db.read() as tx, contextlib.aclosing(tx.stream("SELECT x FROM t")) as rows:
            assert [r["x"] async for r in rows] == list(range(600))
        assert db.hops - before == 6  # open; 256, 256 and 88 rows; the empty fetch; close
    finally:
        await db.close()
