"""Injectable clock and id generation, so tests can control time and identifiers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass(slots=True)
class Clock:
    """Wall-clock time (aware UTC) and a monotonic counter; tests replace both."""

    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    mono: Callable[[], float] = field(default=time.monotonic)

    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        return self.wall()

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going backwards."""
        return self.mono()


class FrozenClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: datetime):
        self._now = start
        self._mono = 0.0
        super().__init__(wall=lambda: self._now, mono=lambda: self._mono)

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


def new_token(nbytes: int = 16) -> str:
    """A random URL-safe identifier."""
    return secrets.token_urlsafe(nbytes)
