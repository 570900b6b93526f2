"""One `smsops serve` per database: a second refuses before recovery or dispatch, changing nothing.

Real processes: server A sends a broadcast through a fake Africa's Talking that holds its
request, so A's batch stays `sending`; a second server then must neither mark it unknown
(recovery) nor send it again (dispatch).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.core import open_core
from tests.fakes.africastalking import FakeAfricasTalking
from tests.support.base import (
    AT_KEY,
    free_port,
    make_config,
    seed_contacts,
    spawn_serve,
    write_config,
)
from tests.support.crash import Server, states

RECIPIENTS = 120
BATCH = 50
EXPIRY = 1.5  # [server] lease_expiry_seconds in these tests


async def prepare(tmp_path: Path, url: str) -> Path:
    """A's config, and its database with one approved broadcast to RECIPIENTS contacts."""
    opts: dict[str, Any] = {"primary": "africastalking", "at_url": url, "batch": BATCH}
    opts["threshold"] = 10**9
    opts["timeout"] = 120  # A's request stays in flight until the test ends
    config = make_config(tmp_path, **opts)
    path = write_config(tmp_path, **opts)
    csv = "Name,Phone,Club\n" + "".join(
        f"S{i},07{20_000_000 + i:08d},ICT\n" for i in range(RECIPIENTS)
    )
    async with open_core(config, clock=Clock()) as core:
        await seed_contacts(core, tmp_path, csv)
        reg = config.people["registrar"]
        view = await core.broadcasts.compose(
            audience="club:ict", message="Exam at 9", requester=reg
        )
        assert (await core.broadcasts.approve(view.id, person=reg)).outcome == "approved"
    return on_port(path, free_port(), name="a.toml")


def on_port(config: Path, port: int, *, name: str, expiry: float = EXPIRY) -> Path:
    """A copy of `config` (same database) listening on `port`, its lease lapsing after `expiry`."""
    lines = [ln for ln in config.read_text().splitlines() if not ln.startswith("lease_")]
    at = next(i for i, ln in enumerate(lines) if ln.startswith("port = "))
    lines[at : at + 1] = [f"port = {port}", f"lease_expiry_seconds = {expiry}"]
    text = "\n".join(lines) + "\n"
    path = config.parent / name
    path.write_text(text)
    return path


async def serve_once(config: Path) -> tuple[int, str]:
    """Run `smsops serve` expected to refuse: its exit status and everything it printed."""
    proc = await spawn_serve(config)
    try:
        async with asyncio.timeout(30):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return int(proc.returncode or 0), out.decode()


def contents(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table; the lease row without its renewal time (A renews it)."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = {}
        for name in names:
            sql = f'SELECT * FROM "{name}"'
            if name == "instance_lease":
                sql = "SELECT host, pid, instance, since FROM instance_lease"
            out[name] = sorted(conn.execute(sql).fetchall(), key=repr)
        return out
    finally:
        conn.close()


async def until_sending(db: Path) -> None:
    """Wait until A has a batch in flight (and the next one reserved): its rows then stay put."""
    async with asyncio.timeout(30):
        while states(db)["sending"] == 0:
            await asyncio.sleep(0.05)
        last: dict[str, list[tuple[Any, ...]]] = {}
        while (now := contents(db)) != last:
            last = now
            await asyncio.sleep(0.5)


async def test_second_server_refuses_and_changes_nothing(tmp_path: Path) -> None:
    async with FakeAfricasTalking(api_key=AT_KEY) as fake:
        fake.faults.delay(60)  # A's first request stays in flight for the whole test
        a_config = await prepare(tmp_path, fake.base_url)
        db = make_config(tmp_path).database_path
        a = Server(a_config)
        await a.start()
        try:
            await until_sending(db)
            before = contents(db)
            assert before["instance_lease"][0][1] != 0  # A holds it
            b_config = on_port(a_config, free_port(), name="b.toml")
            code, out = await serve_once(b_config)
            assert code == 2, out
            [line] = out.strip().splitlines()
            pid = before["instance_lease"][0][1]
            assert line.startswith("smsops: another smsops serve holds this database: host ")
            assert f"pid {pid}, since " in line
            assert contents(db) == before  # no recovery: A's batch is still `sending`
            assert states(db)["sending"] == BATCH and states(db)["unknown"] == 0
            assert len(fake.requests) == 1  # and nothing sent twice
            # Same port as A: refused before the database is even opened.
            code, out = await serve_once(a_config)
            assert code == 2 and "cannot listen on 127.0.0.1:" in out, out
            assert len(out.strip().splitlines()) == 1
            assert contents(db) == before
            assert a._proc is not None and a._proc.returncode is None  # A keeps running
        finally:
            await a.end(signal.SIGKILL)


async def test_killed_holder_is_taken_over(tmp_path: Path) -> None:
    async with FakeAfricasTalking(api_key=AT_KEY) as fake:
        fake.faults.delay(60)
        a_config = await prepare(tmp_path, fake.base_url)
        db = make_config(tmp_path).database_path
        a = Server(a_config)
        await a.start()
        await until_sending(db)
        await a.end(signal.SIGKILL)
        # The dead holder was on this host: the next server takes over at once, and recovers.
        started = time.monotonic()
        await a.start()
        try:
            assert time.monotonic() - started < EXPIRY + 10
            assert "took over the lease of pid" in a.log(1).read_text()
            assert states(db)["unknown"] == BATCH
        finally:
            await a.end(signal.SIGTERM)
        # A clean stop gives the lease up.
        assert contents(db)["instance_lease"] == []


async def test_lease_of_a_silent_host_lapses_after_the_expiry(tmp_path: Path) -> None:
    async with FakeAfricasTalking(api_key=AT_KEY) as fake:
        # Long enough for a server to start and find the lease still fresh.
        expiry = 6.0
        a_config = on_port(
            await prepare(tmp_path, fake.base_url), free_port(), name="c.toml", expiry=expiry
        )
        db = make_config(tmp_path).database_path
        conn = sqlite3.connect(db)
        now = datetime.now(UTC).isoformat()
        with conn:  # a server on another machine, killed there: nobody here can see its pid
            conn.execute(
                "INSERT INTO instance_lease VALUES (1, 'elsewhere', 4242, 'feed', ?, ?)", (now, now)
            )
        conn.close()
        written = time.monotonic()
        before = contents(db)
        code, out = await serve_once(a_config)
        assert code == 2 and "host elsewhere, pid 4242, since " in out, out
        assert contents(db) == before and states(db)["queued"] == RECIPIENTS
        await asyncio.sleep(max(0.0, expiry + 0.2 - (time.monotonic() - written)))
        server = Server(a_config)
        await server.start()
        await server.end(signal.SIGTERM)
        assert "took over the lease of pid 4242 on elsewhere" in server.log(0).read_text()
