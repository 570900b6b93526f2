"""Rig for the crash suite: `smsops serve` killed with SIGKILL, STOP callbacks posted meanwhile.

Every time here is `time.monotonic()` of the test process, the clock the fake Africa's
Talking server stamps its requests with, so the two can be compared directly.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import aiohttp

from bot.config.types import Config
from bot.core import open_core
from tests.fakes.africastalking import RecordedRequest
from tests.support.base import CALLBACK_SECRET
from tests.support.db import PRESENT, DbFile

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "africastalking"
STOP_FIXTURES = (
    "inbound_stop_period.txt",
    "inbound_stop_emoji.txt",
    "inbound_stop_spaces.txt",
    "inbound_acha_sw.txt",
)
STOP_TEXTS = ("STOP", "Stop.", "stop", "STOP.", " stop! ", "Stop\U0001f64f", "acha", "ACHA")
RETRY_SECONDS = 0.05
MAX_HTTP_ERRORS = 3
ABANDONED = "abandoned"  # we gave up waiting for the answer, as AT does on a slow 200
Picker = Callable[[], str]


def states(db: Path) -> Counter[str]:
    """Outbox rows per state, read while the server may be running (WAL)."""
    return DbFile(db).outbox_states()


class Server:
    """Starts `smsops serve` again and again on one config; kills it with SIGKILL on demand."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.started = 0  # processes spawned so far
        self.kills = 0  # of which killed with SIGKILL
        self.up = False  # listening, and not yet told to end
        self._proc: asyncio.subprocess.Process | None = None

    def log(self, n: int) -> Path:
        """The log file of the n-th process (0-based)."""
        return self.config.parent / f"serve-{n}.log"

    async def start(self) -> None:
        """Spawn the server and wait until it listens (its database recovered, lanes started)."""
        log = self.log(self.started)
        self.started += 1
        with log.open("wb") as out:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "handlers",
                "--config",
                str(self.config),
                "serve",
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        async with asyncio.timeout(60):
            while b"listening on" not in log.read_bytes():
                if self._proc.returncode is not None:
                    raise AssertionError(f"server exited before listening: see {log}")
                await asyncio.sleep(0.02)
        self.up = True

    async def end(self, sig: signal.Signals) -> int:
        """Send `sig` to the running server and reap it."""
        assert self._proc is not None
        self.up = False
        self._proc.send_signal(sig)
        code = await self._proc.wait()
        self._proc = None
        self.kills += sig == signal.SIGKILL
        return code

    async def run_then_kill(self, seconds: float) -> None:
        """Run the server for `seconds` once it listens, then kill -9 it."""
        await self.start()
        await asyncio.sleep(seconds)
        await self.end(signal.SIGKILL)


@dataclass(slots=True)
class Attempt:
    """One POST of an inbound callback: 200 (stored), another status, or a connection error."""

    started: float
    ended: float
    status: int | None
    duplicate: bool | None = None
    error: str | None = None


@dataclass(slots=True)
class Stop:
    """A STOP one recipient sends during the broadcast, as Africa's Talking would post it."""

    provider_id: str
    template: str  # the fixture whose form it is
    text: str
    at: float  # seconds after the start of the kill phase
    phone: str = ""  # E.164, as the callback's `from`; "" = picked at the frontier when posted
    abandon_after: float | None = None  # give up on the first answer after this (a lost 200)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def acked(self) -> Attempt | None:
        """The attempt answered 200, if any (the last one: posting stops there)."""
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.status == 200 else None

    def committed_by(self) -> float:
        """A time by which the opt-out was certainly committed.

        A 200 that is not a duplicate committed during its own request. A duplicate was
        committed by an earlier attempt: if we abandoned one, perhaps only after we gave up on
        it, so only the 200 bounds it; otherwise by one whose process died before answering,
        so before that attempt's connection error reached us.
        """
        ok = self.acked
        assert ok is not None, self.provider_id
        failed = [a for a in self.attempts[:-1] if a.error is not None]
        if not ok.duplicate or any(a.error == ABANDONED for a in failed):
            return ok.ended
        assert failed, f"{self.provider_id}: duplicate on the first answer"
        return max(a.ended for a in failed)

    def body(self) -> bytes:
        """The callback body: the fixture's form with this sender, id and text."""
        raw = (FIXTURES / self.template).read_text(encoding="utf-8")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        form |= {"from": self.phone, "id": self.provider_id, "text": self.text}
        return urlencode(form).encode()


def plan_stops(
    rng: random.Random, phones: Sequence[str], *, count: int, frontier: int, spread: float
) -> list[Stop]:
    """`count` STOPs at random moments within `spread` s: a random sample of `phones`, and
    `frontier` more whose sender is picked when posted among the next rows to go out."""
    sample = rng.sample(list(phones), count)
    stops = []
    for k in range(count + frontier):
        text, template = rng.choice(STOP_TEXTS), rng.choice(STOP_FIXTURES)
        phone = sample[k] if k < count else ""
        at = rng.uniform(0.0, spread)
        stop = Stop(f"ATXid_crash_stop_{k:05d}", template, text, at, phone)
        if rng.random() < 0.25:  # a quarter lose their first answer and are posted again
            stop.abandon_after = rng.uniform(0.0005, 0.004)  # a STOP takes ~2.5 ms here
        stops.append(stop)
    return sorted(stops, key=lambda s: s.at)


