"""Small in-memory collections that cannot grow without bound in a long-running process."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, MutableMapping
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class RecentSet(Generic[T]):
    """A set that forgets its oldest members once it holds more than `limit`."""

    def __init__(self, limit: int):
        self.limit = limit
        self._items: OrderedDict[T, None] = OrderedDict()

    def add(self, item: T) -> None:
        """Add (or refresh) an item, forgetting the oldest beyond the limit."""
        self._items[item] = None
        self._items.move_to_end(item)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def discard(self, item: T) -> None:
        """Forget an item if present."""
        self._items.pop(item, None)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)


def cap(mapping: MutableMapping[Any, Any], limit: int) -> None:
    """Drop the oldest-inserted entries of a dict until it holds at most `limit`."""
    while len(mapping) > limit:
        mapping.pop(next(iter(mapping)))
