"""Assembly of the one aiohttp application: store, session, gateways, core, and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot import __version__
from bot.clock import Clock
from bot.config_types import Config
from bot.phones import PhoneNormaliser
from storage.db import Database

logger = logging.getLogger(__name__)

CONFIG = web.AppKey("config", Config)
DB = web.AppKey("db", Database)
SESSION = web.AppKey("session", aiohttp.ClientSession)
CLOCK = web.AppKey("clock", Clock)
PHONES = web.AppKey("phones", PhoneNormaliser)


def build_app(config: Config, *, clock: Clock | None = None) -> web.Application:
    """Create the application; resources open on start-up and close on clean-up."""
    app = web.Application(client_max_size=config.server.max_body_bytes)
    app[CONFIG] = config
    app[CLOCK] = clock or Clock()
    app[PHONES] = PhoneNormaliser(config.default_region)
    app.cleanup_ctx.append(_resources)
    app.router.add_get("/healthz", healthz)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    app[DB] = await Database.open(config.database_path)
    app[SESSION] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    logger.info("database %s open", config.database_path)
    try:
        yield
    finally:
        await app[SESSION].close()
        await app[DB].close()
        logger.info("database closed")


async def healthz(request: web.Request) -> web.Response:
    """200 with version, database state and each gateway's state."""
    app = request.app
    db_ok = await app[DB].ping()
    return web.json_response(
        {"version": __version__, "database": {"ok": db_ok}, "gateways": {}},
        status=200 if db_ok else 503,
    )
