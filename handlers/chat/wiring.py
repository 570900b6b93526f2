"""Mounting the chat fronts: routes at build time; fronts and notifiers once the core exists."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.config.types import Config
from bot.core import Core
from bot.server import NOTIFIER, ON_CORE, SESSION
from handlers.chat import console, slack, telegram
from handlers.chat.commands import Commands
from handlers.chat.front import Front, FrontKind

logger = logging.getLogger(__name__)

FRONTS: tuple[FrontKind[Any], ...] = (console.KIND, slack.KIND, telegram.KIND)
"""Every kind of front, in start-up order; each is mounted when the config sets it up."""


@dataclass(slots=True)
class ChatFronts:
    """The running fronts by platform; filled in at start-up."""

    running: dict[str, Front] = field(default_factory=dict)


CHAT = web.AppKey("chat", ChatFronts)


def add_chat_routes(app: web.Application, config: Config) -> None:
    """Register the route of each configured front (e.g. /slack/events) and the start-up hook."""
    app[CHAT] = ChatFronts()
    for kind in FRONTS:
        if kind.configured(config):
            app.router.add_post(kind.path, _route(kind.platform))
    app[ON_CORE].append(start_fronts)
    app.cleanup_ctx.append(_stop_fronts)


async def start_fronts(app: web.Application, core: Core) -> None:
    """Build the fronts on the core and the shared session; add their notifiers. No network."""
    running = app[CHAT].running
    commands = Commands(core)
    for kind in FRONTS:
        settings = kind.settings(core.config)
        if settings is None:
            continue
        front = kind.build(settings, commands=commands, session=app[SESSION])
        running[kind.platform] = front
        await front.start()
        app[NOTIFIER].add(front.notifier)
    logger.info("chat fronts: %s", ", ".join(running))


async def _stop_fronts(app: web.Application) -> AsyncIterator[None]:
    """Runs after the core's start-up; on clean-up, stops the fronts before the core closes."""
    yield
    for front in reversed(app[CHAT].running.values()):
        try:
            await front.stop()
        except Exception:
            logger.exception("stopping %s failed", type(front).__name__)


def _route(platform: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler of a front's route: the running front answers, or 503 while starting."""

    async def handle(request: web.Request) -> web.Response:
        front = request.app[CHAT].running.get(platform)
        if front is None:
            raise web.HTTPServiceUnavailable(text="starting up; try again")
        return await front.handle(request)

    return handle
