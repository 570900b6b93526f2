"""+CMGS: <mr> came but the final OK did not: the message went, with that reference."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.base import GatewayAmbiguousError, OutgoingMessage, SendOutcome
from tests.support.modem import FAST, Sink, eventually, fake_modem, running_pool

SETTINGS = replace(FAST, send_seconds=0.2)
LONG = (
    "Exam moved to 9am in the main hall; bring pens, your admission letter and a calculator. " * 2
)


def msg(text: str = "Exam at 9", to: str = "+254712000111") -> OutgoingMessage:
    return OutgoingMessage(text=text, recipients=[to])


async def test_a_lost_ok_after_the_reference_is_sent_and_the_modem_resyncs(
    tmp_path: Path,
) -> None:
    sink = Sink()
    with fake_modem(tmp_path, "a") as a:
        async with running_pool([a], sink, settings=SETTINGS) as pool:
            a.faults.swallow_ok = 1
            [result] = await pool.send(msg())
            mr = a.submitted[0].mr
            assert result.outcome is SendOutcome.ACCEPTED, result
            assert result.status == f"+CMGS: {mr}" and result.segments == 1
            assert pool.used("m1") == (1, 1)
            await eventually(lambda: len(sink.reports) == 1)  # the report finds the message
            assert sink.reports[0].provider_id == result.provider_id
            assert await pool.drivers["m1"].wait_ready(5)  # reconnected: back in step
            [again] = await pool.send(msg())
            assert again.outcome is SendOutcome.ACCEPTED
            assert pool.drivers["m1"].connects == 2
    assert len(a.submitted) == 2  # never repeated
    assert a.faults.swallow_ok == 0


async def test_a_lost_ok_after_the_last_part_counts_every_part(tmp_path: Path) -> None:
    with fake_modem(tmp_path, "a") as a:
        async with running_pool([a], Sink(), settings=SETTINGS) as pool:
            a.faults.swallow_ok, a.faults.swallow_ok_from = 1, 1  # the second part's OK
            [result] = await pool.send(msg(LONG))
    first, second = (s.mr for s in a.submitted)
    assert result.outcome is SendOutcome.ACCEPTED
    assert result.status == f"+CMGS: {first},{second}" and result.segments == 2
    assert pool.drivers["m1"].outgoing.parts_sent == 2


async def test_a_lost_ok_before_the_last_part_is_still_ambiguous(tmp_path: Path) -> None:
    with fake_modem(tmp_path, "a") as a:
        async with running_pool([a], Sink(), settings=SETTINGS) as pool:
            a.faults.swallow_ok = 1  # the first part went, the second was never written
            with pytest.raises(GatewayAmbiguousError, match="not repeated"):
                await pool.send(msg(LONG))
            assert pool.drivers["m1"].outgoing.parts_sent == 1
    assert len(a.submitted) == 1


async def test_no_reference_before_the_timeout_stays_ambiguous(tmp_path: Path) -> None:
    with fake_modem(tmp_path, "a") as a:
        async with running_pool([a], Sink(), settings=SETTINGS) as pool:
            a.faults.silent = 1  # the PDU went in; neither +CMGS nor OK comes
            with pytest.raises(GatewayAmbiguousError, match="no final result"):
                await pool.send(msg())
