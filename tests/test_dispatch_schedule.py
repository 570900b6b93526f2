"""Scheduled broadcasts: {greeting} for the send time, seasonal greetings, placeholder fallback,
and rows that wait for their send time on the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import FrozenClock
from bot.config.loader import load_config
from bot.config.types import Config
from bot.core import Core, open_core
from gateway.simulator.gateway import SimulatorGateway
from tests.support.base import frozen, make_config, seed_contacts, write_config
from tests.support.db import broadcast_texts

SEASONAL = """
[dispatch.greetings]
"12-25" = "Merry Christmas"
"""


async def send(
    core: Core, message: str, *, audience: str = "club:ict", at: str | None = None
) -> int:
    """Compose (two ICT contacts: no approval needed) and approve; return the broadcast id."""
    registrar = core.config.people["registrar"]
    send_at = datetime.fromisoformat(at) if at else None
    view = await core.broadcasts.compose(
        audience=audience, message=message, requester=registrar, send_at=send_at
    )
    decision = await core.broadcasts.approve(view.id, person=registrar)
    assert decision.outcome == "approved", decision.message
    return view.id


async def texts(core: Core, bid: int) -> list[str]:
    """The text each recipient will get, in row order."""
    return await broadcast_texts(core.db, bid)


async def test_greeting_is_for_the_send_time_not_the_approval_time(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = frozen("2026-11-20T14:55:00+00:00")  # 17:55 in Nairobi
    async with open_core(config, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        tomorrow_8 = "2026-11-21T08:00:00+03:00"
        static = await send(core, "{greeting}, the exam is at 9", at=tomorrow_8)
        personal = await send(core, "{greeting} {first_name}", at=tomorrow_8)
        now = await send(core, "{greeting}, the exam is at 9")
        view = await core.broadcasts.view(static)
        assert await texts(core, static) == ["Good morning, the exam is at 9"] * 2
        assert await texts(core, personal) == ["Good morning Achieng", "Good morning Brian"]
        assert await texts(core, now) == ["Good evening, the exam is at 9"] * 2
    assert view.preview.sample == "Good morning, the exam is at 9"  # the preview agrees


async def test_a_send_time_already_past_greets_for_now(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = frozen("2026-11-20T14:55:00+00:00")  # 17:55 in Nairobi
    async with open_core(config, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        bid = await send(core, "{greeting}", at="2026-11-20T17:54:30+03:00")
        assert await texts(core, bid) == ["Good evening"] * 2


async def test_seasonal_greeting_by_local_date_of_the_send_time(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra=SEASONAL)
    clock = frozen("2026-12-24T16:00:00+00:00")  # 19:00 on the 24th in Nairobi
    async with open_core(config, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        eve = await send(core, "{greeting}!")
        day = await send(core, "{greeting}!", at="2026-12-25T09:00:00+03:00")
        assert await texts(core, eve) == ["Good evening!"] * 2
        assert await texts(core, day) == ["Merry Christmas!"] * 2
        clock.advance(5.5 * 3600)  # 21:30 UTC on the 24th is 00:30 on the 25th in Nairobi
        late = await send(core, "{greeting}!")
        assert await texts(core, late) == ["Merry Christmas!"] * 2


def config_with_fallback(tmp_path: Path, fallback: str) -> Config:
    path = write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert 'currency = "KES"\n' in text
    text = text.replace(
        'currency = "KES"\n', f'currency = "KES"\nplaceholder_fallback = "{fallback}"\n'
    )
    path.write_text(text, encoding="utf-8")
    return load_config(path)


async def test_placeholder_fallback_fills_a_missing_value(tmp_path: Path) -> None:
    config = config_with_fallback(tmp_path, "(ask the office)")
    csv = (
        "Name,Phone,Club,Admission No\n"
        "Achieng Otieno,0712345001,ICT,SCT211-0001\n"
        "Brian Kiprotich,0712345002,ICT,\n"
    )
    async with open_core(config, clock=frozen()) as core:
        await seed_contacts(core, tmp_path, csv)
        bid = await send(core, "{first_name}, your number: {admission_no}")
        assert await texts(core, bid) == [
            "Achieng, your number: SCT211-0001",
            "Brian, your number: (ask the office)",
        ]


async def run(core: Core, sim: SimulatorGateway) -> bool:
    return await core.dispatcher.run_once("simulator", sim)


async def test_scheduled_rows_wait_for_their_send_time(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock: FrozenClock = frozen()  # 10:00 in Nairobi
    sim = SimulatorGateway(delivery_delay_seconds=0)
    async with open_core(config, gateways={"simulator": sim}, clock=clock) as core:
        await seed_contacts(core, tmp_path)
        at = clock.now() + timedelta(hours=2)
        bid = await send(core, "Exam at 9", at=at.astimezone(UTC).isoformat())
        assert not await run(core, sim) and len(sim.sent) == 0
        clock.advance(2 * 3600 - 1)
        assert not await run(core, sim) and len(sim.sent) == 0
        assert (await core.broadcasts.view(bid)).state == "approved"
        clock.advance(1)
        assert await run(core, sim)
        view = await core.broadcasts.view(bid)
    assert len(sim.sent) == 2 and view.state == "done" and view.counts.sent == 2
