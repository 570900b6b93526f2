"""The database wrapper: transactions survive cancellation at any await."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage.db import Database


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
