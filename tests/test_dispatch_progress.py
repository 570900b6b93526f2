"""Progress edits are throttled on the injected clock; per-broadcast memory does not grow."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.capped import RecentSet
from bot.clock import FrozenClock
from bot.core import Core, open_core
from bot.dispatch.settle import PROGRESS_SECONDS
from bot.notify import FanOut
from gateway.base import OutgoingMessage, RecipientResult
from gateway.simulator.gateway import SimulatorGateway
from handlers.chat import cards
from handlers.chat.cards import Message
from handlers.chat.notifier import ChatNotifier
from tests.support.base import frozen, make_config, seed_contacts
from tests.support.db import mark_first_queued_sent
from tests.support.recorder import Recorder
from tests.support.rig import approved_broadcast, wait_state

MANY = "Name,Phone,Club\n" + "".join(
    f"S {i},07{i:08d},ICT\n" for i in range(10_000_001, 10_000_251)
)


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


async def test_progress_is_reported_at_most_every_few_seconds(tmp_path: Path) -> None:
    config = make_config(tmp_path, batch=10)
    clock = frozen()
    watcher = Recorder(clock)
    sim = Ticking(clock, 1.0)
    async with open_core(
        config, gateways={"simulator": sim}, clock=clock, notifier=FanOut([watcher])
    ) as core:
        await seed_contacts(core, tmp_path, MANY)
        start = clock.monotonic()
        bid = await approved_broadcast(core, "club:ict", "Exam at 9")
        core.dispatcher.start()
        try:
            view = await wait_state(core, bid, "done")
        finally:
            await core.dispatcher.stop()
    elapsed = clock.monotonic() - start
    assert view.counts.sent == 250 and elapsed >= 25  # 25 requests of a fake second each
    edits = len(watcher.progress_at)
    assert 2 <= edits <= elapsed / PROGRESS_SECONDS + 2, watcher.progress_at


async def test_finished_broadcasts_are_forgotten_by_the_dispatcher(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = frozen()
    sim = SimulatorGateway(delivery_delay_seconds=0)
    async with open_core(config, gateways={"simulator": sim}, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        marked = core.dispatcher.settler.marked
        for n in range(3):
            bid = await approved_broadcast(core, "all", f"Notice {n}")
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


class Surface:
    """A chat platform that only records: posts, thread replies and edits."""

    platform = "console"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.replies: list[str] = []
        self.edits: list[tuple[float, str]] = []

    async def post(self, where: dict[str, Any], message: Message) -> dict[str, Any]:
        return {"ts": "root"}

    async def reply(self, root: dict[str, Any], message: Message) -> dict[str, Any]:
        self.replies.append(message.text)
        return {"ts": f"r{len(self.replies)}"}

    async def edit(self, ref: dict[str, Any], message: Message) -> None:
        self.edits.append((self.clock(), message.text))


async def send_one_more(core: Core) -> None:
    await mark_first_queued_sent(core.db)


async def chat_rig(
    core: Core, tmp_path: Path, interval: float, clock: Callable[[], float] = time.monotonic
) -> tuple[int, Surface, ChatNotifier]:
    """A sending broadcast of 250 and a chat notifier watching its thread, on `clock`."""
    await seed_contacts(core, tmp_path, MANY)
    bid = await approved_broadcast(core, "club:ict", "Exam at 9")
    await core.broadcasts.set_paused(bid, paused=True, actor="t")
    await core.broadcasts.set_paused(bid, paused=False, actor="t")  # now `sending`
    surface = Surface(clock)
    notifier = ChatNotifier(
        surface,
        broadcasts=core.broadcasts,
        config=core.config,
        approvals=None,
        inbox=None,
        interval=interval,
        monotonic=clock,
    )
    notifier.start()
    await notifier.set_thread(bid, {"ts": "root"})
    return bid, surface, notifier


async def test_chat_thread_progress_is_edited_in_place_and_throttled(tmp_path: Path) -> None:
    """The chat front's own throttle (handlers/chat/notifier.py) under a flood of progress.

    Here on the real clock with a short interval: at most one edit per interval, the trailing
    refresh included.
    """
    config = make_config(tmp_path)
    interval = 0.25
    async with open_core(config, clock=frozen()) as core:
        bid, surface, notifier = await chat_rig(core, tmp_path, interval)
        start = time.monotonic()
        for _ in range(200):  # one more row sent every ~5 ms, each time told
            await send_one_more(core)
            await notifier.progress(await core.broadcasts.view(bid))
            await asyncio.sleep(0.005)
        await notifier.idle()
        elapsed = time.monotonic() - start
        await notifier.close()
    assert len(surface.replies) == 1  # the progress line is posted once, then edited in place
    assert 1 <= len(surface.edits) <= elapsed / interval + 2, (elapsed, surface.edits)


async def test_chat_progress_edits_are_at_least_an_interval_apart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    interval = 0.5
    async with open_core(config, clock=frozen()) as core:
        bid, surface, notifier = await chat_rig(core, tmp_path, interval)
        await notifier.progress(await core.broadcasts.view(bid))  # posts the line; refresh at +0.5
        await notifier.idle()
        await asyncio.sleep(interval * 0.1)
        await send_one_more(core)
        await notifier.progress(await core.broadcasts.view(bid))  # not due: waits for the refresh
        await asyncio.sleep(interval)  # the refresh edits at +0.5; the next one is kicked below
        await send_one_more(core)
        await notifier.progress(await core.broadcasts.view(bid))  # kicks a refresh at ~+1.05
        await asyncio.sleep(interval * 0.92)
        await send_one_more(core)
        await notifier.progress(await core.broadcasts.view(bid))  # due (+1.0): edits
        await send_one_more(core)  # ... and the refresh at ~+1.05 shows this: a second edit
        await asyncio.sleep(interval * 0.5)
        await notifier.idle()
        await notifier.close()
    times = [t for t, _ in surface.edits]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) >= 2 and all(gap >= interval * 0.9 for gap in gaps), gaps


async def test_chat_refresh_waits_a_full_interval_after_an_edit_on_the_injected_clock(
    tmp_path: Path,
) -> None:
    """A refresh planned before a due edit is put off, not shown; the last counts still land."""
    config = make_config(tmp_path)
    now = [0.0]
    interval = 0.05  # real seconds the refresh sleeps; the decisions read the fake clock
    async with open_core(config, clock=frozen()) as core:
        bid, surface, notifier = await chat_rig(core, tmp_path, interval, lambda: now[0])
        await notifier.progress(await core.broadcasts.view(bid))  # posts; refresh planned
        await notifier.idle()
        assert len(surface.replies) == 1 and surface.edits == []
        now[0] = 10.0
        await send_one_more(core)
        await notifier.progress(await core.broadcasts.view(bid))  # due: edits at 10.0
        await notifier.idle()
        await send_one_more(core)  # only a refresh can show this one
        for _ in range(3):  # the refresh fires (real time), finds the edit too recent, waits on
            await asyncio.sleep(interval * 2)
            await notifier.idle()
        assert [t for t, _ in surface.edits] == [10.0]
        now[0] = 10.0 + interval
        await asyncio.sleep(interval * 3)
        await notifier.idle()
        final = cards.progress_message(await core.broadcasts.view(bid), core.config).text
        await notifier.close()
    assert [t for t, _ in surface.edits] == [10.0, 10.0 + interval]
    assert surface.edits[-1][1] == final != surface.edits[0][1]
