"""Draining a broadcast into a fake Africa's Talking server, beside a bare aiohttp client floor.

Run: .venv/bin/python -m bench.dispatch [--full]
The fake runs in its own process. Ours: the real dispatch core (claim, send, settle in SQLite)
with the real Africa's Talking gateway. The floor: a bare aiohttp client posting the same
batches to the same fake, one request in flight as ours has. ratio = floor time / our time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import ROOT, peak_rss_mb, print_table, run_child

logger = logging.getLogger(__name__)

API_KEY = "bench-at-key"
BATCH = 100
POLL = 0.005  # how often `ours` looks whether the broadcast is done (its timing resolution)
CONFIG = """
[organisation]
name = "Bench"
[database]
path = "bench.db"
[gateways]
primary = "africastalking"
[gateways.africastalking]
username = "sandbox"
api_key = "{key}"
callback_secret = "bench-callback-secret"
base_url = "{url}"
[dispatch]
approval_threshold = 1000000000
batch_size = {batch}
[people.bench]
name = "Bench"
role = "admin"
phone = "0712000001"
"""


def numbers(n: int) -> list[str]:
    """n distinct valid Kenyan mobile numbers in E.164."""
    return [f"+2547{i:08d}" for i in range(10_000_000, 10_000_000 + n)]


async def ours(n: int, url: str) -> dict[str, Any]:
    """Seed n contacts, approve one broadcast, and time the dispatcher draining it."""
    from bot.clock import Clock
    from bot.config.loader import load_config
    from bot.core import build_core
    from gateway.africastalking.sender import AfricasTalkingGateway
    from storage import open_database
    from storage.contacts import ContactIn, upsert_batch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "smsops.toml"
        path.write_text(CONFIG.format(key=API_KEY, url=url, batch=BATCH), encoding="utf-8")
        config = load_config(path)
        db = await open_database(config.database)
        clock = Clock()
        phones = numbers(n)
        async with db.transaction() as tx:
            for i in range(0, n, 5000):
                rows = [ContactIn(phone=p, groups=("club:bench",)) for p in phones[i : i + 5000]]
                await upsert_batch(tx, rows, now=clock.now(), source="bench")
        del phones
        async with aiohttp.ClientSession() as session:
            gw = AfricasTalkingGateway(
                session=session, username="sandbox", api_key=API_KEY, base_url=url
            )
            core = build_core(config, db, gateways={"africastalking": gw}, clock=clock)
            person = config.people["bench"]
            view = await core.broadcasts.compose(
                audience="club:bench", message="Exam at 9", requester=person
            )
            await core.broadcasts.approve(view.id, person=person)
            start = time.perf_counter()
            core.dispatcher.start()
            while not await _done(db, view.id):
                await asyncio.sleep(POLL)
            elapsed = time.perf_counter() - start
            await core.dispatcher.stop()
            counts = (await core.broadcasts.view(view.id)).counts
        await db.close()
    return {
        "recipients": n,
        "seconds": elapsed,
        "sent": counts.sent,
        "peak_rss_mb": peak_rss_mb(),
    }


async def _done(db: Any, broadcast_id: int) -> bool:
    from storage import broadcasts

    async with db.read() as tx:
        row = await broadcasts.get(tx, broadcast_id)
    return row is not None and row.state == "done"


async def floor(n: int, url: str) -> float:
    """Seconds for a bare aiohttp client to post the same batches, one at a time."""
    phones = numbers(n)
    headers = {"apiKey": API_KEY, "Accept": "application/json"}
    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        for i in range(0, n, BATCH):
            form = {
                "username": "sandbox",
                "to": ",".join(phones[i : i + BATCH]),
                "message": "Exam at 9",
                "bulkSMSMode": "1",
            }
            async with session.post(
                f"{url}/version1/messaging", data=form, headers=headers
            ) as resp:
                await resp.json()
        return time.perf_counter() - start


class FakeProcess:
    """The fake Africa's Talking server in its own process."""

    def __init__(self, port: int):
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.africastalking",
                "--port",
                str(self.port),
                "--api-key",
                API_KEY,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"fake did not start: {line!r}")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(*, quick: bool = False) -> dict[str, Any]:
    """Measure at 10,000 and 100,000 recipients (and 1,000,000 unless quick)."""
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    table: dict[str, Any] = {}
    for n in sizes:
        with FakeProcess(_free_port()) as url:
            mine = run_child("bench.dispatch", "--child", str(n), url)
        with FakeProcess(_free_port()) as url:
            base = await floor(n, url)
        table[str(n)] = mine | {
            "floor_seconds": base,
            "ratio": base / mine["seconds"],
            "us_per_recipient": mine["seconds"] / n * 1e6,
        }
    main_size = table["100000"]
    result: dict[str, Any] = {
        "recipients": 100_000,
        "seconds": round(main_size["seconds"], 2),
        "floor_seconds": round(main_size["floor_seconds"], 2),
        "ratio": round(main_size["ratio"], 3),
        "peak_rss_mb": round(main_size["peak_rss_mb"], 1),
        "sizes": {
            k: {
                "seconds": round(v["seconds"], 2),
                "ratio": round(v["ratio"], 3),
                "us_per_recipient": round(v["us_per_recipient"], 1),
                "peak_rss_mb": round(v["peak_rss_mb"], 1),
            }
            for k, v in table.items()
        },
    }
    if "1000000" in table:
        result["growth_1m_vs_10k"] = round(
            table["1000000"]["us_per_recipient"] / table["10000"]["us_per_recipient"], 3
        )
    return result


def main() -> None:
    """Print the dispatch benchmark."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="also 1,000,000 recipients")
    parser.add_argument("--child", nargs=2, metavar=("N", "URL"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(ours(int(args.child[0]), args.child[1]))))
        return
    r = asyncio.run(run(quick=not args.full))
    rows = [
        (
            f"{int(k):,} recipients",
            f"{v['seconds']} s, {v['us_per_recipient']} µs each, "
            f"ratio {v['ratio']}, peak {v['peak_rss_mb']} MB",
        )
        for k, v in r["sizes"].items()
    ]
    rows.append(("ratio at 100,000 (floor/ours)", f"{r['ratio']}  (target ≥ 0.67)"))
    if "growth_1m_vs_10k" in r:
        rows.append(("time per recipient, 1M vs 10k", f"{r['growth_1m_vs_10k']}  (target ≤ 1.3)"))
    print_table("dispatch", rows)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
