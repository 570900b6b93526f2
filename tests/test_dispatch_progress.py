"""Progress edits are throttled on the injected clock; per-broadcast memory does not grow."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.bounded import RecentSet
from bot.clock import FrozenClock
from bot.core import Core
from bot.notify import FanOut, NullNotifier
from bot.settle import PROGRESS_SECONDS
from bot.views import BroadcastView
from gateway.base import OutgoingMessage, RecipientResult
from gateway.simulator import SimulatorGateway
from tests.helpers import frozen, make_config, open_core, seed_contacts

MANY = "Name,Phone,Club\n" + "".join(
    f"S {i},07{i:08d},ICT\n" for i in range(10_000_001, 10_000_251)
)


class Watcher(NullNotifier):
    """Counts progress notifications, noting the fake time of each."""

    def __init__(self, clock: FrozenClock):
        self.clock = clock
        self.progress_at: list[float] = []

    async def progress(self, view: BroadcastView) -> None:
        self.progress_at.append(self.clock.monotonic())


class Ticking(SimulatorGateway):
    """The simulator, where each request takes a second of fake time (and a little real)."""

    def __init__(self, clock: FrozenClock, seconds: float):
        super().__init__(delivery_delay_seconds=0)
        self.clock = clock
        self.seconds = seconds

    async def send(self, message: OutgoingMessage) -> list[RecipientResult]:
        self.clock.advance(self.seconds)
        await asyncio.sleep(0.03)  # lets the journal applier settle batches as they come
        return await super().send(message)


async def broadcast(core: Core, audience: str, message: str) -> int:
    people = core.config.people
    view = await core.broadcasts.compose(
        audience=audience, message=message, requester=people["registrar"]
    )
    decision = await core.broadcasts.approve(view.id, person=people["dean"])
    assert decision.outcome == "approved", decision.message
    return view.id


async def wait_done(core: Core, bid: int) -> BroadcastView:
    async with asyncio.timeout(20):
        while (view := await core.broadcasts.view(bid)).state != "done":
            await asyncio.sleep(0.02)
    return view


async def test_progress_is_reported_at_most_every_few_seconds(tmp_path: Path) -> None:
    config = make_config(tmp_path, batch=10)
    clock = frozen()
    watcher = Watcher(clock)
    sim = Ticking(clock, 1.0)
    async with open_core(
        config, gateways={"simulator": sim}, clock=clock, notifier=FanOut([watcher])
    ) as core:
        await seed_contacts(core, tmp_path, MANY)
        start = clock.monotonic()
        bid = await broadcast(core, "club:ict", "Exam at 9")
        core.dispatcher.start()
        try:
            view = await wait_done(core, bid)
        finally:
            await core.dispatcher.stop()
    elapsed = clock.monotonic() - start
    assert view.counts["sent"] == 250 and elapsed >= 25  # 25 requests of a fake second each
    edits = len(watcher.progress_at)
    assert 2 <= edits <= elapsed / PROGRESS_SECONDS + 2, watcher.progress_at
    gaps = [b - a for a, b in zip(watcher.progress_at, watcher.progress_at[1:], strict=False)]
    assert all(gap >= PROGRESS_SECONDS for gap in gaps), gaps


async def test_finished_broadcasts_are_forgotten_by_the_dispatcher(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = frozen()
    sim = SimulatorGateway(delivery_delay_seconds=0)
    async with open_core(config, gateways={"simulator": sim}, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        marked = core.dispatcher.settler.marked
        for n in range(3):
            bid = await broadcast(core, "all", f"Notice {n}")
            assert await core.dispatcher.run_once("simulator", sim)
            assert (await core.broadcasts.view(bid)).state == "done"
            assert bid not in marked and len(marked) == 0
    assert len(sim.sent) == 15


def test_recent_set_forgets_the_oldest_beyond_its_limit() -> None:
    seen: RecentSet[int] = RecentSet(100)
    for n in range(10_000):
        seen.add(n)
    assert len(seen) == 100 and 9_999 in seen and 9_899 not in seen
    seen.add(9_900)  # refreshed: now the newest
    seen.add(10_000)
    assert 9_900 in seen and 9_901 not in seen
    seen.discard(9_900)
    assert 9_900 not in seen and len(seen) == 99
