"""The `smsops` console script: hands the edges (routes, console token, Telegram) to bot.cli."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aiohttp
from aiohttp import web

from bot import cli
from bot.config.types import Config, TelegramConfig
from bot.edges import Fronts

# The edges load Slack and Telegram libraries: each is imported when first used, so commands
# such as `smsops contacts list` start without them.


def mount(app: web.Application, config: Config) -> None:
    """Install the error middleware and every HTTP route (handlers.routes)."""
    from handlers.routes import add_routes

    add_routes(app, config)


def console_token(config: Config) -> str | None:
    """The console token: configured, else the one the running server wrote."""
    from handlers.chat.console import read_console_token

    return read_console_token(config)


def console_token_path(config: Config) -> Path:
    """Where the running server writes a generated console token."""
    from handlers.chat.console import token_path

    return token_path(config)


async def set_telegram_webhook(
    settings: TelegramConfig, *, url: str, drop_pending_updates: bool
) -> None:
    """setWebhook with the configured secret_token, so only Telegram can post updates."""
    from handlers.chat.telegram import build_bot

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        bot = build_bot(settings, session)
        await bot.set_webhook(
            url=url,
            secret_token=settings.webhook_secret,
            allowed_updates=["message", "callback_query"],
            drop_pending_updates=drop_pending_updates,
        )


def fronts() -> Fronts:
    """Every edge the command line needs, wired to handlers/."""
    return Fronts(
        mount=mount,
        console_token=console_token,
        console_token_path=console_token_path,
        set_telegram_webhook=set_telegram_webhook,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `smsops` console script and `python -m handlers`; the exit status."""
    return cli.main(argv, fronts=fronts())
