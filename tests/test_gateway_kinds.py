"""The table of gateway kinds and the Gateway contract: what each kind declares is what is used."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.config.loader import load_config
from bot.config.schema import Reader
from bot.server import build_gateways
from gateway.africastalking import config as at_config
from gateway.africastalking.diagnoses import diagnose
from gateway.base import Gateway, RecipientResult, SendOutcome
from gateway.kinds import BY_NAME, KINDS, NAMES, SIMULATOR
from gateway.modem.pool import ModemPoolGateway
from handlers.callbacks import add_callback_routes
from handlers.entry import main
from tests.support.base import AT_KEY, CALLBACK_SECRET, make_config, write_config

logger = logging.getLogger(__name__)

MODEM = '\n[gateways.modem.dongle1]\nport = "/dev/ttyUSB-none"\n'


def test_the_table_names_each_kind_once_in_config_order() -> None:
    assert NAMES == ("simulator", "africastalking", "modem")
    assert set(BY_NAME) == set(NAMES)


def test_callback_routes_come_from_the_table() -> None:
    app = web.Application()
    add_callback_routes(app)
    routes = sorted(r.canonical for r in app.router.resources())
    assert routes == [
        "/callbacks/africastalking/{secret}/delivery",
        "/callbacks/africastalking/{secret}/inbound",
    ]
    with_callbacks = [k.name for k in KINDS if k.callbacks is not None]
    assert with_callbacks == ["africastalking"]


def test_secrets_are_what_the_configured_kinds_declare(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    at = config.gateways.africastalking
    assert at is not None
    assert at_config.secrets(at) == (AT_KEY, CALLBACK_SECRET)
    assert {AT_KEY, CALLBACK_SECRET} <= set(config.secrets())


def test_a_kind_reads_its_section_through_the_config_reader() -> None:
    problems: list[str] = []
    gateways = Reader(
        {"africastalking": {"username": "u", "api_key": "k", "callback_secret": "short"}},
        problems,
        "gateways",
    )
    at = at_config.read_config(gateways)
    assert at is not None and at.username == "u" and at.timeout_seconds == 30.0
    assert problems == ["gateways.africastalking.callback_secret: must be at least 12 characters"]
    assert at_config.read_config(Reader({}, problems, "gateways")) is None


def test_without_a_gateways_table_only_the_simulator_is_configured(tmp_path: Path) -> None:
    path = tmp_path / "smsops.toml"
    path.write_text('[organisation]\nname = "X"\n', encoding="utf-8")
    config = load_config(path)
    assert set(config.gateways.configured) == {"simulator"}
    assert config.gateways.settings(SIMULATOR) == SIMULATOR.default


def test_africastalking_diagnoses_by_status_code() -> None:
    no_route = RecipientResult(
        phone="+254712345678", outcome=SendOutcome.PERMANENT, status_code=407, reason="x"
    )
    assert diagnose(no_route).startswith("CouldNotRoute: no route to this network")
    other = RecipientResult(
        phone="+254712345678", outcome=SendOutcome.PERMANENT, status_code=499, status="Odd"
    )
    assert diagnose(other) == "Odd"
    assert BY_NAME["simulator"].diagnose(other) == "Odd"


async def test_every_built_gateway_has_the_whole_contract(tmp_path: Path) -> None:
    config = make_config(tmp_path, primary="africastalking", extra=MODEM)
    async with aiohttp.ClientSession() as session:
        built = build_gateways(config, session, on_report=None)
        at = built["africastalking"]
        assert isinstance(at, Gateway) and at.concurrency == 1
        await at.start()  # the no-op defaults
        await at.close()
    modem_config = make_config(tmp_path, primary="modem", extra=MODEM)
    async with aiohttp.ClientSession() as session:
        pool = build_gateways(modem_config, session, on_report=None)["modem"]
    assert isinstance(pool, ModemPoolGateway) and pool.concurrency == 1


def test_gateway_test_names_what_tests_a_kind_it_cannot_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, primary="modem", extra=MODEM)
    code = main(["--config", str(path), "gateway", "test", "0712345678"])
    out, err = capsys.readouterr()
    assert code == 1
    assert (out + err).strip() == "smsops: to test a modem, run `smsops modem probe PORT`"
