"""Copying the WAL back into the database file from a thread and connection of its own."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 0.1  # how often the checkpoint thread copies the WAL into the file


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
