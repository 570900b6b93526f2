"""`smsops serve` and the other commands that act on the running service."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from functools import partial
from typing import Any

from bot.cli.gateway import register as register_gateway
from bot.config.types import Config
from bot.edges import Fronts
from storage.lease import LeaseHeld

logger = logging.getLogger(__name__)


def register(sub: Any, *, fronts: Fronts) -> None:
    """Add serve and the operational commands to the parser."""
    serve = sub.add_parser("serve", help="run the HTTP server, dispatch worker and gateways")
    serve.set_defaults(handler=partial(serve_cmd, fronts=fronts))
    register_gateway(sub)


async def serve_cmd(args: argparse.Namespace, config: Config, *, fronts: Fronts) -> int:
    """Run until SIGINT or SIGTERM, then finish in-flight writes and stop.

    The port is bound, then the database's instance lease taken, before any recovery or sending:
    a second server on the same port or database exits 2 having changed nothing.
    """
    from aiohttp import web

    from bot.server import STOP, build_app

    try:
        sock = listen(config.server.host, config.server.port)
    except OSError as exc:
        print(
            f"smsops: cannot listen on {config.server.host}:{config.server.port}: "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    app = build_app(config, mount=fronts.mount)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    try:
        await runner.setup()
    except LeaseHeld as exc:
        sock.close()
        print(f"smsops: {exc}", file=sys.stderr)
        return 2
    site = web.SockSite(runner, sock)
    await site.start()
    for address in runner.addresses:
        logger.info("listening on http://%s:%s", *address[:2])
    stop = app[STOP]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("shutting down: finishing writes in flight")
    await runner.cleanup()
    logger.info("stopped")
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp's TCPSite does
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
