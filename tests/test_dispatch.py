"""The dispatch worker against a fake Africa's Talking server over real HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.clock import Clock
from bot.core import Core
from bot.notify import FanOut, NullNotifier
from bot.views import BroadcastView
from gateway.africastalking.sender import AfricasTalkingGateway
from gateway.simulator.gateway import SimulatorGateway
from tests.fakes.africastalking import FakeAfricasTalking
from tests.support.base import AT_KEY, make_config, open_core, seed_contacts

MANY = "".join(f"Student {i},07{i:08d},ICT\n" for i in range(10_000_001, 10_000_251))


class Recorder(NullNotifier):
    """Keeps what the core told chat fronts."""

    def __init__(self) -> None:
        self.alerts: list[str] = []
        self.updates: list[BroadcastView] = []

    async def broadcast_updated(self, view: BroadcastView) -> None:
        self.updates.append(view)

    async def alert(self, text: str) -> None:
        self.alerts.append(text)


@dataclass
class Rig:
    core: Core
    fake: FakeAfricasTalking
    recorder: Recorder
    tmp: Path

    async def broadcast(self, audience: str = "club:ict", message: str = "Exam at 9") -> int:
        reg = self.core.config.people["registrar"]
        view = await self.core.broadcasts.compose(audience=audience, message=message, requester=reg)
        approver = self.core.config.people["dean"]
        decision = await self.core.broadcasts.approve(view.id, person=approver)
        assert decision.outcome == "approved", decision.message
        return view.id

    async def wait_state(self, bid: int, *states: str, timeout: float = 15.0) -> BroadcastView:
        async with asyncio.timeout(timeout):
            while True:
                view = await self.core.broadcasts.view(bid)
                if view.state in states:
                    return view
                await asyncio.sleep(0.02)

    def sent_numbers(self) -> Counter[str]:
        return Counter(a.number for a in self.fake.accepted)


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    opts: dict[str, Any] = getattr(request, "param", {})
    fake = FakeAfricasTalking(api_key=AT_KEY)
    url = await fake.start()
    fallback = opts.pop("fallback", False)
    config = make_config(
        tmp_path,
        primary="africastalking",
        at_url=url,
        timeout=opts.pop("timeout", 5),
        fallback_line='fallback = "simulator"' if fallback else "",
        **opts,
    )
    recorder = Recorder()
    async with aiohttp.ClientSession() as session:
        at = AfricasTalkingGateway(
            session=session,
            username="sandbox",
            api_key=AT_KEY,
            base_url=url,
            timeout_seconds=config.gateways.africastalking.timeout_seconds
            if config.gateways.africastalking
            else 5,
        )
        gateways: dict[str, Any] = {"africastalking": at}
        if fallback:
            gateways["simulator"] = SimulatorGateway(delivery_delay_seconds=0)
        async with open_core(
            config, gateways=gateways, clock=Clock(), notifier=FanOut([recorder])
        ) as core:
            await seed_contacts(core, tmp_path, "Name,Phone,Club\n" + MANY)
            core.dispatcher.start()
            try:
                yield Rig(core, fake, recorder, tmp_path)
            finally:
                await core.dispatcher.stop()
    await fake.stop()


async def test_batches_identical_text_once_per_recipient(rig: Rig) -> None:
    bid = await rig.broadcast()
    view = await rig.wait_state(bid, "done")
    assert view.counts["sent"] == 250 and view.counts["queued"] == 0
    assert [len(r.recipients) for r in rig.fake.requests] == [100, 100, 50]
    assert max(rig.sent_numbers().values()) == 1 and len(rig.sent_numbers()) == 250
    req = rig.fake.requests[0]
    assert req.header("apiKey") == AT_KEY and req.form["bulkSMSMode"] == "1"
    assert view.counts["cost"] == pytest.approx(250 * 0.8)


async def test_personalised_texts_go_one_per_request(rig: Rig) -> None:
    bid = await rig.broadcast("0710000001, 0710000002", "Hi {name}, see you")
    await rig.wait_state(bid, "done")
    assert sorted(len(r.recipients) for r in rig.fake.requests) == [1, 1]


async def test_urgent_lane_goes_before_bulk(rig: Rig) -> None:
    rig.fake.faults.delay(0.05)
    bid = await rig.broadcast()
    await asyncio.sleep(0.02)  # first bulk batch in flight
    mid = await rig.core.messaging.send_one(
        "0712000777", "Reply to you", person=rig.core.config.people["registrar"]
    )
    await rig.wait_state(bid, "done")
    order = [r.form["message"] for r in rig.fake.requests]
    assert order.index("Reply to you") <= 1, order
    assert (await rig.core.messaging.statuses([mid]))[0]["state"] == "sent"


@pytest.mark.parametrize("rig", [{"attempts": 5}], indirect=True)
async def test_http_500_retries_with_backoff(rig: Rig) -> None:
    rig.fake.faults.fail_http(500, count=2)
    bid = await rig.broadcast("club:ict")
    view = await rig.wait_state(bid, "done")
    assert view.counts["sent"] == 250
    assert max(rig.sent_numbers().values()) == 1
    statuses = [r.response_status for r in rig.fake.requests]
    assert statuses[:2] == [500, 500]


async def test_retry_after_is_honoured(rig: Rig) -> None:
    rig.fake.faults.fail_http(429, count=1, retry_after=1)
    bid = await rig.broadcast("0712000601")
    await rig.wait_state(bid, "done")
    first, second = rig.fake.requests[0], rig.fake.requests[1]
    assert first.response_status == 429
    assert second.timestamp - first.timestamp >= 0.95


@pytest.mark.parametrize(
    ("code", "state"),
    [(403, "failed"), (401, "failed"), (407, "failed"), (406, "failed")],
)
async def test_permanent_statuses_fail_at_once(rig: Rig, code: int, state: str) -> None:
    rig.fake.faults.set_number_status("+254712000701", code)
    bid = await rig.broadcast("0712000701, 0712000702")
    view = await rig.wait_state(bid, "done")
    assert view.counts["failed"] == 1 and view.counts["sent"] == 1
    assert len(rig.fake.requests) == 1  # no retry
    contact = await rig.core.book.contact("0712000701")
    assert contact is not None
    if code == 406:  # UserInBlacklist: the carrier says they blocked us
        assert contact.opted_out_at is not None and contact.optout_source == "carrier"
    else:
        assert contact.opted_out_at is None


async def test_insufficient_balance_pauses_and_alerts(rig: Rig) -> None:
    rig.fake.faults.insufficient_balance_after(150)
    bid = await rig.broadcast()
    view = await rig.wait_state(bid, "paused")
    assert "insufficient balance" in (view.paused_reason or "")
    assert any("insufficient balance" in a for a in rig.recorder.alerts)
    await asyncio.sleep(0.3)
    assert view.counts["failed"] == 0
    rig.fake.faults.clear()
    await rig.core.broadcasts.set_paused(bid, paused=False, actor="dean")
    async with rig.core.db.transaction() as tx:  # skip the 60 s hold for the test
        await tx.execute("UPDATE outbox SET next_attempt_at = 0 WHERE state = 'queued'")
    rig.core.dispatcher.wake()
    view = await rig.wait_state(bid, "done")
    assert view.counts["sent"] == 250 and max(rig.sent_numbers().values()) == 1


@pytest.mark.parametrize("rig", [{"timeout": 1}], indirect=True)
async def test_timeout_marks_batch_unknown_and_never_resends(rig: Rig) -> None:
    rig.fake.faults.delay(2.0, count=1)
    bid = await rig.broadcast()
    view = await rig.wait_state(bid, "done")
    assert view.counts["unknown"] == 100 and view.counts["sent"] == 150
    assert len(rig.fake.requests) == 3
    resent = await rig.core.broadcasts.resend_unknown(
        bid, person=rig.core.config.people["registrar"]
    )
    assert resent == 100
    view = await rig.wait_state(bid, "done")
    assert view.counts["unknown"] == 0 and view.counts["sent"] == 250


async def test_malformed_json_is_unknown(rig: Rig) -> None:
    rig.fake.faults.malformed_json(count=1)
    bid = await rig.broadcast("0712000801")
    view = await rig.wait_state(bid, "done")
    assert view.counts["unknown"] == 1 and len(rig.fake.requests) == 1


@pytest.mark.parametrize("rig", [{"fallback": True}], indirect=True)
async def test_fallback_takes_over_when_primary_is_down(rig: Rig) -> None:
    rig.fake.faults.fail_http(503, count=None)
    bid = await rig.broadcast()
    view = await rig.wait_state(bid, "done")
    assert view.counts["sent"] == 250
    sim = rig.core.dispatcher.gateways["simulator"]
    assert isinstance(sim, SimulatorGateway)
    assert len(sim.sent) == 250 and len(rig.fake.accepted) == 0


async def test_crash_recovery_marks_in_flight_unknown(rig: Rig) -> None:
    bid = await rig.broadcast("0712000901")
    await rig.wait_state(bid, "done")
    async with rig.core.db.transaction() as tx:  # what a kill -9 mid-request leaves behind
        await tx.execute("UPDATE outbox SET state = 'sending', batch_id = 'x'")
    assert await rig.core.dispatcher.recover() == 1
    view = await rig.core.broadcasts.view(bid)
    assert view.counts["unknown"] == 1
    assert any("in flight" in a for a in rig.recorder.alerts)


async def test_cancel_mid_send_stops_remaining(rig: Rig) -> None:
    rig.fake.faults.delay(0.2)
    bid = await rig.broadcast()
    await asyncio.sleep(0.1)
    decision = await rig.core.broadcasts.cancel(bid, person=rig.core.config.people["dean"])
    assert decision.outcome == "cancelled"
    await asyncio.sleep(0.5)
    view = await rig.core.broadcasts.view(bid)
    assert view.state == "cancelled"
    assert view.counts["cancelled"] >= 100
    assert len(rig.fake.accepted) == view.counts["sent"]
