"""`smsops serve` and the other commands that act on the running service."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from bot.config_types import Config

logger = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add serve and the operational commands to the parser."""
    serve = sub.add_parser("serve", help="run the HTTP server, dispatch worker and gateways")
    serve.set_defaults(handler=serve_cmd)


async def serve_cmd(args: argparse.Namespace, config: Config) -> int:
    """Run until SIGINT or SIGTERM, then finish in-flight writes and stop."""
    from aiohttp import web

    from bot.app import build_app

    app = build_app(config)
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
