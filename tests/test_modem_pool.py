"""The modem pool behind the Gateway Protocol: least-used SIM, daily limits, lost ports."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.base import Gateway, GatewayAmbiguousError, GatewayError, OutgoingMessage, SendOutcome
from gateway.modem.pool import MemoryLedger, seconds_to_midnight
from storage import modem_usage
from storage.db import Database
from storage.modem_usage import SqlUsageLedger
from tests.support.modem import FAST, NAIROBI, Sink, eventually, fake_modem, running_pool


def msg(text: str = "Exam at 9", to: str = "+254712000111") -> OutgoingMessage:
    return OutgoingMessage(text=text, recipients=[to])


class Clock:
    def __init__(self, at: str) -> None:
        self.at = datetime.fromisoformat(at)

    def __call__(self) -> datetime:
        return self.at


async def test_pool_is_a_gateway_with_one_lane_per_modem(tmp_path: Path) -> None:
    with fake_modem(tmp_path, "a") as a, fake_modem(tmp_path, "b") as b:
        async with running_pool([a, b], Sink()) as pool:
            assert isinstance(pool, Gateway)
            assert pool.name == "modem" and pool.concurrency == 2
            assert pool.max_recipients_per_request == 1
            with pytest.raises(ValueError):
                await pool.send(OutgoingMessage("x", ["+254712000111", "+254712000112"]))
            health = pool.health()
    assert health["state"] == "up" and set(health["modems"]) == {"m1", "m2"}
    m1 = health["modems"]["m1"]
    assert m1["state"] == "ready" and m1["signal"]["rssi"] == 14 and m1["daily_limit"] == 200


async def test_least_used_sim_with_room_is_picked(tmp_path: Path) -> None:
    clock = Clock("2026-11-20T10:00:00+03:00")
    ledger = MemoryLedger()
    await ledger.add("m1", clock().date(), messages=5, segments=5)
    await ledger.add("m2", clock().date(), messages=3, segments=3)
    with fake_modem(tmp_path, "a") as a, fake_modem(tmp_path, "b") as b:
        async with running_pool([a, b], Sink(), ledger=ledger, now=clock) as pool:
            for i in range(4):
                await pool.send(msg(to=f"+25471200011{i}"))
            assert pool.used("m1") == (6, 6) and pool.used("m2") == (6, 6)
    assert len(a.submitted) == 1 and len(b.submitted) == 3


async def test_daily_limits_hold_and_sending_resumes_after_midnight(tmp_path: Path) -> None:
    clock = Clock("2026-11-20T23:30:00+03:00")
    ledger = MemoryLedger()
    with fake_modem(tmp_path, "a") as a, fake_modem(tmp_path, "b") as b:
        async with running_pool([a, b], Sink(), limits=[2, 1], ledger=ledger, now=clock) as pool:
            for i in range(3):
                [result] = await pool.send(msg(to=f"+25471200010{i}"))
                assert result.outcome is SendOutcome.ACCEPTED
            with pytest.raises(GatewayError) as exc:
                await pool.send(msg())
            assert exc.value.temporary and not isinstance(exc.value, GatewayAmbiguousError)
            assert exc.value.retry_after == pytest.approx(30 * 60)
            assert len(a.submitted) + len(b.submitted) == 3  # nothing went past a limit
            clock.at += timedelta(minutes=31)  # a new local day
            await pool.send(msg())
    assert ledger.days[date(2026, 11, 20)] == {"m1": (2, 2), "m2": (1, 1)}
    assert sum(m for m, _ in ledger.days[date(2026, 11, 21)].values()) == 1


async def test_limit_can_count_segments(tmp_path: Path) -> None:
    long = "Registration closes Friday. " * 12  # 3 GSM-7 segments
    with fake_modem(tmp_path, "a") as a:
        async with running_pool([a], Sink(), limits=[4], count_segments=True) as pool:
            await pool.send(msg(long))
            with pytest.raises(GatewayError, match="daily limit"):
                await pool.send(msg(long[:200]))  # 2 more would make 5
            await pool.send(msg("short"))
            assert pool.used("m1") == (2, 4)
            assert pool.health()["modems"]["m1"]["remaining"] == 0


async def test_usage_is_stored_per_sim_and_local_day(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "t.db")
    clock = Clock("2026-11-20T00:30:00+03:00")  # still the 19th in UTC
    try:
        with fake_modem(tmp_path, "a") as a:
            async with running_pool([a], Sink(), ledger=SqlUsageLedger(db), now=clock) as pool:
                await pool.send(msg("x" * 200))
                await pool.send(msg())
            async with running_pool([a], Sink(), ledger=SqlUsageLedger(db), now=clock) as pool:
                assert pool.used("m1") == (2, 3)  # loaded again after a restart
        async with db.read() as tx:
            rows = await modem_usage.since(tx, "2026-11-01")
    finally:
        await db.close()
    assert [(r.modem_id, r.day, r.messages, r.segments) for r in rows] == [
        ("m1", "2026-11-20", 2, 3)
    ]


async def test_a_lost_count_never_fails_a_sent_message(tmp_path: Path) -> None:
    class Broken(MemoryLedger):
        async def add(self, modem_id: str, day: date, *, messages: int, segments: int) -> None:
            raise OSError("disk full")

    with fake_modem(tmp_path, "a") as a:
        async with running_pool([a], Sink(), ledger=Broken()) as pool:
            [result] = await pool.send(msg())
            assert result.outcome is SendOutcome.ACCEPTED and pool.used("m1") == (1, 1)


async def test_unplugged_modem_is_skipped_and_comes_back(tmp_path: Path) -> None:
    with fake_modem(tmp_path, "a") as a, fake_modem(tmp_path, "b") as b:
        async with running_pool([a, b], Sink()) as pool:
            a.unplug()
            await eventually(lambda: not pool.drivers["m1"].ready)
            assert pool.health()["state"] == "degraded"
            for i in range(3):
                await pool.send(msg(to=f"+25471200020{i}"))
            assert len(b.submitted) == 3
            a.replug()
            assert await pool.drivers["m1"].wait_ready(5)
            await pool.send(msg())
    assert len(a.submitted) == 1 and pool.drivers["m1"].connects == 2


async def test_no_modem_at_all_is_temporary(tmp_path: Path) -> None:
    with fake_modem(tmp_path, "a") as a:
        async with running_pool([a], Sink(), ready_wait=0.1) as pool:
            a.unplug()
            await eventually(lambda: not pool.drivers["m1"].ready)
            with pytest.raises(GatewayError, match="no modem is ready") as exc:
                await pool.send(msg())
            assert not isinstance(exc.value, GatewayAmbiguousError)
            assert pool.health()["state"] == "down"


async def test_port_lost_after_the_pdu_is_ambiguous_and_counted(tmp_path: Path) -> None:
    with fake_modem(tmp_path, "a") as a:
        async with running_pool([a], Sink()) as pool:
            a.faults.vanish_after_pdu = 1
            with pytest.raises(GatewayAmbiguousError, match="may have gone"):
                await pool.send(msg())
            assert pool.used("m1") == (1, 1)  # it may have been sent: it counts
            a.replug()
            assert await pool.drivers["m1"].wait_ready(5)
            await pool.send(msg())
    assert len(a.submitted) == 2


async def test_port_lost_before_the_prompt_goes_to_another_modem(tmp_path: Path) -> None:
    with fake_modem(tmp_path, "a") as a, fake_modem(tmp_path, "b") as b:
        async with running_pool([a, b], Sink()) as pool:
            a.faults.vanish_before_prompt = 1
            b.faults.vanish_before_prompt = 1
            with pytest.raises(GatewayError, match="nothing was sent") as exc:
                await pool.send(msg())
            assert not isinstance(exc.value, GatewayAmbiguousError)
            assert pool.used("m1") == (0, 0) and pool.used("m2") == (0, 0)
    assert a.submitted == [] and b.submitted == []


def test_seconds_to_midnight_uses_the_local_day() -> None:
    now = datetime.fromisoformat("2026-11-20T20:00:00+00:00")  # 23:00 in Nairobi
    assert seconds_to_midnight(now, NAIROBI) == 3600


async def test_a_send_never_answered_is_ambiguous_and_the_modem_resyncs(tmp_path: Path) -> None:
    settings = replace(FAST, send_seconds=0.2)
    with fake_modem(tmp_path, "a") as a:
        async with running_pool([a], Sink(), settings=settings) as pool:
            a.faults.silent = 1  # the PDU went in; +CMGS never comes
            with pytest.raises(GatewayAmbiguousError, match="no final result"):
                await pool.send(msg())
            assert await pool.drivers["m1"].wait_ready(5)  # reconnected: back in step
            await pool.send(msg())
            assert pool.drivers["m1"].connects == 2
    assert len(a.submitted) == 2
