"""The WAL is copied back into the database file by a thread of its own, not by the writer."""

from __future__ import annotations

import asyncio
import struct
import threading
from pathlib import Path

from storage.db import WRITER_CHECKPOINT_PAGES, Database


def wal_progress(db_file: Path) -> tuple[int, int]:
    """(frames in the WAL, frames copied back) from the WAL index, without checkpointing."""
    shm = Path(f"{db_file}-shm").read_bytes()[:100]
    (frames,) = struct.unpack_from("=I", shm, 16)  # WalIndexHdr.mxFrame
    (copied,) = struct.unpack_from("=I", shm, 96)  # WalCkptInfo.nBackfill
    return frames, copied


async def test_background_checkpoints_copy_the_wal_without_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        for _ in range(20):
            async with db.transaction() as tx:
                await tx.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 500,)] * 50)
        frames, _ = wal_progress(path)
        assert 0 < frames < WRITER_CHECKPOINT_PAGES  # the writer has not checkpointed itself
        async with asyncio.timeout(5):
            while wal_progress(path)[1] < frames:
                await asyncio.sleep(0.02)
        async with db.read() as tx:
            assert await tx.scalar("SELECT COUNT(*) FROM t") == 1000
    finally:
        await db.close()
    assert not any(t.name == "sqlite-checkpoint" for t in threading.enumerate())
