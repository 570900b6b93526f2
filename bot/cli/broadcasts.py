"""`smsops broadcasts ...`: the core's lifecycle from a terminal."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from bot.broadcasts.rules import Outcome
from bot.broadcasts.text import format_preview, format_status
from bot.config.types import Config, Person
from bot.core import open_core  # no gateways: the running server does the sending
from bot.errors import UserError
from bot.views import BroadcastKind


def register(sub: Any) -> None:
    """Add the broadcasts commands."""
    b = sub.add_parser("broadcasts", help="compose, approve and follow broadcasts")
    bs = b.add_subparsers(dest="broadcasts_command", metavar="ACTION", required=True)
    create = bs.add_parser("create", help="compose a broadcast and show its preview")
    create.add_argument("audience", help="e.g. club:ict, 'dept:ict -club:chess', all")
    create.add_argument("message")
    create.add_argument("--as", dest="person", required=True, help="person id from config")
    create.add_argument("--at", help="send time, e.g. '2026-12-01 07:00' (organisation zone)")
    create.add_argument("--kind", choices=tuple(BroadcastKind), default=BroadcastKind.ALERT)
    create.add_argument("--sender", help="sender id")
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=create_cmd)
    for name, helptext in (
        ("approve", "approve (or, below the threshold, confirm) a broadcast"),
        ("reject", "reject a broadcast"),
        ("cancel", "cancel a broadcast's unsent messages"),
        ("resend", "re-send the messages left `unknown` by a crash or timeout, on purpose"),
        ("pause", "pause a sending broadcast"),
        ("resume", "resume a paused broadcast"),
    ):
        p = bs.add_parser(name, help=helptext)
        p.add_argument("id", type=int)
        p.add_argument("--as", dest="person", required=True)
        p.set_defaults(handler=action_cmd, action=name)
    show = bs.add_parser("show", help="state, counts and cost of one broadcast")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_cmd)
    ls = bs.add_parser("list", help="recent broadcasts")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_cmd)


def person_for(config: Config, person_id: str) -> Person:
    """The configured person, or a one-line error listing who exists."""
    person = config.people.get(person_id)
    if person is None:
        known = ", ".join(sorted(config.people)) or "nobody"
        raise UserError(f"no person {person_id!r} in config (known: {known})")
    return person


async def create_cmd(args: argparse.Namespace, config: Config) -> int:
    """Compose a broadcast and print its preview."""
    person = person_for(config, args.person)
    send_at = None
    if args.at:
        try:
            send_at = datetime.fromisoformat(args.at).replace(tzinfo=config.timezone)
        except ValueError:
            raise UserError(f"--at: not a time like '2026-12-01 07:00': {args.at!r}") from None
    async with open_core(config) as core:
        view = await core.broadcasts.compose(
            audience=args.audience,
            message=args.message,
            requester=person,
            kind=args.kind,
            send_at=send_at,
            sender_id=args.sender,
        )
    print(json.dumps(view.as_json(), ensure_ascii=False) if args.json else format_preview(view))
    return 0


async def action_cmd(args: argparse.Namespace, config: Config) -> int:
    """approve / reject / cancel / resend / pause / resume one broadcast as a person."""
    person = person_for(config, args.person)
    async with open_core(config) as core:
        svc = core.broadcasts
        if args.action == "resend":
            count = await svc.resend_unknown(args.id, person=person)
            print(f"broadcast {args.id}: {count} unknown message(s) queued again")
            return 0
        if args.action in ("pause", "resume"):
            moved = await svc.pause(args.id, person=person, paused=args.action == "pause")
            print(
                f"broadcast {args.id}: {args.action}d"
                if moved
                else f"broadcast {args.id}: cannot {args.action} in its state"
            )
            return 0 if moved else 1
        method = {"approve": svc.approve, "reject": svc.reject, "cancel": svc.cancel}[args.action]
        decision = await method(args.id, person=person)
    print(decision.message)
    return 1 if decision.outcome == Outcome.REFUSED else 0


async def show_cmd(args: argparse.Namespace, config: Config) -> int:
    """Print one broadcast's state and counts."""
    async with open_core(config) as core:
        view = await core.broadcasts.view(args.id)
    print(json.dumps(view.as_json(), ensure_ascii=False) if args.json else format_status(view))
    return 0


async def list_cmd(args: argparse.Namespace, config: Config) -> int:
    """Print recent broadcasts."""
    async with open_core(config) as core:
        views = await core.broadcasts.recent(limit=20)
    if args.json:
        print(json.dumps([v.as_json() for v in views], ensure_ascii=False))
    for v in [] if args.json else views:
        print(format_status(v))
    return 0
