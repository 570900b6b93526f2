"""`make soak`: the real `smsops serve` under a mixed load on 127.0.0.1, watched for leaks.

The server runs as a subprocess with Africa's Talking as its gateway, pointed at the fake
AT server (tests/fakes/africastalking.py) running in this process. The load (bench/loadgen.py
Recorder and paced loops) mixes REST broadcasts (create, approve as a second person, read),
inbound keyword callbacks (STOP/START/JOIN/LEAVE/HELP/free text, real AT form bodies),
delivery reports for every message id the fake handed out, and console chat commands.
The server's RSS and open file descriptors are sampled with psutil.

Flat after warm-up means: over the samples after the first 20% of the run (at least 10 s),
the least-squares slope of RSS is at most --max-rss-slope MB/minute, and the open fd count
varies by at most --max-fd-spread. The run fails (exit 1, reasons printed) on that, on any
request error or 5xx, on a server log with ERROR or a traceback, or on a server that does not
stop cleanly. Run: python -m bench.soak --minutes 30

The server runs with `database.cache_mb = 2`. SQLite's page cache keeps every page it reads
until it holds cache_mb (default 32 MB), and the soak's database grows all the time, so with
the default the RSS climbs ~0.6 MB/min for most of an hour and then stops: bounded, but it
would hide a real leak of the same size. A small cache fills during the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import psutil

from bench.common import ROOT
from bench.loadgen import Recorder, paced
from bench.soak_report import flatness, print_report
from tests.fakes.africastalking import AcceptedSms, FakeAfricasTalking
from tests.support.base import free_port, write_config
from tests.support.db import DbFile

logger = logging.getLogger(__name__)

RESULTS = ROOT / "bench" / "results" / "soak.json"
AT_KEY = "soak-at-api-key-0123"
SECRET = "soak-callback-secret-0123"
STAFF_TOKEN = "soak-registrar-token-0123456789"
DEAN_TOKEN = "soak-dean-token-0123456789abcd"
CONSOLE_TOKEN = "soak-console-token-0123456789abcdef"
CONTACTS, CLUBS = 600, 30
DLR_AFTER = 1.0  # seconds between the fake accepting a message and its delivery report


@dataclass(frozen=True, slots=True)
class Rates:
    """Requests started per second for each kind of load (delivery reports follow the sends)."""

    broadcasts: float = 0.5
    inbound: float = 4.0
    chat: float = 1.0
    health: float = 0.2


def contact_phone(i: int) -> str:
    """The i-th seeded contact's number in E.164 (as AT writes `from`)."""
    return f"+2547{30_000_000 + i:08d}"


