"""`smsops simulate inbound` and `smsops inbox ...`: inbound SMS from a terminal."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.clock import new_token
from bot.config.types import Config
from bot.core import open_core
from bot.inbound.service import InboundResult
from gateway.base import InboundSms

SIMULATOR = "simulator"


def register(sub: Any) -> None:
    """Add the simulate and inbox commands."""
    sim = sub.add_parser("simulate", help="pretend a gateway received something")
    ss = sim.add_subparsers(dest="simulate_command", metavar="WHAT", required=True)
    inbound = ss.add_parser("inbound", help="an SMS from a number, handled like a real one")
    inbound.add_argument("--from", dest="sender", required=True, metavar="NUMBER")
    inbound.add_argument("--to", dest="recipient", default=SIMULATOR, help="our number")
    inbound.add_argument("--id", dest="provider_id", help="provider id (default: random)")
    inbound.add_argument("text")
    inbound.add_argument("--json", action="store_true")
    inbound.set_defaults(handler=simulate_inbound_cmd)
    box = sub.add_parser("inbox", help="messages from recipients that were not keywords")
    bs = box.add_subparsers(dest="inbox_command", metavar="ACTION", required=True)
    ls = bs.add_parser("list", help="newest first")
    ls.add_argument("--unread", action="store_true", help="only messages not marked read")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=inbox_list_cmd)
    read = bs.add_parser("read", help="mark a message read")
    read.add_argument("id", type=int)
    read.set_defaults(handler=inbox_read_cmd)


def describe(result: InboundResult) -> str:
    """One line about what became of an inbound message."""
    if result.duplicate:
        return f"inbound {result.id} from {result.phone}: duplicate, ignored"
    line = f"inbound {result.id} from {result.phone}: {result.outcome.replace('_', ' ')}"
    if result.action:
        line += f" ({result.action}, {result.language})"
    if result.broadcast_id is not None:
        line += f"; answers broadcast {result.broadcast_id}"
    if result.reply is not None:
        line += f"; reply queued: {result.reply}"
    elif result.reply_suppressed:
        line += "; reply held back by the loop guard"
    return line


async def simulate_inbound_cmd(args: argparse.Namespace, config: Config) -> int:
    """Hand one SMS to the core's inbound handler, as the simulator gateway."""
    sms = InboundSms(
        gateway=SIMULATOR,
        provider_id=args.provider_id or f"SIMIN-{new_token(9)}",
        sender=args.sender,
        recipient=args.recipient,
        text=args.text,
    )
    async with open_core(config) as core:
        result = await core.inbound.handle(sms)
        await core.inbound.settled()
    if args.json:
        fields = ("id", "duplicate", "phone", "action", "language", "outcome", "reply")
        data = {name: getattr(result, name) for name in fields}
        data |= {"reply_suppressed": result.reply_suppressed, "broadcast_id": result.broadcast_id}
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(describe(result))
    return 0


async def inbox_list_cmd(args: argparse.Namespace, config: Config) -> int:
    """Print the newest inbox messages."""
    async with open_core(config) as core:
        rows = await core.inbound.inbox(unread_only=args.unread, limit=max(1, args.limit))
    if args.json:
        print(json.dumps([r.as_json() for r in rows], ensure_ascii=False))
        return 0
    if not rows:
        print("no unread messages" if args.unread else "no messages")
    for r in rows:
        who = f"{r.name} ({r.phone})" if r.name else r.phone
        flags = "" if r.read_at else " [unread]"
        flags += " [opted out]" if r.opted_out else ""
        flags += " [incomplete: some parts never arrived]" if r.incomplete else ""
        about = f" re broadcast {r.broadcast_id}" if r.broadcast_id is not None else ""
        print(f"{r.id}  {r.received_at[:16].replace('T', ' ')}  {who}{about}{flags}: {r.text}")
    return 0


async def inbox_read_cmd(args: argparse.Namespace, config: Config) -> int:
    """Mark one inbox message read."""
    async with open_core(config) as core:
        changed = await core.inbound.mark_read(args.id)
    print(f"message {args.id} marked read" if changed else f"message {args.id} was already read")
    return 0
