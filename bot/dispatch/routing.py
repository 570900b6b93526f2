"""Routing between a primary and an optional fallback gateway, with a back-off after failures."""

from __future__ import annotations

import logging
from typing import Any

from bot.clock import Clock

logger = logging.getLogger(__name__)

MAX_DOWN_SECONDS = 60.0


class Router:
    """The primary is used while healthy; the fallback only while the primary backs off."""

    def __init__(self, primary: str, fallback: str | None, *, clock: Clock):
        self.primary = primary
        self.fallback = fallback if fallback != primary else None
        self.clock = clock
        self.down_until: dict[str, float] = {}
        self.failures: dict[str, int] = {}

    def _up(self, name: str) -> bool:
        return self.clock.monotonic() >= self.down_until.get(name, 0.0)

    def usable(self, name: str) -> bool:
        """Whether a lane of `name` may claim work now."""
        if name == self.primary:
            return self._up(name)
        if name == self.fallback:
            return not self._up(self.primary) and self._up(name)
        return False

    def has_fallback_for(self, name: str) -> bool:
        """Whether work that failed on `name` can go to another gateway at once."""
        return name == self.primary and self.fallback is not None

    def failed(self, name: str, *, retry_after: float | None) -> None:
        """A request failed on `name`: back off, honouring Retry-After."""
        count = self.failures.get(name, 0) + 1
        self.failures[name] = count
        delay = min(MAX_DOWN_SECONDS, 2.0 ** (count - 1))
        if retry_after is not None:
            delay = max(delay, retry_after)
        self.down_until[name] = self.clock.monotonic() + delay
        logger.warning("gateway %s failed (%d in a row); backing off %.1fs", name, count, delay)

    def succeeded(self, name: str) -> None:
        """A request went through: clear the back-off."""
        if self.failures.pop(name, 0):
            logger.info("gateway %s is answering again", name)
        self.down_until.pop(name, None)

    def health(self) -> dict[str, Any]:
        """Each routed gateway's role and back-off."""
        now = self.clock.monotonic()
        out: dict[str, Any] = {}
        for role, name in (("primary", self.primary), ("fallback", self.fallback)):
            if name is None:
                continue
            wait = max(0.0, self.down_until.get(name, 0.0) - now)
            out[name] = {
                "role": role,
                "state": "backing_off" if wait else "up",
                "retry_in_seconds": round(wait, 1),
                "consecutive_failures": self.failures.get(name, 0),
            }
        return out
