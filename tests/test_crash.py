"""Kill -9 the server at random moments mid-broadcast: nobody is sent twice, nobody forgotten.

Defaults are small enough for `make test`; SMSOPS_CRASH_RECIPIENTS and SMSOPS_CRASH_KILLS
scale it up (the proof suite runs 10,000 recipients and 20 kills).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bot.clock import Clock
from tests.fakes.africastalking import FakeAfricasTalking
from tests.helpers import AT_KEY, make_config, open_core, seed_contacts, write_config
from tests.test_serve import free_port

RECIPIENTS = int(os.environ.get("SMSOPS_CRASH_RECIPIENTS", "2000"))
KILLS = int(os.environ.get("SMSOPS_CRASH_KILLS", "6"))
BATCH = 50


def states(db: Path) -> Counter[str]:
    """Outbox rows per state, read while the server may be running (WAL)."""
    with sqlite3.connect(db, timeout=10) as conn:
        return Counter(dict(conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")))


async def run_server_for(config: Path, seconds: float) -> int | None:
    """Run `smsops serve`; kill -9 it after `seconds` (None: let it run until told)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "serve",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    return await proc.wait()


async def test_kill_minus_nine_never_duplicates_or_loses(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("SMSOPS_CRASH_SEED", "7")))
    fake = FakeAfricasTalking(api_key=AT_KEY)
    url = await fake.start()
    fake.faults.delay(0.08)  # each request is in flight for a while: kills land mid-request
    port = free_port()
    opts: dict[str, Any] = {
        "primary": "africastalking",
        "at_url": url,
        "batch": BATCH,
        "threshold": 10**9,
    }
    config = make_config(tmp_path, **opts)
    path = write_config(tmp_path, **opts)
    path.write_text(path.read_text().replace("port = 0", f"port = {port}"))
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
    db = config.database_path
    kills = 0
    for _ in range(KILLS):
        if states(db)["queued"] == 0:
            break
        await run_server_for(path, rng.uniform(0.6, 2.0))
        kills += 1
    # Let it finish: one last, clean run until nothing is queued.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(path),
        "serve",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(120):
            while (s := states(db))["queued"] + s["sending"] > 0:
                await asyncio.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    await fake.stop()

    final = states(db)
    sent_to = Counter(a.number for a in fake.accepted)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT phone, state FROM outbox").fetchall()
    assert len(rows) == RECIPIENTS
    duplicates = {n: c for n, c in sent_to.items() if c > 1}
    assert duplicates == {}, f"sent twice: {list(duplicates)[:5]}"
    for phone, state in rows:
        if state == "sent":
            assert sent_to[phone] == 1, phone  # sent means the provider has it exactly once
        else:
            assert state == "unknown", (phone, state)  # nothing else is left behind
    # at most one batch per gateway per crash may be left unknown
    assert final["unknown"] <= kills * BATCH, (final, kills)
    assert final["sent"] + final["unknown"] == RECIPIENTS
    print(f"\ncrash test: {RECIPIENTS} recipients, {kills} kills, states {dict(final)}")
