"""`smsops serve` and the other commands that act on the running service."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from functools import partial
from typing import Any

from bot.config.types import Config
from bot.edges import Fronts

logger = logging.getLogger(__name__)


def register(sub: Any, *, fronts: Fronts) -> None:
    """Add serve and the operational commands to the parser."""
    serve = sub.add_parser("serve", help="run the HTTP server, dispatch worker and gateways")
    serve.set_defaults(handler=partial(serve_cmd, fronts=fronts))
    gw = sub.add_parser("gateway", help="gateway checks").add_subparsers(
        dest="gateway_command", metavar="ACTION", required=True
    )
    test = gw.add_parser("test", help="send one test SMS (default: to the admin's phone)")
    test.add_argument("number", nargs="?")
    test.set_defaults(handler=gateway_test_cmd)


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


_DIAGNOSES = {
    401: "RiskHold: Africa's Talking holds this account for review; contact their support",
    402: "InvalidSenderId: the sender id is not registered for this account",
    403: "InvalidPhoneNumber: the number is not valid for this route",
    404: "UnsupportedNumberType: this kind of number cannot receive SMS here",
    405: "InsufficientBalance: top up the account",
    406: "UserInBlacklist: the recipient has blocked messages from us",
    407: "CouldNotRoute: no route to this network; ask Africa's Talking to enable it",
    409: "DoNotDisturbRejection: the recipient has Do Not Disturb on",
}


async def gateway_test_cmd(args: argparse.Namespace, config: Config) -> int:
    """Send one test SMS through the primary gateway and explain the answer."""
    import aiohttp

    from bot.contacts.phones import PhoneNormaliser
    from bot.errors import UserError
    from bot.server import build_gateways
    from gateway.base import GatewayError, OutgoingMessage, SendOutcome

    phones = PhoneNormaliser(config.default_region)
    if args.number:
        number = phones.normalise(args.number)
    else:
        admins = [p for p in config.people.values() if p.role == "admin"]
        if not admins:
            raise UserError("no NUMBER given and no person with role admin in config")
        number = admins[0].phone
    name = config.gateways.primary
    if name == "modem":
        raise UserError("to test a modem, run `smsops modem probe PORT`")
    async with aiohttp.ClientSession() as session:
        gateways = build_gateways(config, session, on_report=None)
        gw = gateways.get(name)
        if gw is None:
            raise UserError(f"gateway {name} cannot be tested from the command line")
        text = f"smsops test message from {config.organisation}"
        try:
            results = await gw.send(OutgoingMessage(text=text, recipients=(number,)))
        except GatewayError as exc:
            print(f"{name}: request failed: {exc}")
            return 1
        finally:
            close = getattr(gw, "close", None)
            if close is not None:
                await close()
    ok = True
    for r in results:
        if r.outcome is SendOutcome.ACCEPTED:
            print(f"{name}: accepted for {r.phone}: {r.status} id={r.provider_id} cost={r.cost}")
        else:
            ok = False
            why = _DIAGNOSES.get(r.status_code or 0, r.reason or r.status)
            print(f"{name}: not sent to {r.phone}: {why}")
    return 0 if ok else 1
