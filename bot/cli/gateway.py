"""`smsops gateway test`: one test SMS through the primary gateway, its answer explained."""

from __future__ import annotations

import argparse
from typing import Any

from bot.config.types import Config


def register(sub: Any) -> None:
    """Add the gateway commands."""
    gw = sub.add_parser("gateway", help="gateway checks").add_subparsers(
        dest="gateway_command", metavar="ACTION", required=True
    )
    test = gw.add_parser("test", help="send one test SMS (default: to the admin's phone)")
    test.add_argument("number", nargs="?")
    test.set_defaults(handler=gateway_test_cmd)


async def gateway_test_cmd(args: argparse.Namespace, config: Config) -> int:
    """Send one test SMS through the primary gateway and explain the answer."""
    import aiohttp

    from bot.contacts.phones import PhoneNormaliser
    from bot.errors import UserError
    from bot.server import build_gateways
    from gateway.base import GatewayError, OutgoingMessage, SendOutcome
    from gateway.kinds import BY_NAME

    phones = PhoneNormaliser(config.default_region)
    if args.number:
        number = phones.normalise(args.number)
    else:
        admins = [p for p in config.people.values() if p.role == "admin"]
        if not admins:
            raise UserError("no NUMBER given and no person with role admin in config")
        number = admins[0].phone
    name = config.gateways.primary
    kind = BY_NAME[name]
    if kind.untestable is not None:
        raise UserError(kind.untestable)
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
            await gw.close()
    ok = True
    for r in results:
        if r.outcome is SendOutcome.ACCEPTED:
            print(f"{name}: accepted for {r.phone}: {r.status} id={r.provider_id} cost={r.cost}")
        else:
            ok = False
            print(f"{name}: not sent to {r.phone}: {kind.diagnose(r)}")
    return 0 if ok else 1
