"""A bounded HTTP load generator (aiohttp client) that runs in its own process.

Two modes: `closed` posts n requests with a fixed number of workers (throughput), and `paced`
starts n requests at a fixed rate whatever the answers (latency); a paced request's latency
counts from its scheduled start, so a stalled server cannot hide its queueing delay. Bodies
come from a function named in the spec ("module:function", called with (index, tag)).

Run by benchmarks through `drive(spec)`, or: python -m bench.loadgen '<spec as JSON>'
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.common import ROOT

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 1000
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _body_function(name: str) -> Callable[[int, str], bytes]:
    module, _, function = name.partition(":")
    fn: Callable[[int, str], bytes] = getattr(importlib.import_module(module), function)
    return fn


async def _post(session: aiohttp.ClientSession, url: str, data: bytes) -> int:
    async with session.post(url, data=data, headers=FORM) as resp:
        await resp.read()
        return resp.status


async def _open_connections(session: aiohttp.ClientSession, url: str, count: int) -> None:
    """Open the pool's connections before timing, a few at a time (no connect storm)."""
    for start in range(0, count, 16):

        async def one() -> None:
            async with session.get(url) as resp:
                await resp.read()

        await asyncio.gather(*(one() for _ in range(min(16, count - start))))


async def loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    """Drive one run described by `spec`; return throughput and latency figures."""
    url, first, n, tag = spec["url"], spec["first"], spec["n"], spec["tag"]
    make = _body_function(spec["body"])
    bodies = [make(first + i, tag) for i in range(n)]
    latencies: list[float] = []
    errors = 0
    closed = spec["mode"] == "closed"
    pool = spec["concurrency"] if closed else spec.get("in_flight", MAX_IN_FLIGHT)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=pool)) as session:
        await _open_connections(session, spec["warm_url"], spec.get("concurrency", 16))
        start = time.perf_counter()
        if closed:
            next_index = iter(range(n))

            async def worker() -> None:
                nonlocal errors
                for i in next_index:
                    t0 = time.perf_counter()
                    if await _post(session, url, bodies[i]) != 200:
                        errors += 1
                    latencies.append(time.perf_counter() - t0)

            await asyncio.gather(*(worker() for _ in range(spec["concurrency"])))
        else:
            rate = spec["rate"]
            gate = asyncio.Semaphore(pool)

            async def one(i: int, due: float) -> None:
                nonlocal errors
                async with gate:
                    if await _post(session, url, bodies[i]) != 200:
                        errors += 1
                latencies.append(time.perf_counter() - due)

            tasks = []
            for i in range(n):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i, due)))
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "n": n,
        "errors": errors,
        "seconds": elapsed,
        "per_s": n / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else 0.0,
    }


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load generator in a child process (so it never shares the server's CPU time)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.loadgen",
        json.dumps(spec),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{err.decode()[-2000:]}")
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


@dataclass(slots=True)
class Endpoint:
    """What one named endpoint answered during a mixed run: latencies, statuses, errors."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    server_errors: int = 0

    def summary(self) -> dict[str, Any]:
        """Counts and latency figures in milliseconds."""
        return {
            "count": len(self.latencies),
            "errors": self.errors,
            "5xx": self.server_errors,
            "statuses": dict(self.statuses),
            "p50_ms": _percentile(self.latencies, 0.50) * 1000,
            "p99_ms": _percentile(self.latencies, 0.99) * 1000,
            "max_ms": max(self.latencies) * 1000 if self.latencies else 0.0,
        }


class Recorder:
    """Sends requests for a mixed load and records each endpoint's answers by name."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str):
        self.session = session
        self.base_url = base_url
        self.endpoints: dict[str, Endpoint] = {}
        self.notes: list[str] = []

    async def call(
        self,
        name: str,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...] = (200,),
        due: float | None = None,
        **kwargs: Any,
    ) -> tuple[int | None, bytes]:
        """One request; latency counts from `due` (its scheduled start) when given."""
        stats = self.endpoints.setdefault(name, Endpoint())
        started = time.perf_counter() if due is None else due
        status: int | None = None
        body = b""
        try:
            async with self.session.request(method, self.base_url + path, **kwargs) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.note(f"{name}: {type(exc).__name__}: {exc}")
        stats.latencies.append(time.perf_counter() - started)
        stats.statuses[str(status)] += 1
        if status is None or status not in expect:
            stats.errors += 1
            if status is not None:
                self.note(f"{name}: HTTP {status}: {body[:200]!r}")
        if status is not None and status >= 500:
            stats.server_errors += 1
        return status, body

    def fail(self, name: str, why: str) -> None:
        """Count an answer that had the right status but the wrong content as an error."""
        self.endpoints.setdefault(name, Endpoint()).errors += 1
        self.note(f"{name}: {why}")

    def note(self, text: str) -> None:
        """Keep the first few error descriptions for the report."""
        if len(self.notes) < 50:
            self.notes.append(text)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Every endpoint's figures, by name."""
        return {name: e.summary() for name, e in sorted(self.endpoints.items())}


async def paced(
    rate: float,
    seconds: float,
    fire: Callable[[int, float], Awaitable[None]],
    *,
    in_flight: int = 64,
) -> int:
    """Start `fire(i, due)` `rate` times a second for `seconds`, whatever the answers; wait."""
    gate = asyncio.Semaphore(in_flight)
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []
    start = time.perf_counter()
    i = 0

    async def one(index: int, due: float) -> None:
        async with gate:
            await fire(index, due)

    def done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            failures.append(exc)

    while (due := start + i / rate) < start + seconds:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(done)
        i += 1
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    if failures:
        raise failures[0]
    return i


def main() -> None:
    """Run one spec given as JSON on the command line and print the figures as JSON."""
    print(json.dumps(asyncio.run(loadgen(json.loads(sys.argv[1])))))


if __name__ == "__main__":
    main()
