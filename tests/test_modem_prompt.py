"""The '> ' prompt as real dongles garble it, and the pace between sends, over a real pty."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from pathlib import Path

import pytest

from gateway.base import GatewayAmbiguousError, GatewayError, SendOutcome
from gateway.modem.at.channel import ATChannel, open_serial
from gateway.modem.at.lines import split_lines, strip_prompt, take_prompt
from gateway.modem.at.urc import Urc
from gateway.modem.pdu import encode_submit
from tests.fakes.modem_faults import PROMPT
from tests.fakes.modem_pdus import build_deliver
from tests.support.modem import Sink, eventually, fake_modem, running_driver

BOOT = "^BOOT:20952548,0,0,0,72"
RSSI = "^RSSI:7"
ONE, TWO = "+254712000111", "+254712000222"

# What Huawei E303 / E3131 dongles write after AT+CMGS=<n>; each tuple is written in pieces
# that the driver reads apart.
PROMPTS = {
    "line-end-and-urc-in-one-read": (PROMPT + f"\r\n{RSSI}\r\n",),
    "urc-glued-to-prompt": (PROMPT + f"{BOOT}\r\n",),
    "line-end-only": (PROMPT + "\r\n",),
    "prompt-on-its-own-line": ("\r\n>\r\n",),
    "glued-urc-cut-across-reads": (PROMPT + BOOT[:4], BOOT[4:] + "\r\n"),
    "urc-in-the-next-read": (PROMPT, f"\r\n{RSSI}\r\n"),
}


def test_lines_and_prompt() -> None:
    lines, rest = split_lines(b"\r\n> \r\n^RSSI:7\r\n> ^BO")
    assert (lines, rest) == (["", "", "> ", "", "^RSSI:7", ""], b"> ^BO")
    assert strip_prompt("> > ^BOOT:1 ") == (True, "^BOOT:1")
    assert strip_prompt(" +CMGS: 3\x1a") == (False, "+CMGS: 3\x1a")
    assert take_prompt(rest) == b"^BO" and take_prompt(b" >") == b""
    assert take_prompt(b"+CM") is None and take_prompt(b"  ") is None


@pytest.mark.parametrize("pieces", PROMPTS.values(), ids=PROMPTS.keys())
async def test_channel_finds_the_prompt_and_routes_what_follows(
    tmp_path: Path, pieces: tuple[str, ...]
) -> None:
    urcs: list[Urc] = []
    pdu = encode_submit(ONE, "Karibu", reference=1)[0]
    with fake_modem(tmp_path, noise=False) as fake:
        reader, writer = await open_serial(str(fake.link), 115200)
        channel = ATChannel(reader, writer, on_urc=urcs.append, name="m1")
        channel.start()
        try:
            await channel.command("ATE0", within=2)
            fake.faults.prompts.append(pieces)
            lines = await channel.command_with_pdu(
                f"AT+CMGS={pdu.tpdu_length}", pdu.hex, prompt_within=1.0, within=2
            )
            expected = [line for line in (RSSI, BOOT) if line in "".join(pieces)]
            await eventually(lambda: len(urcs) == len(expected))
        finally:
            await channel.close()
    assert lines == ["+CMGS: 1"] and fake.texts() == [(ONE, "Karibu")]
    assert [u.line for u in urcs] == expected
    assert channel.stray_lines == 0


async def test_send_succeeds_and_the_urc_after_the_prompt_is_handled(tmp_path: Path) -> None:
    sink = Sink()
    with fake_modem(tmp_path, noise=False) as fake:
        async with running_driver(fake, sink) as driver:
            assert driver.radio.rssi is None  # no ^RSSI yet: noise is off
            fake.faults.prompts.append(PROMPTS["line-end-and-urc-in-one-read"])
            sent = await driver.send(ONE, "Karibu")
            assert driver.radio.rssi == 7
            assert driver.connects == 1
    assert sent.result.outcome is SendOutcome.ACCEPTED
    assert fake.texts() == [(ONE, "Karibu")] and not fake.faults.prompts


async def test_message_announced_right_after_the_prompt_is_read(tmp_path: Path) -> None:
    sink = Sink()
    when = datetime.fromisoformat("2026-11-20T10:00:00+03:00")
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink) as driver:
            await eventually(lambda: "AT+CMGL=4" in fake.commands)  # the start-up sweep
            await asyncio.sleep(0.05)
            fake.preload(build_deliver(TWO, "Nimefika", when=when))  # index 0, not yet announced
            fake.faults.prompts.append((PROMPT + '\r\n+CMTI: "SM",0\r\n',))
            sent = await driver.send(ONE, "Karibu")
            await eventually(lambda: len(sink.inbound) == 1)
            await eventually(lambda: not fake.stored())
            assert driver.connects == 1
    assert sent.result.outcome is SendOutcome.ACCEPTED
    assert [(s.sender, s.text) for s in sink.inbound] == [(TWO, "Nimefika")]


async def test_answer_before_the_prompt_fails_the_send_and_leaves_the_prompt(
    tmp_path: Path,
) -> None:
    sink = Sink()
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink) as driver:
            fake.faults.prompts.append(("\r\nOK\r\n" + PROMPT,))  # a stale OK, then the prompt
            first = await driver.send(ONE, "one")
            second = await driver.send(TWO, "two")  # the modem must not be left at the prompt
            assert driver.connects == 1
    assert first.result.outcome is SendOutcome.TEMPORARY and first.parts_sent == 0
    assert second.result.outcome is SendOutcome.ACCEPTED
    assert fake.texts() == [(TWO, "two")]


async def test_concurrent_sends_keep_the_pace(tmp_path: Path) -> None:
    sink, pace = Sink(), 0.3
    numbers = [f"+2547120003{i:02d}" for i in range(4)]
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink, pace_seconds=pace) as driver:
            sent = await asyncio.gather(*(driver.send(n, "Exam at 9") for n in numbers))
    assert all(s.result.outcome is SendOutcome.ACCEPTED for s in sent)
    assert sorted(n for n, _ in fake.texts()) == numbers
    gaps = [b - a for a, b in itertools.pairwise(fake.cmgs_at)]
    assert len(gaps) == 3 and min(gaps) >= pace - 0.02, gaps


async def test_stopped_while_waiting_for_the_pace_sends_nothing_and_says_so(
    tmp_path: Path,
) -> None:
    sink = Sink()
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink, pace_seconds=30.0) as driver:
            await driver.send(ONE, "one")
            second = asyncio.create_task(driver.send(TWO, "two"))
            await asyncio.sleep(0.1)
        with pytest.raises(GatewayError) as caught:
            async with asyncio.timeout(2):
                await second
    assert caught.value.temporary and not isinstance(caught.value, GatewayAmbiguousError)
    assert len(fake.cmgs_at) == 1 and fake.texts() == [(ONE, "one")]


async def test_stopped_while_waiting_for_the_prompt_is_not_ambiguous(tmp_path: Path) -> None:
    sink = Sink()
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink) as driver:
            fake.faults.prompts.append(("",))  # the prompt never comes
            task = asyncio.create_task(driver.send(ONE, "one"))
            await eventually(lambda: len(fake.cmgs_at) == 1)
            await asyncio.sleep(0.05)
        with pytest.raises(GatewayError) as caught:
            await task
    assert caught.value.temporary and not isinstance(caught.value, GatewayAmbiguousError)
    assert not fake.submitted
