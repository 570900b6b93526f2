"""`smsops serve` as a real process: it listens, answers /healthz, and stops cleanly on signals."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.support.base import free_port, spawn_serve, write_config


async def start_server(config: Path) -> asyncio.subprocess.Process:
    """Start `smsops serve` and wait until it logs where it listens."""
    proc = await spawn_serve(config)
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise AssertionError("server exited before listening")
            if "listening on" in line:
                return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_serve_health_and_clean_stop(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("port = 0", f"port = {port}"))
    proc = await start_server(config)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as resp,
    ):
        body = await resp.json()
    assert resp.status == 200
    assert body["database"]["ok"] is True and "simulator" in body["gateways"]
    assert body["version"]
    proc.send_signal(sig)
    async with asyncio.timeout(15):
        assert await proc.wait() == 0
    assert proc.stdout is not None
    tail = (await proc.stdout.read()).decode()
    assert "stopped" in tail and "Traceback" not in tail
