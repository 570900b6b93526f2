"""Which row of a contact file first gave each number, kept in a private scratch SQLite file.

The importer's "first row wins" rule needs one entry per distinct number of the file. A
dict of them cost ~140 bytes per number (215 MB peak at 1,000,000 rows); this table lives in
SQLite's temporary on-disk database (deleted on close) behind a small page cache, so memory
stays flat however long the file is.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from enum import IntEnum

logger = logging.getLogger(__name__)

CACHE_KIB = 4096  # page cache of the scratch file; the rest spills to disk


class Outcome(IntEnum):
    """What storing a number's first row did, once its batch has been written."""

    PENDING = 0
    UNCHANGED = 1
    CHANGED = 2  # imported or updated


@dataclass(frozen=True, slots=True)
class First:
    """Where a number first appeared in the file, its groups so far, and what storing it did."""

    where: str
    groups: tuple[str, ...]
    outcome: Outcome


class FirstRows:
    """Numbers seen so far in one import; group tuples are few, so they stay in memory."""

    def __init__(self, *, cache_kib: int = CACHE_KIB) -> None:
        # "" = a private temporary database on disk, removed when the connection closes
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE seen (phone TEXT PRIMARY KEY, place TEXT NOT NULL, "
            "groups INTEGER NOT NULL, outcome INTEGER NOT NULL) WITHOUT ROWID"
        )
        self._db.execute("BEGIN")  # one open transaction: no commit per statement
        self._count = 0
        self._group_sets: list[tuple[str, ...]] = []
        self._group_ids: dict[tuple[str, ...], int] = {}

    def __len__(self) -> int:
        return self._count

    def get(self, phone: str) -> First | None:
        """Return what is known about a number, or None if this file has not given it yet."""
        row = self._db.execute(
            "SELECT place, groups, outcome FROM seen WHERE phone = ?", (phone,)
        ).fetchone()
        if row is None:
            return None
        return First(row[0], self._group_sets[row[1]], Outcome(row[2]))

    def add(self, phone: str, *, where: str, groups: tuple[str, ...]) -> None:
        """Remember the row that first gave a number, and its groups."""
        self._db.execute(
            "INSERT INTO seen (phone, place, groups, outcome) VALUES (?, ?, ?, 0)",
            (phone, where, self._group_id(groups)),
        )
        self._count += 1

    def set_groups(self, phone: str, groups: tuple[str, ...]) -> None:
        """Replace a known number's groups (after a later row added some)."""
        self._db.execute(
            "UPDATE seen SET groups = ? WHERE phone = ?", (self._group_id(groups), phone)
        )

    def settle(self, phone: str, outcome: Outcome) -> None:
        """Record what storing a number's first row did."""
        self._db.execute("UPDATE seen SET outcome = ? WHERE phone = ?", (int(outcome), phone))

    def close(self) -> None:
        """Drop the scratch file."""
        self._db.close()

    def _group_id(self, groups: tuple[str, ...]) -> int:
        found = self._group_ids.get(groups)
        if found is None:
            found = self._group_ids[groups] = len(self._group_sets)
            self._group_sets.append(groups)
        return found
