"""The modem as the core's gateway: broadcasts, keyword replies, inbound and the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.clock import Clock
from bot.core import GatewayHooks, open_core
from bot.notify import FanOut
from bot.server import build_gateways, build_modem_pool
from gateway.base import Gateway
from gateway.gsm import analyse
from gateway.modem.pool import ModemPoolGateway
from storage.modem_usage import SqlUsageLedger
from tests.fakes.africastalking import FakeAfricasTalking
from tests.fakes.modem import FakeModem
from tests.fakes.modem_pdus import build_deliver, vectors
from tests.support.base import AT_KEY, make_config, seed_contacts
from tests.support.db import contact_state, inbound_rows, modem_usage_rows, outbox_rows
from tests.support.modem import FAST, Modems, eventually
from tests.support.recorder import Recorder
from tests.support.rig import Rig

MANY = "Name,Phone,Club\n" + "".join(f"Student {i},07{i:08d},ICT\n" for i in range(30_001, 30_013))
ACHIENG = "+254712345001"


ModemRig = Rig[Modems]


def _modem_toml(fakes: list[FakeModem], limit: int) -> str:
    return "".join(
        f'\n[gateways.modem.m{i + 1}]\nport = "{f.link}"\ndaily_limit = {limit}\npace_seconds = 0\n'
        for i, f in enumerate(fakes)
    )


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[ModemRig]:
    opts: dict[str, Any] = getattr(request, "param", {})
    n = opts.get("modems", 1)
    fakes = [FakeModem(tmp_path / f"ttyUSB{i}") for i in range(n)]
    for f in fakes:
        f.start()
    at = FakeAfricasTalking(api_key=AT_KEY) if opts.get("at_primary") else None
    url = await at.start() if at else "http://127.0.0.1:9"
    primary, fallback = ("africastalking", "modem") if at else ("modem", None)
    config = make_config(
        tmp_path,
        primary=primary,
        at_url=url,
        batch=5,
        extra=_modem_toml(fakes, opts.get("limit", 100)),
        fallback_line=f'fallback = "{fallback}"' if fallback else "",
    )
    async with aiohttp.ClientSession() as session:

        def gateways(hooks: GatewayHooks) -> dict[str, Gateway]:
            pool = build_modem_pool(
                config,
                on_inbound=hooks.on_inbound,
                on_report=hooks.on_report,
                ledger=SqlUsageLedger(hooks.db),
                now=hooks.clock.now,
                settings=FAST,  # the modem with test timings
            )
            built: dict[str, Gateway] = {"modem": pool}
            if at:
                served = build_gateways(config, session, on_report=hooks.on_report)
                assert isinstance(served["modem"], ModemPoolGateway)  # the app's own wiring
                built["africastalking"] = served["africastalking"]
            return built

        clock = Clock()
        recorder = Recorder(clock)
        notifier = FanOut([recorder])
        async with open_core(config, gateways=gateways, clock=clock, notifier=notifier) as core:
            pool = core.gateways["modem"]
            assert isinstance(pool, ModemPoolGateway)
            await seed_contacts(core, tmp_path)
            await seed_contacts(core, tmp_path, MANY)
            await pool.start()
            for d in pool.drivers.values():
                assert await d.wait_ready(5)
            core.dispatcher.start()
            try:
                side = Modems(pool, {f"m{i + 1}": f for i, f in enumerate(fakes)}, at)
                yield Rig(core, side, recorder, clock)
            finally:
                await core.dispatcher.stop()
                await pool.close()
                await core.inbound.settled()
    for f in fakes:
        f.stop()
    if at:
        await at.stop()


async def test_three_part_emoji_message_round_trip(rig: ModemRig) -> None:
    text = "Habari 😀 " * 18
    assert analyse(text).segments == 3
    row_id = await rig.core.messaging.send_one(
        ACHIENG, text, person=rig.core.config.people["registrar"]
    )

    async def delivered() -> dict[str, Any]:
        async with asyncio.timeout(10):
            while True:
                [row] = await rig.core.messaging.statuses([row_id])
                if row["delivery_status"] == "delivered":
                    return row
                await asyncio.sleep(0.02)

    row = await delivered()  # three +CDSI status reports, matched by MR, then recorded
    assert row["state"] == "sent" and row["provider_id"].startswith("m1-")
    [fake] = rig.side.fakes.values()
    assert fake.texts() == [(ACHIENG, text)]  # read back by the fake with our own decoder
    parts = [s.decoded for s in fake.submitted]
    assert [p.concat.sequence for p in parts if p.concat] == [1, 2, 3]
    assert all(p.alphabet == "UCS-2" and p.status_report_requested for p in parts)
    usage = await modem_usage_rows(rig.core.db)
    assert usage == [{"modem_id": "m1", "messages": 1, "segments": 3}]


async def test_keyword_reply_and_inbox_flow_through_the_modem(rig: ModemRig) -> None:
    [fake] = rig.side.fakes.values()
    when = datetime.fromisoformat("2026-11-20T10:00:00+03:00")
    fake.deliver(build_deliver(ACHIENG, "STOP", when=when))
    fake.deliver(build_deliver("+254712345002", "Is the exam at 9 or 10?", when=when))
    fake.deliver(vectors("deliver")["safaricom-mpesa-2"]["pdu"])  # alphanumeric: not a person
    await eventually(lambda: any(n == ACHIENG for n, _ in fake.texts()), within=10)
    await eventually(lambda: not fake.stored())
    await rig.core.inbound.settled()
    [reply] = [t for n, t in fake.texts() if n == ACHIENG]
    assert "START" in reply  # the opt-out confirmation tells how to opt back in
    contact = await contact_state(rig.core.db, ACHIENG)
    assert contact["opted_out_at"] is not None
    inbox = await rig.core.inbound.inbox()
    assert [(m.phone, m.text, m.gateway) for m in inbox] == [
        ("+254712345002", "Is the exam at 9 or 10?", "modem")
    ]
    stored = await inbound_rows(rig.core.db, "gateway", "provider_id")
    assert all(r["gateway"] == "modem" and r["provider_id"].startswith("m1-") for r in stored)


@pytest.mark.parametrize("rig", [{"modems": 2}], indirect=True)
async def test_unplug_mid_broadcast_loses_and_repeats_nothing(rig: ModemRig) -> None:
    a, b = rig.side.fakes.values()
    a.faults.vanish_after_pdu, a.faults.vanish_from = 1, 3  # 4th PDU written, never answered
    b.faults.vanish_before_prompt, b.faults.vanish_from = 1, 2  # 3rd send: nothing left

    async def replug() -> None:
        await eventually(lambda: not a.plugged and not b.plugged, within=10)
        await asyncio.sleep(0.1)
        a.replug()
        b.replug()

    task = asyncio.create_task(replug())
    bid = await rig.broadcast(message="Exam moved to 10am")
    view = await rig.wait_done(bid, within=20)
    await task
    assert view.counts.sent == 13 and view.counts.unknown == 1
    assert max(rig.side.sent().values()) == 1  # nobody got it twice
    assert sum(rig.side.sent().values()) == 14  # the unknown one did reach the fake modem
    [unknown] = await outbox_rows(rig.core.db, "phone", "error", state="unknown")
    assert rig.side.sent()[unknown["phone"]] == 1 and "may have gone" in unknown["error"]
    assert [d.connects for d in rig.side.pool.drivers.values()] == [2, 2]  # both came back
    assert len(a.texts()) > 4 and len(b.texts()) > 2  # and went on


@pytest.mark.parametrize("rig", [{"modems": 2, "limit": 5}], indirect=True)
async def test_daily_limits_hold_under_the_dispatcher(rig: ModemRig) -> None:
    bid = await rig.broadcast(message="Fees are due on Friday")
    await eventually(lambda: sum(rig.side.sent().values()) == 10, within=10)
    await asyncio.sleep(0.3)  # the lanes now back off until local midnight
    assert [len(f.texts()) for f in rig.side.fakes.values()] == [5, 5]
    rows = await outbox_rows(rig.core.db, "state", broadcast_id=bid)
    rest = [r for r in rows if r["state"] != "sent"]
    assert [r["state"] for r in rest] == ["queued"] * 4  # kept for tomorrow, not failed
    assert rig.core.dispatcher.health()["modem"]["retry_in_seconds"] > 0
    assert all(m["remaining"] == 0 for m in rig.side.pool.health()["modems"].values())


@pytest.mark.parametrize("rig", [{"at_primary": True}], indirect=True)
async def test_fallback_to_the_modem_when_africas_talking_is_down(rig: ModemRig) -> None:
    assert rig.side.at is not None
    rig.side.at.faults.fail_http(503, count=None)
    bid = await rig.broadcast(message="Library closes at 4pm")
    view = await rig.wait_done(bid)
    assert view.counts.sent == 14 and len(rig.side.at.accepted) == 0
    assert set(rig.side.sent().values()) == {1} and len(rig.side.sent()) == 14