async def _cli(config: Path, *args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handlers", "--config", str(config), *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"smsops {' '.join(args)} failed:\n{out.decode()[-2000:]}")


async def prepare(workdir: Path, at_url: str) -> tuple[Path, int]:
    """Write the config, create the database and seed contacts in CLUBS clubs and a choir."""
    port = free_port()
    config = write_config(
        workdir, org="Soak University", db_name="soak.db", cache_line="cache_mb = 2", port=port,
        primary="africastalking", at_key=AT_KEY, secret=SECRET, at_url=at_url, timeout=10,
        threshold=1, batch=50, attempts=5, backoff=0.2, backoff_max=2,
        api_token=STAFF_TOKEN, dean_token=DEAN_TOKEN,
        extra=f'\n[api]\nconsole_token = "{CONSOLE_TOKEN}"\n',
    )  # fmt: skip
    rows = [f"S{i},0{contact_phone(i)[4:]},Unit{i % CLUBS}" for i in range(CONTACTS)]
    csv = workdir / "contacts.csv"
    csv.write_text("Name,Phone,Club\n" + "\n".join(rows) + "\n", encoding="utf-8")
    await _cli(config, "db", "upgrade")
    await _cli(config, "contacts", "import", str(csv))
    await _cli(config, "groups", "create", "club:choir", "--joinable")
    return config, port


class Load:
    """The mixed load against one running server; every answer goes to the Recorder."""

    def __init__(self, rec: Recorder, fake: FakeAfricasTalking, *, seed: int):
        self.rec = rec
        self.fake = fake
        self.rng = random.Random(seed)
        self.broadcasts: list[int] = []
        self.reported = 0  # fake.accepted[:reported] have had their delivery report
        self.run_id = f"{int(time.time())}{os.getpid()}"

    async def broadcast(self, i: int, due: float) -> None:
        """REST: the registrar composes a small broadcast, the dean approves, someone reads it."""
        club = f"club:unit{self.rng.randrange(CLUBS)}"
        body = {"audience": club, "message": f"Soak notice {i}: the lab closes at 5pm"}
        headers = {"Authorization": f"Bearer {STAFF_TOKEN}"}
        name = "POST /api/v1/broadcasts"
        status, raw = await self.rec.call(
            name, "POST", "/api/v1/broadcasts", json=body, headers=headers, expect=(201,), due=due
        )
        if status != 201:
            return
        bid = int(json.loads(raw)["id"])
        self.broadcasts.append(bid)
        dean = {"Authorization": f"Bearer {DEAN_TOKEN}"}
        name = "POST /api/v1/broadcasts/{id}/approve"
        status, raw = await self.rec.call(name, "POST", f"/api/v1/broadcasts/{bid}/approve",
                                          headers=dean)  # fmt: skip
        if status == 200 and json.loads(raw)["outcome"] != "approved":
            self.rec.fail(name, f"broadcast {bid}: {raw[:200]!r}")
        if i % 3 == 0:
            old = self.rng.choice(self.broadcasts)
            await self.rec.call("GET /api/v1/broadcasts/{id}", "GET", f"/api/v1/broadcasts/{old}",
                                headers=headers)  # fmt: skip

    def _inbound_text(self, i: int) -> tuple[str, str]:
        roll = self.rng.random()
        sender = contact_phone(self.rng.randrange(CONTACTS))
        if roll < 0.15:
            return sender, self.rng.choice(("STOP", "Stop.", "stop", "ACHA"))
        if roll < 0.35:
            return sender, self.rng.choice(("START", "Start"))
        if roll < 0.5:
            return sender, self.rng.choice(("JOIN CHOIR", "join choir", "JIUNGE choir"))
        if roll < 0.6:
            return sender, self.rng.choice(("Leave choir", "LEAVE CHOIR"))
        if roll < 0.75:
            return sender, self.rng.choice(("HELP", "help", "MSAADA"))
        if roll < 0.95:
            return sender, f"Is the CAT on Friday still on? ({i})"
        return f"+2547{99_000_000 + self.rng.randrange(10**6):08d}", "Who is this?"

    async def inbound(self, i: int, due: float) -> None:
        """An inbound SMS callback as Africa's Talking posts it."""
        sender, text = self._inbound_text(i)
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        form = {"linkId": "", "text": text, "to": "20880", "id": f"ATXid_soak_{self.run_id}_{i}",
                "date": now, "from": sender, "networkCode": "63902", "cost": "None"}  # fmt: skip
        await self.rec.call(
            "POST /callbacks/at/inbound", "POST", f"/callbacks/africastalking/{SECRET}/inbound",
            data=urlencode(form), due=due,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip

    async def chat(self, i: int, due: float) -> None:
        """A console chat command; every tenth composes a broadcast that the dean approves."""
        step = i % 10
        person, command = "registrar", ("help", "groups", "list", "status")[step % 4]
        if step == 9:
            command = f'club:unit{self.rng.randrange(CLUBS)} "Chat notice {i}: bring ID cards"'
        elif step == 5 and self.broadcasts:
            person, command = "dean", f"status {self.rng.choice(self.broadcasts)}"
        reply = await self._console(person, command, due=due)
        if step == 9 and reply is not None and reply.get("broadcast"):
            await self._console("dean", f"approve {reply['broadcast']}", due=None)

    async def _console(self, person: str, command: str, *, due: float | None) -> dict[str, Any]:
        name = "POST /console/command"
        status, raw = await self.rec.call(
            name, "POST", "/console/command", json={"person": person, "command": command},
            headers={"Authorization": f"Bearer {CONSOLE_TOKEN}"}, due=due,
        )  # fmt: skip
        if status != 200:
            return {}
        reply: dict[str, Any] = json.loads(raw)
        if not reply["ok"]:
            self.rec.fail(name, f"{person}: {command!r} → {reply['text'][:200]!r}")
        return reply

    async def health(self, _i: int, due: float) -> None:
        """GET /healthz."""
        await self.rec.call("GET /healthz", "GET", "/healthz", due=due)

    async def deliveries(self, stop: asyncio.Event, db: Path) -> None:
        """Post a delivery report for each message the fake accepted, DLR_AFTER s later.

        After `stop`, go on until the server has nothing queued or sending and every
        accepted message has had its report.
        """
        while True:
            horizon = time.monotonic() - DLR_AFTER
            ready = self.fake.accepted[self.reported :]
            ready = [sms for sms in ready if sms.timestamp <= horizon]
            self.reported += len(ready)
            for start in range(0, len(ready), 16):
                await asyncio.gather(*(self._report(s) for s in ready[start : start + 16]))
            if stop.is_set() and self.reported == len(self.fake.accepted):
                states = outbox_states(db)
                if not states.get("queued") and not states.get("sending"):
                    return
            await asyncio.sleep(0.25)

    async def _report(self, sms: AcceptedSms) -> None:
        roll = self.rng.random()
        form = {"id": sms.message_id, "status": "Success", "phoneNumber": sms.number,
                "networkCode": "63902", "retryCount": "0"}  # fmt: skip
        if roll < 0.05:
            form |= {"status": "Failed", "failureReason": "UserInBlackList", "retryCount": "2"}
        elif roll < 0.1:
            form["status"] = "Buffered"
        await self.rec.call(
            "POST /callbacks/at/delivery", "POST", f"/callbacks/africastalking/{SECRET}/delivery",
            data=urlencode(form), headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip


def _sample(proc: psutil.Process, db: Path, t0: float, samples: list[list[float]]) -> None:
    """Append [seconds, RSS MB, open fds, database + WAL MB]."""
    rss = proc.memory_info().rss / 2**20
    files = (db, db.with_name(db.name + "-wal"))
    db_mb = sum(f.stat().st_size for f in files if f.exists()) / 2**20
    samples.append(
        [round(time.perf_counter() - t0, 1), round(rss, 2), proc.num_fds(), round(db_mb, 2)]
    )


async def _wait_healthy(url: str, server: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(30):
        while server.returncode is None:
            try:
                async with session.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server exited before answering /healthz")


def server_command(config: Path) -> list[str]:
    """The server under test: `smsops --config CONFIG serve`."""
    return [sys.executable, "-m", "handlers", "--config", str(config), "serve"]


def outbox_states(db: Path) -> dict[str, int]:
    """Outbox rows per state."""
    return dict(DbFile(db).outbox_states())


async def run(
    seconds: float,
    *,
    sample_every: float = 5.0,
    rates: Rates | None = None,
    max_rss_slope: float = 0.5,
    max_fd_spread: int = 8,
    seed: int = 7,
) -> dict[str, Any]:
    """Run the soak for `seconds` of load; return every figure and the verdict."""
    rates = rates or Rates()
    with tempfile.TemporaryDirectory(prefix="smsops-soak-") as tmp:
        workdir = Path(tmp)
        async with FakeAfricasTalking(api_key=AT_KEY) as fake:
            config, port = await prepare(workdir, fake.base_url)
            url = f"http://127.0.0.1:{port}"
            log_path = workdir / "server.log"
            with log_path.open("wb") as log:
                server = await asyncio.create_subprocess_exec(
                    *server_command(config), cwd=ROOT, stdout=log, stderr=log
                )
            try:
                await _wait_healthy(url, server)
                db = workdir / "soak.db"
                result = await _drive(url, server, fake, db, seconds, rates, sample_every, seed)
                result["outbox"] = outbox_states(db)
            finally:
                if server.returncode is None:
                    server.send_signal(signal.SIGTERM)
                async with asyncio.timeout(30):
                    code = await server.wait()
            server_log = log_path.read_text(encoding="utf-8", errors="replace")
    bad_lines = [ln for ln in server_log.splitlines() if " ERROR " in ln or "Traceback" in ln]
    result |= {"server_exit": code, "server_log_errors": bad_lines[:20]}
    result["flat"] = flatness(
        result["samples"], seconds=seconds, max_rss_slope=max_rss_slope, max_fd_spread=max_fd_spread
    )
    result["failures"] = _failures(result)
    result["ok"] = not result["failures"]
    result["meta"] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": seconds, "sample_every": sample_every, "rates": asdict(rates),
        "python": platform.python_version(), "machine": platform.machine(),
    }  # fmt: skip
    return result


async def _drive(
    url: str,
    server: asyncio.subprocess.Process,
    fake: FakeAfricasTalking,
    db: Path,
    seconds: float,
    rates: Rates,
    sample_every: float,
    seed: int,
) -> dict[str, Any]:
    proc = psutil.Process(server.pid)
    samples: list[list[float]] = []
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        rec = Recorder(session, url)
        load = Load(rec, fake, seed=seed)
        stop = asyncio.Event()
        t0 = time.perf_counter()

        async def sampler() -> None:
            while not stop.is_set():
                _sample(proc, db, t0, samples)
                await asyncio.sleep(sample_every - (time.perf_counter() - t0) % sample_every)

        dlr = asyncio.create_task(load.deliveries(stop, db))
        sampling = asyncio.create_task(sampler())
        counts = await asyncio.gather(
            paced(rates.broadcasts, seconds, load.broadcast),
            paced(rates.inbound, seconds, load.inbound),
            paced(rates.chat, seconds, load.chat),
            paced(rates.health, seconds, load.health),
        )
        stop.set()
        await sampling
        _sample(proc, db, t0, samples)
        async with asyncio.timeout(60):
            await dlr
    return {
        "samples": samples,
        "started": dict(zip(("broadcasts", "inbound", "chat", "health"), counts, strict=True)),
        "endpoints": rec.summary(),
        "error_notes": rec.notes,
        "fake_at": {"requests": len(fake.requests), "accepted": len(fake.accepted)},
        "delivery_reports": load.reported,
        "broadcasts_created": len(load.broadcasts),
        "drain_seconds": round(time.perf_counter() - t0 - seconds, 1),
    }


def _failures(result: dict[str, Any]) -> list[str]:
    why = list(result["flat"]["failures"])
    for name, e in result["endpoints"].items():
        if e["errors"] or e["5xx"]:
            why.append(f"{name}: {e['errors']} error(s), {e['5xx']} 5xx of {e['count']}")
    if result["server_exit"] != 0:
        why.append(f"the server exited with {result['server_exit']} on SIGTERM")
    if result["server_log_errors"]:
        why.append(f"server log: {result['server_log_errors'][0][:200]}")
    if not result["fake_at"]["accepted"]:
        why.append("no message reached the fake Africa's Talking")
    return why


def main() -> None:
    """Run the soak, print the tables, write bench/results/soak.json; exit 1 if it failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds")
    parser.add_argument("--max-rss-slope", type=float, default=0.5, help="MB per minute")
    parser.add_argument("--max-fd-spread", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = asyncio.run(
        run(
            args.minutes * 60,
            sample_every=args.sample_every,
            max_rss_slope=args.max_rss_slope,
            max_fd_spread=args.max_fd_spread,
        )
    )
    print_report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
