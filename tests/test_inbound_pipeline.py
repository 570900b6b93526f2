"""Inbound commits in a pipeline: waves of messages, each answered once, after its commit."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import bot.inbound.service
from bot.clock import FrozenClock
from bot.core import open_core
from gateway.base import InboundSms
from tests.support.base import frozen, make_config, seed_contacts
from tests.support.db import count_rows

SENDERS = [f"+2547123450{i:02d}" for i in range(1, 6)]


async def test_messages_arriving_in_waves_are_all_answered_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rng = random.Random(3)
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path)
        tasks = []
        for wave in range(40):  # workers finish and start again between waves
            for i in range(rng.randint(1, 12)):
                sms = InboundSms("africastalking", f"w{wave}-{i}", rng.choice(SENDERS), "1", "hi")
                tasks.append(asyncio.create_task(core.inbound.handle(sms)))
            await asyncio.sleep(rng.choice([0, 0, 0.001, 0.005]))
        results = await asyncio.wait_for(asyncio.gather(*tasks), 30)
        again = InboundSms("africastalking", "w0-0", SENDERS[0], "1", "hi")
        retried = await asyncio.gather(*(core.inbound.handle(again) for _ in range(3)))
        await core.inbound.settled()
        stored = await count_rows(core.db, "inbound")
    assert not core.inbound._workers and not core.inbound._queue
    assert len({r.id for r in results}) == len(results) == stored
    assert all(not r.duplicate for r in results)
    assert all(r.duplicate and r.id == results[0].id for r in retried)
    ids = [r.id for r in results]
    assert ids == sorted(ids)  # decided and stored in arrival order


async def test_at_most_pipeline_commits_at_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with open_core(config, clock=FrozenClock(frozen().now())) as core:
        handles = [
            core.inbound.handle(InboundSms("africastalking", f"p{i}", SENDERS[i % 5], "1", "hi"))
            for i in range(50)
        ]
        tasks = [asyncio.create_task(h) for h in handles]
        await asyncio.sleep(0)
        assert 0 < len(core.inbound._workers) <= bot.inbound.service.PIPELINE
        results = await asyncio.gather(*tasks)
    assert sorted(r.id for r in results) == list(range(1, 51))
