"""Mounting the chat fronts: routes at build time; fronts and notifiers once the core exists."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from bot.config.types import Config
from bot.core import Core
from bot.server import NOTIFIER, ON_CORE, SESSION
from handlers.chat.commands import Commands
from handlers.chat.console import ConsoleFront
from handlers.chat.slack import SlackFront
from handlers.chat.telegram import TelegramFront

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ChatFronts:
    """The running fronts; filled in at start-up."""

    commands: Commands | None = None
    console: ConsoleFront | None = None
    slack: SlackFront | None = None
    telegram: TelegramFront | None = None


CHAT = web.AppKey("chat", ChatFronts)


def add_chat_routes(app: web.Application, config: Config) -> None:
    """Register /console/command, /slack/events and /telegram/webhook and the start-up hook."""
    app[CHAT] = ChatFronts()
    app.router.add_post("/console/command", console_command)
    if config.slack is not None:
        app.router.add_post("/slack/events", slack_events)
    if config.telegram is not None:
        app.router.add_post("/telegram/webhook", telegram_webhook)
    app[ON_CORE].append(start_fronts)
    app.cleanup_ctx.append(_stop_fronts)


async def start_fronts(app: web.Application, core: Core) -> None:
    """Build the fronts on the core and the shared session; add their notifiers. No network."""
    fronts = app[CHAT]
    config = core.config
    session = app[SESSION]
    commands = Commands(core)
    fronts.commands = commands
    fronts.console = ConsoleFront(commands, config)
    fronts.console.start()
    app[NOTIFIER].add(fronts.console.notifier)
    if config.slack is not None:
        fronts.slack = SlackFront(config.slack, commands=commands, session=session, config=config)
        fronts.slack.start()
        app[NOTIFIER].add(fronts.slack.notifier)
    if config.telegram is not None:
        fronts.telegram = TelegramFront(
            config.telegram, commands=commands, session=session, config=config
        )
        await fronts.telegram.start()
        app[NOTIFIER].add(fronts.telegram.notifier)
    logger.info(
        "chat fronts: console%s%s",
        ", slack" if fronts.slack else "",
        ", telegram" if fronts.telegram else "",
    )


async def _stop_fronts(app: web.Application) -> AsyncIterator[None]:
    """Runs after the core's start-up; on clean-up, stops the fronts before the core closes."""
    yield
    fronts = app[CHAT]
    for front in (fronts.telegram, fronts.slack, fronts.console):
        if front is None:
            continue
        try:
            await front.stop()
        except Exception:
            logger.exception("stopping %s failed", type(front).__name__)


def _unavailable() -> web.HTTPServiceUnavailable:
    return web.HTTPServiceUnavailable(text="starting up; try again")


async def console_command(request: web.Request) -> web.Response:
    """POST /console/command."""
    front = request.app[CHAT].console
    if front is None:
        raise _unavailable()
    return await front.handle(request)


async def slack_events(request: web.Request) -> web.Response:
    """POST /slack/events: slash commands and interactivity."""
    front = request.app[CHAT].slack
    if front is None:
        raise _unavailable()
    return await front.handle(request)


async def telegram_webhook(request: web.Request) -> web.Response:
    """POST /telegram/webhook."""
    front = request.app[CHAT].telegram
    if front is None:
        raise _unavailable()
    return await front.handle(request)
