"""One notifier fake: keeps everything the core told the chat fronts."""

from __future__ import annotations

from bot.clock import Clock
from bot.notify import NullNotifier
from bot.views import BroadcastView, InboxView


class Recorder(NullNotifier):
    """Keeps alerts, broadcast updates, inbox messages and when (on `clock`) progress came."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.alerts: list[str] = []
        self.updates: list[BroadcastView] = []
        self.messages: list[InboxView] = []
        self.progress_at: list[float] = []

    async def broadcast_updated(self, view: BroadcastView) -> None:
        self.updates.append(view)

    async def progress(self, view: BroadcastView) -> None:
        self.progress_at.append(self.clock.monotonic())

    async def inbox(self, message: InboxView) -> None:
        self.messages.append(message)

    async def alert(self, text: str) -> None:
        self.alerts.append(text)
