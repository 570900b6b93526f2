"""Inbound STOP callbacks through the real HTTP server, beside a bare aiohttp + SQLite floor.

The real app (bot.server.build_app, dispatcher and simulator gateway running) listens on
127.0.0.1 with a temporary SQLite file; a load generator in a separate process posts real
Africa's Talking inbound form bodies, each a STOP from a different known contact, so every
request does the full path: stored, opt-out committed and audited, confirmation queued.
The floor is a bare aiohttp handler doing one autocommitted aiosqlite INSERT per request
(WAL, synchronous=NORMAL), measured in the same run with the same load generator.

Both servers stay up; rounds alternate floor, ours, floor, ours... so that load from
elsewhere on the machine hits both alike, and the figures are medians over the rounds. After
each of our runs the bench waits until the dispatcher has sent every confirmation, so that
background sending never overlaps a floor measurement. Each server gets closed-loop runs
(fixed number of requests, bounded concurrency) for throughput, then open-loop runs paced
at 1,000 requests/s for latency (bench/loadgen.py).

Run: .venv/bin/python -m bench.inbound [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiosqlite
from aiohttp import web

from bench.common import print_table
from bench.loadgen import drive
from tests.support.db import PRESENT, count_rows, unsettled

logger = logging.getLogger(__name__)

SECRET = "bench-callback-secret-0123"
CONCURRENCY = 64
PACED_RATE = 1000.0
WARMUP = 300

CONFIG = """
[organisation]
name = "Bench University"
timezone = "Africa/Nairobi"
default_region = "KE"

[database]
path = "bench.db"

[server]
host = "127.0.0.1"
port = 0

[gateways]
primary = "simulator"

[gateways.simulator]
delivery_delay_seconds = 1.0

[gateways.africastalking]
username = "sandbox"
api_key = "bench-unused-key"
callback_secret = "{secret}"
base_url = "http://127.0.0.1:9"

[people.admin]
name = "Admin"
role = "admin"
phone = "0712000003"
"""


def phone(i: int) -> str:
    """The i-th distinct Kenyan mobile number, in E.164."""
    return f"+2547{20_000_000 + i:08d}"


def form_body(i: int, tag: str) -> bytes:
    """A real-format Africa's Talking inbound callback body: a STOP from contact i."""
    fields = {
        "linkId": "",
        "text": "STOP",
        "to": "20880",
        "id": f"ATXid_{tag}_{i:07d}",
        "date": "2026-11-20 09:15:03",
        "from": phone(i),
        "networkCode": "63902",
        "cost": "None",
    }
    return urlencode(fields).encode()


async def _seed(config: Any, count: int) -> None:
    from bot.clock import Clock
    from bot.contacts.importer import ContactImporter
    from bot.contacts.phones import PhoneNormaliser
    from storage import open_database

    csv = Path(config.database_path).parent / "contacts.csv"
    csv.write_text(
        "Name,Phone,Club\n" + "".join(f"Student {i},{phone(i)},ict\n" for i in range(count)),
        encoding="utf-8",
    )
    db = await open_database(config.database)
    try:
        await ContactImporter(db, PhoneNormaliser("KE"), clock=Clock()).run(csv)
    finally:
        await db.close()


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


