"""The modem in the running app (/healthz, inbound wiring) and the `smsops modem` commands."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.clock import Clock
from bot.server import CORE, build_app
from handlers.entry import main
from handlers.routes import add_routes
from storage.db import Database
from storage.modem_usage import SqlUsageLedger
from tests.fakes.modem import FakeModem
from tests.fakes.modem_pdus import build_deliver
from tests.fakes.modem_pty import ScriptedModem
from tests.support.base import make_config, write_config
from tests.support.modem import FIXTURES, eventually, fake_modem


def _modem_toml(fakes: list[FakeModem], limit: int) -> str:
    return "".join(
        f'\n[gateways.modem.m{i + 1}]\nport = "{f.link}"\ndaily_limit = {limit}\npace_seconds = 0\n'
        for i, f in enumerate(fakes)
    )


async def test_app_wires_the_modem_health_and_inbound(tmp_path: Path) -> None:
    with fake_modem(tmp_path) as fake:
        config = make_config(tmp_path, primary="modem", extra=_modem_toml([fake], 50))
        server = TestServer(build_app(config, mount=add_routes), host="127.0.0.1")
        await server.start_server()
        try:
            core = server.app[CORE]
            async with ClientSession() as session:

                async def health() -> dict[str, Any]:
                    async with session.get(server.make_url("/healthz")) as resp:
                        assert resp.status == 200
                        return dict((await resp.json())["gateways"]["modem"])

                async with asyncio.timeout(10):
                    while (await health())["modems"]["m1"]["state"] != "ready":
                        await asyncio.sleep(0.05)
                modem = await health()
            assert modem["role"] == "primary" and modem["kind"] == "modem"
            m1 = modem["modems"]["m1"]
            assert m1["state"] == "ready" and m1["signal"]["dbm"] == -85 and m1["remaining"] == 50
            when = datetime.fromisoformat("2026-11-20T10:00:00+03:00")
            fake.deliver(build_deliver("+254712345009", "Habari, exam iko saa ngapi?", when=when))
            await eventually(lambda: not fake.stored(), within=10)
            await core.inbound.settled()
            [message] = await core.inbound.inbox()
            assert (message.phone, message.gateway) == ("+254712345009", "modem")
        finally:
            await server.close()


def test_cli_modem_probe_against_a_huawei_transcript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    config = write_config(tmp_path)
    script = ScriptedModem(tmp_path / "ttyUSB2", (FIXTURES / "huawei_probe.txt").read_text())
    script.start()
    try:
        code = main(["--config", str(config), "modem", "probe", str(script.link)])
    finally:
        script.stop()
    out = capsys.readouterr().out
    assert code == 0 and not script.errors and script.finished, (out, script.errors)
    for expected in (
        "huawei",
        "E173",
        "639027123456789",
        "17/31 (-79 dBm)",
        "Safaricom",
        "registered, home network",
        "SM 3/30 used",
        "+254722500000",
        "can send      yes",
    ):
        assert expected in out, (expected, out)


def test_cli_modem_probe_says_why_it_cannot_send(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    config = write_config(tmp_path)
    with fake_modem(tmp_path, sim="SIM PIN") as fake:
        code = main(["--config", str(config), "modem", "probe", str(fake.link), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["can_send"] is False and report["sim"] == "SIM PIN"
    assert any("SIM not ready" in p for p in report["problems"])


def test_cli_modem_stats_per_sim_and_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    extra = _modem_toml([FakeModem(tmp_path / "ttyUSB0"), FakeModem(tmp_path / "ttyUSB1")], 50)
    path = write_config(tmp_path, extra=extra)
    config = make_config(tmp_path, extra=extra)
    today = Clock().now().astimezone(config.timezone).date()

    async def record() -> None:
        db = await Database.open(config.database_path)
        try:
            ledger = SqlUsageLedger(db)
            await ledger.add("m1", today, messages=3, segments=5)
            await ledger.add("m1", today, messages=1, segments=1)
        finally:
            await db.close()

    asyncio.run(record())
    assert main(["--config", str(path), "modem", "stats", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "day": today.isoformat(),
            "modem": "m2",
            "messages": 0,
            "segments": 0,
            "daily_limit": 50,
            "limit_counts": "messages",
            "remaining": 50,
        },
        {
            "day": today.isoformat(),
            "modem": "m1",
            "messages": 4,
            "segments": 6,
            "daily_limit": 50,
            "limit_counts": "messages",
            "remaining": 46,
        },
    ]
    assert main(["--config", str(path), "modem", "stats"]) == 0
    assert "(46 left today)" in capsys.readouterr().out


def test_cli_modem_probe_refuses_a_port_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import serial

    config = write_config(tmp_path)
    with fake_modem(tmp_path) as fake:
        held = serial.Serial(str(fake.link), exclusive=True)  # as `smsops serve` holds it
        try:
            code = main(["--config", str(config), "modem", "probe", str(fake.link)])
        finally:
            held.close()
    assert code == 1 and "lock" in capsys.readouterr().err
    assert fake.commands == []  # it never wrote to a port another program is using


def test_modem_config_keys(tmp_path: Path) -> None:
    from bot.config.loader import ConfigError

    extra = """
    [gateways.modem.dongle1]
    port = "/dev/ttyUSB2"
    daily_limit = 150
    pace_seconds = 2.5
    pin = "1234"
    smsc = "+254722500000"
    storage = "ME"
    count_segments = true
    """
    config = make_config(tmp_path, primary="modem", extra=extra)
    [modem] = config.gateways.modems
    assert (modem.id, modem.smsc, modem.storage, modem.count_segments) == (
        "dongle1",
        "+254722500000",
        "ME",
        True,
    )
    with pytest.raises(ConfigError, match="smsc"):
        make_config(tmp_path, extra=extra.replace("+254722500000", "Safaricom"))
    with pytest.raises(ConfigError, match="storage"):
        make_config(tmp_path, extra=extra.replace('"ME"', '"XX"'))
