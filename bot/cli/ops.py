"""`smsops serve` and the other commands that act on the running service."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from functools import partial
from typing import Any

from bot.cli.gateway import register as register_gateway
from bot.config.types import Config
from bot.edges import Fronts

logger = logging.getLogger(__name__)


def register(sub: Any, *, fronts: Fronts) -> None:
    """Add serve and the operational commands to the parser."""
    serve = sub.add_parser("serve", help="run the HTTP server, dispatch worker and gateways")
    serve.set_defaults(handler=partial(serve_cmd, fronts=fronts))
    register_gateway(sub)


async def serve_cmd(args: argparse.Namespace, config: Config, *, fronts: Fronts) -> int:
    """Run until SIGINT or SIGTERM, then finish in-flight writes and stop."""
    from aiohttp import web

    from bot.server import build_app

    app = build_app(config, mount=fronts.mount)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.server.host, config.server.port)
    await site.start()
    for address in runner.addresses:
        logger.info("listening on http://%s:%s", *address[:2])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("shutting down: finishing writes in flight")
    await runner.cleanup()
    logger.info("stopped")
    return 0
