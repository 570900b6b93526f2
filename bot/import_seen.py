"""Which row of a contact file first gave each number: the importer's "first row wins" memory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum

logger = logging.getLogger(__name__)

# One int per number: row (32 bits) | outcome (2 bits) | place prefix (30 bits) | groups index.
_ROW_BITS = 32
_OUTCOME_SHIFT = _ROW_BITS
_PREFIX_SHIFT = _OUTCOME_SHIFT + 2
_GROUP_SHIFT = _PREFIX_SHIFT + 30


def _field(packed: int, shift: int, bits: int) -> int:
    return (packed >> shift) & ((1 << bits) - 1)


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
    """Numbers seen so far in one import, one small int each so a million-row file stays small.

    A row's ``where`` is kept as an interned prefix plus the row number ("sheet Parents row "
    and 12), and its groups as an index into the distinct group tuples of the file.
    """

    def __init__(self) -> None:
        self._packed: dict[str, int] = {}
        self._prefixes: list[str] = []
        self._prefix_ids: dict[str, int] = {}
        self._group_sets: list[tuple[str, ...]] = []
        self._group_ids: dict[tuple[str, ...], int] = {}

    def __len__(self) -> int:
        return len(self._packed)

    def get(self, phone: str) -> First | None:
        """Return what is known about a number, or None if this file has not given it yet."""
        packed = self._packed.get(phone)
        if packed is None:
            return None
        row = _field(packed, 0, _ROW_BITS)
        prefix = self._prefixes[_field(packed, _PREFIX_SHIFT, 30)]
        outcome = Outcome(_field(packed, _OUTCOME_SHIFT, 2))
        groups = self._group_sets[packed >> _GROUP_SHIFT]
        return First(f"{prefix}{row}" if row else prefix, groups, outcome)

    def add(self, phone: str, *, where: str, row: int, groups: tuple[str, ...]) -> None:
        """Remember the row that first gave a number, and its groups."""
        digits = str(row)
        prefix = where[: -len(digits)]
        if not (0 < row < (1 << _ROW_BITS) and where.endswith(digits)):
            prefix, row = where, 0  # a place that is not "<prefix><row>": keep the whole text
        prefix_id = self._prefix_ids.get(prefix)
        if prefix_id is None:
            prefix_id = self._prefix_ids[prefix] = len(self._prefixes)
            self._prefixes.append(prefix)
        self._packed[phone] = (
            row | (prefix_id << _PREFIX_SHIFT) | (self._group_id(groups) << _GROUP_SHIFT)
        )

    def set_groups(self, phone: str, groups: tuple[str, ...]) -> None:
        """Replace a known number's groups (after a later row added some)."""
        low = self._packed[phone] & ((1 << _GROUP_SHIFT) - 1)
        self._packed[phone] = low | (self._group_id(groups) << _GROUP_SHIFT)

    def settle(self, phone: str, outcome: Outcome) -> None:
        """Record what storing a number's first row did."""
        mask = 0b11 << _OUTCOME_SHIFT
        self._packed[phone] = (self._packed[phone] & ~mask) | (int(outcome) << _OUTCOME_SHIFT)

    def _group_id(self, groups: tuple[str, ...]) -> int:
        found = self._group_ids.get(groups)
        if found is None:
            found = self._group_ids[groups] = len(self._group_sets)
            self._group_sets.append(groups)
        return found