def frontier_picker(
    db: Path, rng: random.Random, *, taken: set[str], window: int, reserved: bool = False
) -> Picker:
    """Pick a recipient among the next `window` rows to leave, once each (`reserved`: from the
    batch reserved to go next, when there is one)."""
    wanted = ("claimed",) if reserved else ("claimed", "queued")
    file = DbFile(db)

    def pick() -> str:
        free: list[str] = []
        for states_ in (wanted, ("claimed", "queued")):
            rows = file.values(
                "outbox", "phone", broadcast_id=PRESENT, state=states_, limit=window + len(taken)
            )
            free = free or [p for p in rows if p not in taken][:window]
        if not free:  # the broadcast is through: anyone not taken yet
            free = [p for p in file.values("contacts", "phone") if p not in taken]
        phone = str(rng.choice(free))
        taken.add(phone)
        return phone

    return pick


async def post_until_stored(session: aiohttp.ClientSession, url: str, stop: Stop) -> None:
    """POST one callback until it is answered 200; a connection error means try again (an
    HTTP error too, but only a few times)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    body = stop.body()
    while stop.acked is None:
        started = time.monotonic()
        abandon = stop.abandon_after if not stop.attempts else None
        timeout = aiohttp.ClientTimeout(total=abandon)  # None: wait for an answer or a reset
        try:
            async with session.post(url, data=body, headers=headers, timeout=timeout) as resp:
                status = resp.status
                payload = await resp.json() if status == 200 else None
            duplicate = bool(payload["duplicate"]) if payload is not None else None
            stop.attempts.append(Attempt(started, time.monotonic(), status, duplicate))
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            error = ABANDONED if isinstance(exc, TimeoutError) else type(exc).__name__
            stop.attempts.append(Attempt(started, time.monotonic(), None, error=error))
        if sum(a.status is not None for a in stop.attempts) > MAX_HTTP_ERRORS:
            return  # answered, but never 200: a bug the test reports, not one to wait out
        if stop.acked is None:  # back off, as the provider would: 50 ms doubling to 400 ms
            pause = min(RETRY_SECONDS * 2 ** (len(stop.attempts) - 1), 8 * RETRY_SECONDS)
            await asyncio.sleep(pause * random.uniform(0.5, 1.0))


async def post_stops(port: int, stops: Sequence[Stop], *, t0: float, pick: Picker) -> None:
    """Post every STOP at its moment (relative to `t0`), each retried until stored."""
    url = f"http://127.0.0.1:{port}/callbacks/africastalking/{CALLBACK_SECRET}/inbound"
    # No client timeout: an attempt must only end when the server answers or its process dies,
    # or a server still working on it could commit after we have moved on.
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(stop: Stop) -> None:
            await asyncio.sleep(max(0.0, t0 + stop.at - time.monotonic()))
            if not stop.phone:
                stop.phone = pick()
            await post_until_stored(session, url, stop)

        await asyncio.gather(*(one(stop) for stop in stops))


async def post_again(port: int, stops: Sequence[Stop]) -> list[Attempt]:
    """Deliver every STOP once more, as a provider retrying a lost answer would."""
    url = f"http://127.0.0.1:{port}/callbacks/africastalking/{CALLBACK_SECRET}/inbound"
    again = [Stop(s.provider_id, s.template, s.text, 0.0, s.phone) for s in stops]
    async with aiohttp.ClientSession() as session:
        for stop in again:
            await post_until_stored(session, url, stop)
    return [s.attempts[-1] for s in again]


@dataclass(slots=True)
class StaffOptOut:
    """A number opted out by staff (`smsops contacts optout`) during the broadcast: no reply."""

    at: float  # seconds after the start of the kill phase
    phone: str = ""
    committed: float = math.inf  # set_consent had returned (so committed) by then


async def opt_out_as_staff(
    config: Config, optouts: Sequence[StaffOptOut], *, t0: float, pick: Picker, server: Server
) -> None:
    """Opt numbers out through the address book on the same database, as the CLI does; each
    at its moment or, if the server is down then, as soon as it is back (mid-broadcast)."""
    async with open_core(config) as core:
        for item in sorted(optouts, key=lambda o: o.at):
            await asyncio.sleep(max(0.0, t0 + item.at - time.monotonic()))
            while not server.up:
                await asyncio.sleep(0.01)
            item.phone = pick()
            changed = await core.book.set_consent(
                item.phone, opted_out=True, source="staff", actor="cli"
            )
            item.committed = time.monotonic()
            assert changed, item.phone


def cleared_not_before(requests: Sequence[RecordedRequest], *, delay: float) -> list[float]:
    """For each request to the fake, a time before which its recipients were not yet checked.

    The AT gateway has one lane: it checks a batch for opt-outs (outbox.claim or
    outbox.sendable) only after the answer to the request before it has come back. With every
    answer delayed by `delay`, that is after the previous request's arrival + `delay`, if the
    previous request was answered at all (an unanswered one died with its process; the next
    request comes from a later process and no bound is claimed: -inf).
    """
    bounds = [-math.inf]
    for prev in requests[:-1]:
        answered = prev.response_status is not None
        bounds.append(prev.timestamp + delay if answered else -math.inf)
    return bounds


def wall_to_mono(stamp: str) -> float:
    """An ISO timestamp written by the server, on this process's monotonic clock."""
    return datetime.fromisoformat(stamp).timestamp() - (time.time() - time.monotonic())
