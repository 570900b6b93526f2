"""The dispatch worker against a fake Africa's Talking server over real HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.africastalking.sender import AfricasTalkingGateway
from gateway.simulator.gateway import SimulatorGateway
from tests.fakes.africastalking import FakeAfricasTalking
from tests.support.base import AT_KEY, make_config
from tests.support.db import update_outbox
from tests.support.rig import Rig, open_rig

AT_FIXTURES = Path(__file__).parent / "fixtures" / "africastalking"
MANY = "".join(f"Student {i},07{i:08d},ICT\n" for i in range(10_000_001, 10_000_251))


AtRig = Rig[FakeAfricasTalking]


def sent_numbers(rig: AtRig) -> Counter[str]:
    """How often the fake accepted each number."""
    return Counter(a.number for a in rig.side.accepted)


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[AtRig]:
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
        contacts = ("Name,Phone,Club\n" + MANY,)
        async with open_rig(
            config, fake, gateways=gateways, tmp_path=tmp_path, contacts=contacts
        ) as rig:
            yield rig
    await fake.stop()


async def test_batches_identical_text_once_per_recipient(rig: AtRig) -> None:
    bid = await rig.broadcast()
    view = await rig.wait_state(bid, "done")
    assert view.counts.sent == 250 and view.counts.queued == 0
    assert [len(r.recipients) for r in rig.side.requests] == [100, 100, 50]
    assert max(sent_numbers(rig).values()) == 1 and len(sent_numbers(rig)) == 250
    req = rig.side.requests[0]
    assert req.header("apiKey") == AT_KEY and req.form["bulkSMSMode"] == "1"
    assert view.counts.cost == pytest.approx(250 * 0.8)


async def test_personalised_texts_go_one_per_request(rig: AtRig) -> None:
    bid = await rig.broadcast("0710000001, 0710000002", "Hi {name}, see you")
    await rig.wait_state(bid, "done")
    assert sorted(len(r.recipients) for r in rig.side.requests) == [1, 1]


async def test_urgent_lane_goes_before_bulk(rig: AtRig) -> None:
    rig.side.faults.delay(0.05)
    bid = await rig.broadcast()
    await asyncio.sleep(0.02)  # first bulk batch in flight
    mid = await rig.core.messaging.send_one(
        "0712000777", "Reply to you", person=rig.core.config.people["registrar"]
    )
    await rig.wait_state(bid, "done")
    order = [r.form["message"] for r in rig.side.requests]
    assert order.index("Reply to you") <= 1, order
    assert (await rig.core.messaging.statuses([mid]))[0]["state"] == "sent"


@pytest.mark.parametrize("rig", [{"attempts": 5}], indirect=True)
async def test_http_500_retries_with_backoff(rig: AtRig) -> None:
    rig.side.faults.fail_http(500, count=2)
    bid = await rig.broadcast("club:ict")
    view = await rig.wait_state(bid, "done")
    assert view.counts.sent == 250
    assert max(sent_numbers(rig).values()) == 1
    statuses = [r.response_status for r in rig.side.requests]
    assert statuses[:2] == [500, 500]


async def test_retry_after_is_honoured(rig: AtRig) -> None:
    rig.side.faults.fail_http(429, count=1, retry_after=1)
    bid = await rig.broadcast("0712000601")
    await rig.wait_state(bid, "done")
    first, second = rig.side.requests[0], rig.side.requests[1]
    assert first.response_status == 429
    assert second.timestamp - first.timestamp >= 0.95


@pytest.mark.parametrize(
    ("code", "state"),
    [(403, "failed"), (401, "failed"), (407, "failed"), (406, "failed")],
)
async def test_permanent_statuses_fail_at_once(rig: AtRig, code: int, state: str) -> None:
    rig.side.faults.set_number_status("+254712000701", code)
    bid = await rig.broadcast("0712000701, 0712000702")
    view = await rig.wait_state(bid, "done")
    assert view.counts.failed == 1 and view.counts.sent == 1
    assert len(rig.side.requests) == 1  # no retry
    contact = await rig.core.book.contact("0712000701")
    assert contact is not None
    if code == 406:  # UserInBlacklist: the carrier says they blocked us
        assert contact.opted_out_at is not None and contact.optout_source == "carrier"
    else:
        assert contact.opted_out_at is None


async def test_insufficient_balance_pauses_and_alerts(rig: AtRig) -> None:
    rig.side.faults.insufficient_balance_after(150)
    bid = await rig.broadcast()
    view = await rig.wait_state(bid, "paused")
    assert "insufficient balance" in (view.paused_reason or "")
    assert any("insufficient balance" in a for a in rig.recorder.alerts)
    await asyncio.sleep(0.3)
    assert view.counts.failed == 0
    rig.side.faults.clear()
    await rig.core.broadcasts.set_paused(bid, paused=False, actor="dean")
    await update_outbox(rig.core.db, {"next_attempt_at": 0}, state="queued")  # skip the 60 s hold
    rig.core.dispatcher.wake()
    view = await rig.wait_state(bid, "done")
    assert view.counts.sent == 250 and max(sent_numbers(rig).values()) == 1


@pytest.mark.parametrize("rig", [{"timeout": 1}], indirect=True)
async def test_timeout_marks_batch_unknown_and_never_resends(rig: AtRig) -> None:
    rig.side.faults.delay(2.0, count=1)
    bid = await rig.broadcast()
    view = await rig.wait_state(bid, "done")
    assert view.counts.unknown == 100 and view.counts.sent == 150
    assert len(rig.side.requests) == 3
    resent = await rig.core.broadcasts.resend_unknown(
        bid, person=rig.core.config.people["registrar"]
    )
    assert resent == 100
    view = await rig.wait_state(bid, "done")
    assert view.counts.unknown == 0 and view.counts.sent == 250


async def test_malformed_json_is_unknown(rig: AtRig) -> None:
    rig.side.faults.malformed_json(count=1)
    bid = await rig.broadcast("0712000801")
    view = await rig.wait_state(bid, "done")
    assert view.counts.unknown == 1 and len(rig.side.requests) == 1


@pytest.mark.parametrize(
    ("fixture", "sent", "unknown"),
    [("send_one_without_number.json", 1, 0), ("send_one_other_number.json", 0, 1)],
)
async def test_one_recipient_answers_are_never_retried(
    rig: AtRig, fixture: str, sent: int, unknown: int
) -> None:
    rig.side.faults.raw_response((AT_FIXTURES / fixture).read_text(encoding="utf-8"), count=1)
    bid = await rig.broadcast("0712000801")
    view = await rig.wait_state(bid, "done")
    assert (view.counts.sent, view.counts.unknown) == (sent, unknown)
    await asyncio.sleep(0.3)  # a retry, if one were due, would have left by now
    assert len(rig.side.requests) == 1


@pytest.mark.parametrize("rig", [{"fallback": True}], indirect=True)
async def test_fallback_takes_over_when_primary_is_down(rig: AtRig) -> None:
    rig.side.faults.fail_http(503, count=None)
    bid = await rig.broadcast()
    view = await rig.wait_state(bid, "done")
    assert view.counts.sent == 250
    sim = rig.core.dispatcher.gateways["simulator"]
    assert isinstance(sim, SimulatorGateway)
    assert len(sim.sent) == 250 and len(rig.side.accepted) == 0


async def test_crash_recovery_marks_in_flight_unknown(rig: AtRig) -> None:
    bid = await rig.broadcast("0712000901")
    await rig.wait_state(bid, "done")
    await update_outbox(rig.core.db, {"state": "sending", "batch_id": "x"})  # what a kill -9 leaves
    assert await rig.core.dispatcher.recover() == 1
    view = await rig.core.broadcasts.view(bid)
    assert view.counts.unknown == 1
    assert any("in flight" in a for a in rig.recorder.alerts)


async def test_cancel_mid_send_stops_remaining(rig: AtRig) -> None:
    rig.side.faults.delay(0.2)
    bid = await rig.broadcast()
    await asyncio.sleep(0.1)
    decision = await rig.core.broadcasts.cancel(bid, person=rig.core.config.people["dean"])
    assert decision.outcome == "cancelled"
    await asyncio.sleep(0.5)
    view = await rig.core.broadcasts.view(bid)
    assert view.state == "cancelled"
    assert view.counts.cancelled >= 100
    assert len(rig.side.accepted) == view.counts.sent