class _Target:
    """One server under test: where to post, which contacts are still unused, how to settle."""

    def __init__(self, name: str, url: str, warm_url: str, settle: Any = None):
        self.name = name
        self.url = url
        self.warm_url = warm_url
        self.settle = settle
        self.next = 0
        self.closed: list[dict[str, Any]] = []
        self.paced: list[dict[str, Any]] = []

    async def drive(self, mode: str, n: int, **extra: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {"mode": mode, "url": self.url, "warm_url": self.warm_url}
        spec |= {"first": self.next, "n": n}
        spec |= {"tag": f"{self.name}{self.next}"} | extra
        self.next += n
        result = await drive(spec | {"body": "bench.inbound:form_body"})
        if self.settle is not None:  # let background sending finish before anything else runs
            await self.settle()
        return result


async def _start_ours(folder: Path, contacts: int) -> tuple[web.AppRunner, _Target, Any]:
    from bot.config.loader import load_config
    from bot.server import CORE, build_app
    from handlers.routes import add_routes

    path = folder / "smsops.toml"
    path.write_text(CONFIG.format(secret=SECRET), encoding="utf-8")
    config = load_config(path)
    await _seed(config, contacts)
    app = build_app(config, mount=add_routes)
    runner, base = await _serve(app)
    core = app[CORE]

    async def settle() -> None:
        """Wait until the dispatcher has sent every queued reply and reports have come back."""
        async with asyncio.timeout(120):
            while True:
                if not await unsettled(core.db):
                    return
                await asyncio.sleep(0.1)

    url = f"{base}/callbacks/africastalking/{SECRET}/inbound"
    target = _Target("o", url, f"{base}/healthz", settle)
    return runner, target, config


async def _verify(config: Any, total: int) -> dict[str, Any]:
    from storage import open_database

    db = await open_database(config.database)
    try:
        checks: dict[str, Any] = {
            "stored": await count_rows(db, "inbound", outcome="opted_out"),
            "opted_out": await count_rows(db, "contacts", opted_out_at=PRESENT),
            "confirmations": await count_rows(db, "outbox", inbound_id=PRESENT),
            "audited": await count_rows(db, "audit_log", action="contact.optout"),
        }
    finally:
        await db.close()
    checks["verified"] = all(v == total for v in checks.values())
    return checks


async def _start_floor(folder: Path) -> tuple[web.AppRunner, _Target, aiosqlite.Connection]:
    """A bare aiohttp handler doing one SQLite INSERT per request, with the same pragmas."""
    db = await aiosqlite.connect(folder / "floor.db", isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute(
        "CREATE TABLE inbound (id INTEGER PRIMARY KEY, provider_id TEXT UNIQUE, sender TEXT, "
        "text TEXT, received_at TEXT)"
    )

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        cur = await db.execute(
            "INSERT INTO inbound (provider_id, sender, text, received_at) VALUES (?, ?, ?, ?)",
            (form["id"], form["from"], form["text"], form["date"]),
        )
        return web.json_response({"ok": True, "id": cur.lastrowid})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/inbound", handler)
    app.router.add_get("/healthz", healthz)
    runner, base = await _serve(app)
    return runner, _Target("f", f"{base}/inbound", f"{base}/healthz"), db


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


async def run(*, quick: bool = False) -> dict[str, Any]:
    """Ours and the floor, interleaved round by round; medians of each, and their ratio."""
    closed_n = 2000 if quick else 5000
    paced_n = 2000 if quick else 5000
    rounds = 3
    contacts = WARMUP + rounds * (closed_n + paced_n)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ours").mkdir()
        (Path(tmp) / "floor").mkdir()
        ours_runner, ours, config = await _start_ours(Path(tmp) / "ours", contacts)
        floor_runner, floor, floor_db = await _start_floor(Path(tmp) / "floor")
        try:
            for target in (floor, ours):
                await target.drive("closed", WARMUP, concurrency=16)
            for _ in range(rounds):
                for target in (floor, ours):
                    target.closed.append(
                        await target.drive("closed", closed_n, concurrency=CONCURRENCY)
                    )
            for _ in range(rounds):
                for target in (floor, ours):
                    target.paced.append(await target.drive("paced", paced_n, rate=PACED_RATE))
        finally:
            await ours_runner.cleanup()
            await floor_runner.cleanup()
            await floor_db.close()
        checks = await _verify(config, ours.next)
    ours_rate, floor_rate = _median(ours.closed, "per_s"), _median(floor.closed, "per_s")
    everything = ours.closed + ours.paced + floor.closed + floor.paced
    return {
        "messages_per_s": round(ours_rate),
        "p50_ms": round(_median(ours.closed, "p50_ms"), 2),
        "p99_ms": round(_median(ours.closed, "p99_ms"), 2),
        "paced_rate": PACED_RATE,
        "paced_p50_ms": round(_median(ours.paced, "p50_ms"), 2),
        "paced_p99_ms": round(_median(ours.paced, "p99_ms"), 2),
        "floor_per_s": round(floor_rate),
        "floor_p50_ms": round(_median(floor.closed, "p50_ms"), 2),
        "floor_p99_ms": round(_median(floor.closed, "p99_ms"), 2),
        "floor_paced_p99_ms": round(_median(floor.paced, "p99_ms"), 2),
        "ratio": round(ours_rate / floor_rate, 3),
        "ratios_per_round": [
            round(o["per_s"] / f["per_s"], 3)
            for o, f in zip(ours.closed, floor.closed, strict=True)
        ],
        "ours_per_round": [round(r["per_s"]) for r in ours.closed],
        "floor_per_round": [round(r["per_s"]) for r in floor.closed],
        "requests": closed_n,
        "rounds": rounds,
        "concurrency": CONCURRENCY,
        "errors": sum(r["errors"] for r in everything),
        "verified": checks.pop("verified"),
        "checks": checks,
    }


def main() -> None:
    """Print the inbound benchmark."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2,000 requests per run, not 5,000")
    args = parser.parse_args()
    r = asyncio.run(run(quick=args.quick))
    print_table(
        f"inbound STOP callbacks ({r['requests']:,} requests x {r['rounds']} rounds, "
        f"{r['concurrency']} concurrent; medians)",
        [
            ("ours: full path", f"{r['messages_per_s']:,} messages/s"),
            ("ours: latency p50 / p99", f"{r['p50_ms']} / {r['p99_ms']} ms"),
            (
                f"ours: paced at {r['paced_rate']:,.0f}/s p50 / p99",
                f"{r['paced_p50_ms']} / {r['paced_p99_ms']} ms  (target p99 < 50 ms)",
            ),
            ("floor: bare aiohttp + 1 INSERT", f"{r['floor_per_s']:,} requests/s"),
            ("floor: latency p50 / p99", f"{r['floor_p50_ms']} / {r['floor_p99_ms']} ms"),
            ("floor: paced p99", f"{r['floor_paced_p99_ms']} ms"),
            ("ratio (ours / floor)", f"{r['ratio']:.2f}  (target ≥ 0.8)"),
            ("ratio per round", ", ".join(f"{x:.2f}" for x in r["ratios_per_round"])),
            ("errors / verified", f"{r['errors']} / {r['verified']} {r['checks']}"),
        ],
    )
    print(json.dumps(r))


if __name__ == "__main__":
    main()
