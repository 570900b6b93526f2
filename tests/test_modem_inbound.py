"""Receiving through the fake modem: +CMTI, AT+CMGR/CMGL, captured PDUs, long messages, CMGD."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from gateway.modem.pdu import decode_deliver
from gateway.modem.reassembly import Reassembler, StoredPart
from tests.fakes.modem_pdus import build_deliver, multipart_vector, vectors
from tests.support.modem import FAST, Sink, eventually, fake_modem, running_driver

WHEN = datetime.fromisoformat("2026-11-20T10:00:00+03:00")


async def test_cmti_is_read_handed_over_then_deleted(tmp_path: Path) -> None:
    sink = Sink()
    v = vectors("deliver")["gsmmodem-test2"]
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink):
            await eventually(lambda: "AT+CMGL=4" in fake.commands)  # the start-up sweep
            await asyncio.sleep(0.05)
            index = fake.deliver(v["pdu"])  # a captured SMS-DELIVER, as the network sent it
            await eventually(lambda: len(sink.inbound) == 1)
            await eventually(lambda: not fake.stored())
    sms = sink.inbound[0]
    assert (sms.sender, sms.text, sms.gateway) == (v["sender"], "Test2", "modem")
    assert sms.received_at == datetime.fromisoformat(v["timestamp"]) and not sms.incomplete
    assert f"AT+CMGR={index}" in fake.commands and f"AT+CMGD={index}" in fake.commands
    assert fake.commands.index(f"AT+CMGR={index}") < fake.commands.index(f"AT+CMGD={index}")


async def test_messages_already_on_the_sim_are_read_at_start(tmp_path: Path) -> None:
    sink = Sink()
    dv = vectors("deliver")
    with fake_modem(tmp_path) as fake:
        for vid in ("android-ucs2-negative-tz", "safaricom-mpesa-2"):
            fake.preload(dv[vid]["pdu"])
        async with running_driver(fake, sink):
            await eventually(lambda: len(sink.inbound) == 2)
            await eventually(lambda: not fake.stored())
    assert "AT+CMGL=4" in fake.commands
    assert [s.text for s in sink.inbound] == [
        dv[v]["text"] for v in ("android-ucs2-negative-tz", "safaricom-mpesa-2")
    ]


async def test_a_failed_hand_over_keeps_the_message_for_the_next_sweep(tmp_path: Path) -> None:
    sink = Sink()
    sink.fail_inbound = 1
    settings = replace(FAST, sweep_seconds=0.4)
    pdu = build_deliver("+254712000111", "Ninahitaji msaada", when=WHEN)
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink, settings=settings) as driver:
            await eventually(lambda: "AT+CMGL=4" in fake.commands)  # the start-up sweep
            await asyncio.sleep(0.05)
            fake.deliver(pdu)
            await eventually(lambda: driver.intake.handover_failures == 1)
            assert len(fake.stored()) == 1  # not deleted: nothing was stored
            await eventually(lambda: len(sink.inbound) == 1)
            await eventually(lambda: not fake.stored())
    assert sink.inbound[0].text == "Ninahitaji msaada"


async def test_captured_five_part_message_out_of_order(tmp_path: Path) -> None:
    sink = Sink()
    mp = multipart_vector()
    text = (mp["text_block"] * mp["text_blocks"])[: -mp["text_strip_end"]]
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink) as driver:
            for part in mp["parts"]:  # sequence 1, 4, 2, 3, 5 as the modem printed them
                fake.deliver(part["pdu"])
            await eventually(lambda: len(sink.inbound) == 1)
            await eventually(lambda: not fake.stored())
            assert driver.intake.reassembler.held == 0
    sms = sink.inbound[0]
    assert sms.text == text and sms.sender == mp["sender"] and not sms.incomplete


async def test_parts_stay_on_the_sim_until_the_message_is_whole(tmp_path: Path) -> None:
    sink = Sink()
    dv = vectors("deliver")
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink) as driver:
            fake.deliver(dv["android-multipart-1of2"]["pdu"])
            await eventually(lambda: driver.intake.reassembler.held == 1)
            assert len(fake.stored()) == 1 and not sink.inbound
            fake.deliver(dv["android-multipart-2of2"]["pdu"])
            await eventually(lambda: len(sink.inbound) == 1)
            await eventually(lambda: not fake.stored())
    expected = dv["android-multipart-1of2"]["text"] + dv["android-multipart-2of2"]["text"]
    assert sink.inbound[0].text == expected


async def test_missing_part_times_out_and_arrives_incomplete(tmp_path: Path) -> None:
    sink = Sink()
    mp = multipart_vector()
    settings = replace(FAST, concat_timeout_seconds=0.3)
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink, settings=settings):
            for part in mp["parts"][:3]:  # sequences 1, 4 and 2; 3 and 5 never come
                fake.deliver(part["pdu"])
            await eventually(lambda: len(sink.inbound) == 1)
            await eventually(lambda: not fake.stored())
    sms = sink.inbound[0]
    parts = {p["sequence"]: decode_deliver(p["pdu"]).text for p in mp["parts"]}
    assert sms.incomplete and sms.text == parts[1] + parts[2] + parts[4]


async def test_reread_after_a_crash_gives_the_same_message_id(tmp_path: Path) -> None:
    sink = Sink()
    pdu = build_deliver("+254712000111", "JIUNGE chess", when=WHEN)
    with fake_modem(tmp_path) as fake:
        fake.preload(pdu)
        sink.fail_inbound = 1  # the first run "crashes" before AT+CMGD
        async with running_driver(fake, sink) as driver:
            await eventually(lambda: driver.intake.handover_failures == 1)
        async with running_driver(fake, sink):  # the restart reads it again
            await eventually(lambda: len(sink.inbound) == 1)
    first, second = sink.attempts
    assert first.provider_id == second.provider_id and first.provider_id.startswith("m1-")


def test_ucs2_emoji_split_across_parts_heals() -> None:
    raw = "Habari 😀 rafiki".encode("utf-16-be")
    cut = raw.index("😀".encode("utf-16-be")) + 2  # between the two surrogates
    parts = [
        build_deliver("+254712000111", "", when=WHEN, concat=(0x1234, 2, seq, 16), raw_ucs2=chunk)
        for seq, chunk in ((1, raw[:cut]), (2, raw[cut:]))
    ]
    reassembler = Reassembler(timeout_seconds=60, monotonic=lambda: 0.0)
    first = reassembler.add(StoredPart("SM", 0, parts[0], decode_deliver(parts[0])))
    whole = reassembler.add(StoredPart("SM", 1, parts[1], decode_deliver(parts[1])))
    assert first is None and whole is not None and whole.text == "Habari 😀 rafiki"
    hand = vectors("deliver")["hand-ucs2-16bit-ref-emoji"]
    assert decode_deliver(hand["pdu"]).concat is not None


async def test_undecodable_pdu_is_left_alone(tmp_path: Path) -> None:
    sink = Sink()
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink):
            fake.deliver("07917283010010F5040BC87238880900F10000993092")  # cut inside SCTS
            fake.deliver(build_deliver("+254712000111", "still fine", when=WHEN))
            await eventually(lambda: len(sink.inbound) == 1)
            await asyncio.sleep(0.05)
            assert list(fake.stored()) == [0]  # the broken one stays for a person to look at
