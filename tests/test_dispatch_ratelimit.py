"""Rate limits hold for batches larger than the burst, on a fake clock that sleeping moves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.clock import FrozenClock
from bot.core import open_core
from bot.dispatch.ratelimit import GatewayLimiter, TokenBucket
from gateway.base import OutgoingMessage, RecipientResult
from gateway.simulator.gateway import SimulatorGateway
from tests.support.base import frozen, make_config, seed_contacts

MANY = "Name,Phone,Club\n" + "".join(
    f"S {i},07{i:08d},ICT\n" for i in range(10_000_001, 10_000_251)
)


class FakeTime:
    """A monotonic clock that only sleeping advances."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def assert_paced(events: list[tuple[float, int]], *, rate: float, burst: float) -> None:
    """After any request, what follows up to any later one fits the rate plus one burst."""
    for i, (start, _) in enumerate(events):
        for j in range(i + 1, len(events)):
            after = sum(n for _, n in events[i + 1 : j + 1])
            assert after <= burst + rate * (events[j][0] - start) + 1e-9, (i, j, events)


async def test_one_at_a_time_hundred_messages_take_nine_seconds() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, clock=t.clock, sleep=t.sleep)
    for _ in range(100):
        await bucket.take(1)
    assert t.now == pytest.approx(9.0)  # 10 from the full bucket, then 90 at 10/s


async def test_a_batch_larger_than_the_burst_waits_for_its_debt() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, clock=t.clock, sleep=t.sleep)
    await bucket.take(100)
    assert t.now == pytest.approx(9.0)
    await bucket.take(100)
    assert t.now == pytest.approx(19.0)
    await bucket.take(1)
    assert t.now == pytest.approx(19.1)


async def test_limiter_holds_the_message_rate_in_every_window() -> None:
    t = FakeTime()
    limiter = GatewayLimiter(
        messages_per_second=10, requests_per_second=10, clock=t.clock, sleep=t.sleep
    )
    events: list[tuple[float, int]] = []
    for n in (100, 100, 3, 250, 1, 1, 40):
        await limiter.acquire(n)
        events.append((t.now, n))
    total = sum(n for _, n in events)
    assert t.now >= (total - 10) / 10  # ≥ 48.5 s of fake time for 495 messages
    assert_paced(events, rate=10, burst=10)


async def test_waits_are_the_longer_of_the_two_limits_not_their_sum() -> None:
    t = FakeTime()
    limiter = GatewayLimiter(
        messages_per_second=100, requests_per_second=1, clock=t.clock, sleep=t.sleep
    )
    for _ in range(5):
        await limiter.acquire(50)
    assert t.now == pytest.approx(4.0)  # one request a second; messages never the bottleneck


async def test_a_cancelled_wait_gives_its_tokens_back() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, clock=t.clock)  # real sleep: the task is cancelled while waiting
    waiter = asyncio.create_task(bucket.take(100))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bucket.tokens == pytest.approx(10.0)


class Stamping(SimulatorGateway):
    """The simulator, noting the fake time each request leaves."""

    def __init__(self, clock: FrozenClock):
        super().__init__(delivery_delay_seconds=0)
        self.clock = clock
        self.times: list[tuple[float, int]] = []

    async def send(self, message: OutgoingMessage) -> list[RecipientResult]:
        self.times.append((self.clock.monotonic(), len(message.recipients)))
        return await super().send(message)


async def test_dispatch_paces_a_broadcast_to_the_configured_rate(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        extra="""
        [gateways.rate_limits.simulator]
        messages_per_second = 10
        requests_per_second = 5
        """,
    )
    clock = frozen()

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    sim = Stamping(clock)
    async with open_core(config, gateways={"simulator": sim}, clock=clock) as core:
        await seed_contacts(core, tmp_path, MANY)
        core.dispatcher.limiters["simulator"] = GatewayLimiter(
            messages_per_second=10, requests_per_second=5, clock=clock.monotonic, sleep=sleep
        )
        people = config.people
        view = await core.broadcasts.compose(
            audience="club:ict", message="Exam at 9", requester=people["registrar"]
        )
        await core.broadcasts.approve(view.id, person=people["dean"])
        assert await core.dispatcher.run_once("simulator", sim)
        view = await core.broadcasts.view(view.id)
    # batches are cut to the burst (10), so each waits at most a second while `sending`
    assert view.counts.sent == 250 and [n for _, n in sim.times] == [10] * 25
    assert [ts for ts, _ in sim.times] == pytest.approx([float(n) for n in range(25)])
    assert_paced(sim.times, rate=10, burst=10)
