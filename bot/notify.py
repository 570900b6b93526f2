"""The small interface the core uses to tell chat fronts things, and a fan-out over several."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from bot.views import BroadcastView, InboxView

logger = logging.getLogger(__name__)


class Notifier(Protocol):
    """What the core may tell people: approval cards, state changes, progress, inbox, alerts."""

    async def approval_requested(self, view: BroadcastView) -> None:
        """A broadcast needs an approver."""

    async def broadcast_updated(self, view: BroadcastView) -> None:
        """A broadcast changed state (approved, rejected, cancelled, paused, expired, done)."""

    async def progress(self, view: BroadcastView) -> None:
        """Counts of a sending broadcast changed."""

    async def inbox(self, message: InboxView) -> None:
        """A recipient wrote something that is not a keyword."""

    async def alert(self, text: str) -> None:
        """Something staff must know about (e.g. the gateway balance ran out)."""


class NullNotifier:
    """Tells nobody; for the CLI and tests that do not watch chat."""

    async def approval_requested(self, view: BroadcastView) -> None:
        """Do nothing."""

    async def broadcast_updated(self, view: BroadcastView) -> None:
        """Do nothing."""

    async def progress(self, view: BroadcastView) -> None:
        """Do nothing."""

    async def inbox(self, message: InboxView) -> None:
        """Do nothing."""

    async def alert(self, text: str) -> None:
        """Log the alert."""
        logger.warning("alert: %s", text)


class FanOut:
    """Passes every notification to each notifier; one failing front never stops the others."""

    def __init__(self, notifiers: Sequence[Notifier] = ()):
        self.notifiers = list(notifiers)

    @property
    def listening(self) -> bool:
        """Whether any front is registered."""
        return bool(self.notifiers)

    def add(self, notifier: Notifier) -> None:
        """Register another front."""
        self.notifiers.append(notifier)

    async def _each(self, method: str, *args: object) -> None:
        for n in self.notifiers:
            try:
                await getattr(n, method)(*args)
            except Exception:
                logger.exception("notifier %s.%s failed", type(n).__name__, method)

    async def approval_requested(self, view: BroadcastView) -> None:
        """Fan out."""
        await self._each("approval_requested", view)

    async def broadcast_updated(self, view: BroadcastView) -> None:
        """Fan out."""
        await self._each("broadcast_updated", view)

    async def progress(self, view: BroadcastView) -> None:
        """Fan out."""
        await self._each("progress", view)

    async def inbox(self, message: InboxView) -> None:
        """Fan out."""
        await self._each("inbox", message)

    async def alert(self, text: str) -> None:
        """Fan out, and log."""
        logger.warning("alert: %s", text)
        await self._each("alert", text)
