"""Which row of a contact file first gave each number: in memory, then in a scratch SQLite file.

The importer's "first row wins" rule needs one entry per distinct number of the file, ~200
bytes each in a dict (215 MB peak at 1,000,000 rows). Up to SPILL_AFTER numbers stay in a
dict (fast); past that they move to SQLite's private temporary on-disk database (deleted on
close) behind a small page cache, so memory stays bounded however long the file is.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

logger = logging.getLogger(__name__)

CACHE_KIB = 4096  # page cache of the scratch file; the rest spills to disk
SPILL_AFTER = 200_000  # numbers kept in memory (~40 MB) before moving to the scratch file


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

    def __init__(self, *, spill_after: int = SPILL_AFTER, cache_kib: int = CACHE_KIB) -> None:
        self._mem: dict[str, tuple[str, int, int]] = {}  # phone -> (place, group id, outcome)
        self._db: sqlite3.Connection | None = None
        self._spill_after = spill_after
        self._cache_kib = cache_kib
        self._count = 0
        self._group_sets: list[tuple[str, ...]] = []
        self._group_ids: dict[tuple[str, ...], int] = {}

    def __len__(self) -> int:
        return self._count

    def get(self, phone: str) -> First | None:
        """Return what is known about a number, or None if this file has not given it yet."""
        row: Any = self._mem.get(phone)
        if row is None and self._db is not None:
            row = self._db.execute(
                "SELECT place, groups, outcome FROM seen WHERE phone = ?", (phone,)
            ).fetchone()
        if row is None:
            return None
        return First(row[0], self._group_sets[row[1]], Outcome(row[2]))

    def add(self, phone: str, *, where: str, groups: tuple[str, ...]) -> None:
        """Remember the row that first gave a number, and its groups."""
        self._count += 1
        if self._db is None:
            self._mem[phone] = (where, self._group_id(groups), 0)
            if len(self._mem) > self._spill_after:
                self._spill()
            return
        self._db.execute(
            "INSERT INTO seen (phone, place, groups, outcome) VALUES (?, ?, ?, 0)",
            (phone, where, self._group_id(groups)),
        )

    def set_groups(self, phone: str, groups: tuple[str, ...]) -> None:
        """Replace a known number's groups (after a later row added some)."""
        self._update(phone, "groups", 1, self._group_id(groups))

    def settle(self, phone: str, outcome: Outcome) -> None:
        """Record what storing a number's first row did."""
        self._update(phone, "outcome", 2, int(outcome))

    def close(self) -> None:
        """Drop the scratch file, if there is one."""
        self._mem.clear()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _update(self, phone: str, column: str, index: int, value: int) -> None:
        entry = self._mem.get(phone)
        if entry is not None:
            self._mem[phone] = (*entry[:index], value, *entry[index + 1 :])  # type: ignore[assignment]
        elif self._db is not None:
            self._db.execute(f"UPDATE seen SET {column} = ? WHERE phone = ?", (value, phone))

    def _spill(self) -> None:
        # "" = a private temporary database on disk, removed when the connection closes
        db = sqlite3.connect("", isolation_level=None)
        db.execute(f"PRAGMA cache_size=-{int(self._cache_kib)}")
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute(
            "CREATE TABLE seen (phone TEXT PRIMARY KEY, place TEXT NOT NULL, "
            "groups INTEGER NOT NULL, outcome INTEGER NOT NULL) WITHOUT ROWID"
        )
        db.execute("BEGIN")  # one open transaction: no commit per statement
        db.executemany(
            "INSERT INTO seen (phone, place, groups, outcome) VALUES (?, ?, ?, ?)",
            ((phone, *entry) for phone, entry in self._mem.items()),
        )
        self._mem = {}
        self._db = db
        logger.info("import: over %d numbers; the rest are tracked on disk", self._spill_after)

    def _group_id(self, groups: tuple[str, ...]) -> int:
        found = self._group_ids.get(groups)
        if found is None:
            found = self._group_ids[groups] = len(self._group_sets)
            self._group_sets.append(groups)
        return found
