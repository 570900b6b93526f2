"""The modems in config: one [gateways.modem.<id>] table each, and the pool built from them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from gateway.base import InboundSink, ReportSink
from gateway.contract import ConfigReader, Wiring
from gateway.modem.spec import ModemSettings, ModemSpec

if TYPE_CHECKING:  # the driver is loaded when a pool is built, not whenever config is read
    from gateway.modem.pool import ModemPoolGateway, UsageLedger

ModemsConfig = tuple[ModemSpec, ...]  # the modem kind's settings: every configured modem
STORAGES = ("SM", "ME", "MT")
_SMSC = re.compile(r"\+?\d{3,20}")


def _modem(mid: str, m: ConfigReader) -> ModemSpec:
    modem = ModemSpec(
        id=mid,
        port=m.text("port"),
        baudrate=m.integer("baudrate", 115200, minimum=1200),
        daily_limit=m.integer("daily_limit", 200, minimum=1),
        pace_seconds=m.number("pace_seconds", 3.0, minimum=0),
        pin=m.text("pin", None),
        smsc=m.text("smsc", None),
        storage=m.choice("storage", STORAGES, "SM"),
        count_segments=m.flag("count_segments", False),
    )
    if isinstance(modem.smsc, str) and not _SMSC.fullmatch(modem.smsc):
        m.problem("smsc", f"must be a phone number like +254722500000, got {modem.smsc!r}")
    return modem


def read_config(gateways: ConfigReader) -> ModemsConfig | None:
    """Every [gateways.modem.<id>], or None when there is none."""
    modems = tuple(_modem(mid, m) for mid, m in gateways.tables("modem").items())
    return modems or None


def build(modems: ModemsConfig, wiring: Wiring) -> ModemPoolGateway:
    """The 'modem' gateway, wired to the app."""
    return build_pool(
        modems,
        on_inbound=wiring.on_inbound,
        on_report=wiring.on_report,
        ledger=wiring.ledger,
        zone=wiring.zone,
        now=wiring.now,
    )


def build_pool(
    modems: ModemsConfig,
    *,
    on_inbound: InboundSink,
    on_report: ReportSink | None,
    ledger: UsageLedger,
    zone: tzinfo,
    now: Callable[[], datetime],
    settings: ModemSettings | None = None,
) -> ModemPoolGateway:
    """One driver per configured modem, with the driver's default patience unless `settings`."""
    from gateway.modem.pool import ModemPoolGateway

    return ModemPoolGateway.create(
        list(modems),
        settings=settings or ModemSettings(),
        on_inbound=on_inbound,
        on_report=on_report,
        ledger=ledger,
        zone=zone,
        now=now,
    )
