"""`smsops modem probe PORT` and `smsops modem stats`: GSM modems from a terminal."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from typing import Any

from bot.clock import Clock
from bot.config.types import Config
from gateway.modem.probe import ProbeReport, probe
from storage import modem_usage, open_database


def register(sub: Any) -> None:
    """Add the modem commands."""
    m = sub.add_parser("modem", help="USB GSM modems: probe one, show per-SIM usage")
    ms = m.add_subparsers(dest="modem_command", metavar="ACTION", required=True)
    pr = ms.add_parser("probe", help="what is on PORT, and can it send? (stop `serve` first)")
    pr.add_argument("port", help="the modem's AT port, e.g. /dev/ttyUSB2")
    pr.add_argument("--baudrate", type=int, default=115200)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(handler=probe_cmd)
    st = ms.add_parser("stats", help="messages and segments sent per SIM per day")
    st.add_argument("--days", type=int, default=7, help="how many days back (default 7)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=stats_cmd)


def format_probe(report: ProbeReport) -> list[str]:
    """The probe's findings as aligned lines."""
    d = report.as_dict()
    signal = d["signal"]
    rows = [
        ("port", report.port),
        ("manufacturer", report.manufacturer),
        ("model", report.model),
        ("revision", report.revision),
        ("SIM", report.sim),
        ("IMSI", report.imsi),
        ("signal", f"{signal['rssi']}/31 ({signal['dbm']} dBm)" if signal["rssi"] else None),
        ("network", report.registration),
        ("operator", report.operator),
        ("SMS storage", report.storage),
        ("SMS centre", report.smsc),
        ("PDU mode", "yes" if report.pdu_mode else "no"),
        ("can send", "yes" if report.can_send else "NO"),
    ]
    lines = [f"{name:<13} {value if value is not None else '-'}" for name, value in rows]
    lines += [f"  problem: {p}" for p in report.problems]
    return lines


async def probe_cmd(args: argparse.Namespace, config: Config) -> int:
    """Probe a modem; exit 0 when it can send, 1 when it cannot."""
    report = await probe(args.port, baudrate=args.baudrate)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print("\n".join(format_probe(report)))
    return 0 if report.can_send else 1


async def stats_cmd(args: argparse.Namespace, config: Config) -> int:
    """Per-SIM daily usage against each configured limit, newest day first."""
    if args.days < 1:
        raise ValueError("--days must be at least 1")
    today = Clock().now().astimezone(config.timezone).date()
    first = (today - timedelta(days=args.days - 1)).isoformat()
    db = await open_database(config.database)
    try:
        async with db.read() as tx:
            rows = await modem_usage.since(tx, first)
    finally:
        await db.close()
    limits = {m.id: m for m in config.gateways.modems}
    seen = {(r.day, r.modem_id) for r in rows}
    rows += [
        modem_usage.UsageRow(mid, today.isoformat(), 0, 0)
        for mid in limits
        if (today.isoformat(), mid) not in seen
    ]
    rows.sort(key=lambda r: (r.day, r.modem_id), reverse=True)
    out = []
    for r in rows:
        modem = limits.get(r.modem_id)
        counts = "segments" if modem and modem.count_segments else "messages"
        used = r.segments if counts == "segments" else r.messages
        out.append(
            {
                "day": r.day,
                "modem": r.modem_id,
                "messages": r.messages,
                "segments": r.segments,
                "daily_limit": modem.daily_limit if modem else None,
                "limit_counts": counts,
                "remaining": max(0, modem.daily_limit - used) if modem else None,
            }
        )
    if args.json:
        print(json.dumps(out))
        return 0
    if not out:
        print("no modems configured and no usage recorded")
        return 0
    print(f"{'day':<10}  {'modem':<12} {'messages':>8} {'segments':>8}  limit")
    for o in out:
        limit = "-" if o["daily_limit"] is None else f"{o['daily_limit']} {o['limit_counts']}"
        line = f"{o['day']:<10}  {o['modem']:<12} {o['messages']:>8} {o['segments']:>8}  {limit}"
        if o["day"] == today.isoformat() and o["remaining"] is not None:
            line += f" ({o['remaining']} left today)"
        print(line)
    return 0
