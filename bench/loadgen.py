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
from collections.abc import Callable
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


def main() -> None:
    """Run one spec given as JSON on the command line and print the figures as JSON."""
    print(json.dumps(asyncio.run(loadgen(json.loads(sys.argv[1])))))


if __name__ == "__main__":
    main()
