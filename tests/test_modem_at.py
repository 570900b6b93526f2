"""The AT layer over a real pty and pyserial-asyncio: lines, URCs, prompt, start-up, errors."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.base import GatewayError, SendOutcome
from gateway.modem.at.channel import ATChannel, open_serial
from gateway.modem.at.errors import CmsError, ErrorKind, cms_kind, cms_reason, error_code
from gateway.modem.at.urc import Urc
from gateway.modem.pdu import decode_deliver, decode_status_report
from gateway.modem.spec import ModemSpec
from gateway.modem.startup import Started, start_modem
from tests.fakes.modem_pdus import build_deliver, build_status_report, vectors
from tests.fakes.modem_pty import ScriptedModem
from tests.support.modem import FAST, FIXTURES, Sink, eventually, fake_modem, running_driver


def test_fake_builders_reproduce_captured_pdus() -> None:
    dv = vectors("deliver")
    for vid in ("gsmmodem-test2", "gsmmodem-hk"):
        v = dv[vid]
        when = datetime.fromisoformat(v["timestamp"])
        assert build_deliver(v["sender"], v["text"], when=when, smsc=v["smsc"]) == v["pdu"]
    sr = vectors("status_report")
    kenya = sr["smslib-kenya-no-smsc"]
    assert build_status_report(19, "+254702216107") == kenya["pdu"]
    report = sr["gsmmodem-report"]
    assert (
        build_status_report(214, "+31628870634", times_hex=report["pdu"][22:50]) == (report["pdu"])
    )


def test_cms_table() -> None:
    assert cms_reason(500) == "CMS ERROR 500: unknown error"
    assert cms_reason(21) == "CMS ERROR 21: short message transfer rejected"
    assert cms_kind(1) is ErrorKind.PERMANENT  # unassigned number
    assert cms_kind(42) is ErrorKind.TEMPORARY  # congestion
    assert cms_kind(331) is ErrorKind.MODEM  # no network service
    assert cms_kind(304) is ErrorKind.PERMANENT  # invalid PDU
    assert cms_kind(530) is ErrorKind.TEMPORARY  # unlisted manufacturer code
    assert CmsError("AT+CMGS=20", 314).busy
    assert error_code("+CME ERROR: SIM busy") == 14 and error_code("+CMS ERROR: SIM busy") == 314
    assert error_code("+CMS ERROR: 500") == 500


async def _script(
    tmp_path: Path, name: str, **spec: Any
) -> tuple[ScriptedModem, Started, list[Urc]]:
    script = ScriptedModem(tmp_path / "ttyUSB0", (FIXTURES / name).read_text())
    script.start()
    urcs: list[Urc] = []
    try:
        reader, writer = await open_serial(str(script.link), 115200)
        channel = ATChannel(reader, writer, on_urc=urcs.append, name="m1")
        channel.start()
        try:
            values = {"id": "m1", "port": str(script.link), **spec}
            started = await start_modem(channel, ModemSpec(**values), settings=FAST)
        finally:
            await channel.close()
    finally:
        script.stop()
    assert not script.errors and script.finished, script.errors
    return script, started, urcs


async def test_transcript_huawei_startup(tmp_path: Path) -> None:
    _, started, urcs = await _script(tmp_path, "huawei_startup.txt")
    assert started == Started(storage="SM", cnmi="2,1,0,1,0", reports="+CDS", curc=True)
    assert [u.name for u in urcs] == ["^BOOT", "^RSSI", "^MODE", "^DSFLOWRPT"]


async def test_transcript_pin_entered_once_and_busy_sim_waited_for(tmp_path: Path) -> None:
    script, started, _ = await _script(tmp_path, "pin_locked.txt", pin="1234")
    assert started.curc is False and started.reports == "+CDSI"
    assert script.received.count('AT+CPIN="1234"') == 1


async def test_urcs_inside_answers_never_mix_in(tmp_path: Path) -> None:
    pdu = build_deliver(
        "+254712000111", "Habari", when=datetime.fromisoformat("2026-11-20T10:00:00+03:00")
    )
    with fake_modem(tmp_path) as fake:
        fake.preload(pdu)
        fake.preload(pdu)
        reader, writer = await open_serial(str(fake.link), 115200)
        urcs: list[Urc] = []
        channel = ATChannel(reader, writer, on_urc=urcs.append, name="m1")
        channel.start()
        try:
            await channel.command("ATE0", within=2)
            lines = await channel.command("AT+CMGL=4", within=2, expect=("+CMGL",))
            fake.urc("^RSSI:9")
            await eventually(lambda: any(u.value == "9" for u in urcs))
            assert channel.stray_lines == 0
        finally:
            await channel.close()
    assert lines == ["+CMGL: 0,1,,25", pdu, "+CMGL: 1,1,,25", pdu]
    assert {u.name for u in urcs} >= {"^RSSI", "^DSFLOWRPT"}
    assert decode_deliver(lines[1]).text == "Habari"


async def test_modem_that_keeps_echoing_still_works(tmp_path: Path) -> None:
    sink = Sink()
    with fake_modem(tmp_path, keeps_echo=True) as fake:
        async with running_driver(fake, sink) as driver:
            sent = await driver.send("+254712000111", "Karibu")
    assert sent.result.outcome is SendOutcome.ACCEPTED
    assert fake.texts() == [("+254712000111", "Karibu")]


@pytest.mark.parametrize(
    ("sim", "pin", "error"),
    [
        ("SIM PIN", None, "the SIM asks for its PIN; set pin"),
        ("SIM PUK", "1234", "PUK-locked"),
        ("ABSENT", None, "no SIM card in the modem"),
        ("SIM PIN", "0000", "refused the configured PIN"),
    ],
)
async def test_sim_problems_are_clear(
    tmp_path: Path, sim: str, pin: str | None, error: str
) -> None:
    sink = Sink()
    with fake_modem(tmp_path, sim=sim) as fake:
        async with running_driver(fake, sink, ready=False, pin=pin) as driver:
            await eventually(lambda: driver.state == "failed")
            assert error in (driver.last_error or "")
            with pytest.raises(GatewayError) as exc:
                await driver.send("+254712000111", "hi")
            assert exc.value.temporary
            await asyncio.sleep(0.3)  # it reconnects and checks again, slowly
    if pin == "0000":
        assert fake.pin_attempts == ["0000"]  # never a second guess: no PUK lock


async def test_pin_entered_when_configured(tmp_path: Path) -> None:
    sink = Sink()
    with fake_modem(tmp_path, sim="SIM PIN", pin="4321") as fake:
        async with running_driver(fake, sink, pin="4321") as driver:
            assert (await driver.send("+254712000111", "hi")).result.provider_id
    assert fake.pin_attempts == ["4321"]


async def test_cnmi_fallback_and_direct_status_reports(tmp_path: Path) -> None:
    sink = Sink()
    refuse = frozenset({"2,1,0,2,0", "1,1,0,2,0"})
    with fake_modem(tmp_path, refuse_cnmi=refuse, curc=False) as fake:
        async with running_driver(fake, sink) as driver:
            assert driver.started is not None and driver.started.reports == "+CDS"
            sent = await driver.send("+254712000111", "Exam at 9")
            await eventually(lambda: len(sink.reports) == 1)
    assert sink.reports[0].provider_id == sent.result.provider_id
    assert sink.reports[0].status.value == "delivered"


@pytest.mark.parametrize("storage", ["SM", "SR"])
async def test_captured_status_report_matched_by_mr(tmp_path: Path, storage: str) -> None:
    sink = Sink()
    kenya = vectors("status_report")["smslib-kenya-no-smsc"]
    with fake_modem(tmp_path, first_mr=19, reports=False, report_storage=storage) as fake:
        async with running_driver(fake, sink) as driver:
            sent = await driver.send("+254702216107", "Fee balance: KES 0")
            assert sent.result.status == "+CMGS: 19"
            fake.report(kenya["pdu"])  # the real capture, byte for byte
            await eventually(lambda: len(sink.reports) == 1)
            await eventually(lambda: not fake.stored(storage))  # read, then deleted
    report = sink.reports[0]
    assert report.provider_id == sent.result.provider_id and report.phone == "+254702216107"
    assert decode_status_report(kenya["pdu"]).message_reference == 19


async def test_busy_sim_is_retried(tmp_path: Path) -> None:
    sink = Sink()
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink) as driver:
            fake.faults.busy.extend([14, 515])
            sent = await driver.send("+254712000111", "hi")
    assert sent.result.outcome is SendOutcome.ACCEPTED and len(fake.submitted) == 1


@pytest.mark.parametrize(
    ("code", "outcome"), [(21, SendOutcome.PERMANENT), (500, SendOutcome.TEMPORARY)]
)
async def test_cms_error_fails_the_message_with_its_meaning(
    tmp_path: Path, code: int, outcome: SendOutcome
) -> None:
    sink = Sink()
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink) as driver:
            fake.faults.cms.append(code)
            sent = await driver.send("+254712000111", "hi")
    assert sent.result.outcome is outcome and sent.parts_sent == 0
    assert sent.result.reason == cms_reason(code) and sent.result.status_code == code


async def test_modem_level_cms_error_lets_another_modem_try(tmp_path: Path) -> None:
    sink = Sink()
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink) as driver:
            fake.faults.cms.append(331)  # no network service
            with pytest.raises(GatewayError, match="CMS ERROR 331: no network service"):
                await driver.send("+254712000111", "hi")


async def test_failure_after_first_part_is_never_repeated(tmp_path: Path) -> None:
    sink = Sink()
    with fake_modem(tmp_path) as fake:
        async with running_driver(fake, sink) as driver:
            original = fake._submit

            def second_fails(pdu: str, length: int) -> None:
                if len(fake.submitted) == 1:
                    fake.faults.cms.append(500)
                original(pdu, length)

            fake._submit = second_fails  # type: ignore[method-assign]
            sent = await driver.send("+254712000111", "x" * 400)
    assert sent.parts_sent == 1 and sent.result.outcome is SendOutcome.PERMANENT
    assert "after 1 of 3 parts were sent; not repeated" in sent.result.reason
