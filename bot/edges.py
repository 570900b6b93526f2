"""What the core's CLI and app need from the edges (handlers/), handed in by the entry point.

Imports point one way (handlers -> bot -> storage and gateway), so bot/ never imports
handlers/: the console script in handlers/ builds a `Fronts` and passes it to `bot.cli.main`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aiohttp import web

from bot.config.types import Config, TelegramConfig

Mount = Callable[[web.Application, Config], None]
"""Installs the edges' middleware and routes on the app (see bot.server.build_app)."""


class WebhookSetter(Protocol):
    """Registers `url` and the configured secret as the Telegram bot's webhook."""

    async def __call__(
        self, settings: TelegramConfig, *, url: str, drop_pending_updates: bool
    ) -> None:
        """Call the Bot API's setWebhook."""


@dataclass(frozen=True, slots=True)
class Fronts:
    """The edges' callables the CLI uses: routes to serve, the console token, Telegram set-up."""

    mount: Mount
    console_token: Callable[[Config], str | None]
    console_token_path: Callable[[Config], Path]
    set_telegram_webhook: WebhookSetter
