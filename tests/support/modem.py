"""Shared set-up for the modem tests: fast settings, a fake dongle, a running driver or pool."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.base import DeliveryReport, InboundSms
from gateway.modem.driver import ModemDriver
from gateway.modem.pool import MemoryLedger, ModemPoolGateway, UsageLedger
from gateway.modem.spec import ModemSettings, ModemSpec
from tests.fakes.africastalking import FakeAfricasTalking
from tests.fakes.modem import FakeModem

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "modem"
NAIROBI = ZoneInfo("Africa/Nairobi")

FAST = ModemSettings(
    command_seconds=2.0,
    prompt_seconds=2.0,
    send_seconds=2.0,
    settle_seconds=0.02,
    busy_retries=3,
    busy_delay_seconds=0.02,
    reconnect_min_seconds=0.02,
    reconnect_max_seconds=0.2,
    concat_timeout_seconds=5.0,
    sweep_seconds=30.0,
    tick_seconds=0.02,
    report_retry_seconds=0.05,
)


@dataclass
class Modems:
    """A rig's gateway side: the modem pool, its fake dongles by modem id, maybe a fake AT."""

    pool: ModemPoolGateway
    fakes: dict[str, FakeModem]
    at: FakeAfricasTalking | None = None

    def sent(self) -> Counter[str]:
        """How many texts each number got, over every fake dongle."""
        return Counter(number for f in self.fakes.values() for number, _ in f.texts())


class Sink:
    """Collects what a driver hands over; can be told to fail."""

    def __init__(self) -> None:
        self.inbound: list[InboundSms] = []
        self.attempts: list[InboundSms] = []
        self.reports: list[DeliveryReport] = []
        self.fail_inbound = 0

    async def on_inbound(self, sms: InboundSms) -> None:
        self.attempts.append(sms)
        if self.fail_inbound:
            self.fail_inbound -= 1
            raise RuntimeError("database is locked")
        self.inbound.append(sms)

    async def on_report(self, report: DeliveryReport) -> None:
        self.reports.append(report)


@contextmanager
def fake_modem(tmp_path: Path, name: str = "ttyUSB0", **kwargs: Any) -> Iterator[FakeModem]:
    """A started fake dongle whose port is tmp_path/name."""
    fake = FakeModem(tmp_path / name, **kwargs)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@asynccontextmanager
async def running_driver(
    fake: FakeModem,
    sink: Sink,
    *,
    settings: ModemSettings = FAST,
    ready: bool = True,
    **spec: Any,
) -> AsyncIterator[ModemDriver]:
    """A started driver on the fake's port (waits until ready unless ready=False)."""
    values: dict[str, Any] = {"id": "m1", "port": str(fake.link), "pace_seconds": 0.0}
    values.update(spec)
    driver = ModemDriver(
        ModemSpec(**values),
        settings=settings,
        on_inbound=sink.on_inbound,
        on_report=sink.on_report,
    )
    driver.start()
    try:
        if ready:
            assert await driver.wait_ready(5.0), driver.health()
        yield driver
    finally:
        await driver.close()


@asynccontextmanager
async def running_pool(
    fakes: list[FakeModem],
    sink: Sink,
    *,
    limits: list[int] | None = None,
    ledger: UsageLedger | None = None,
    now: Callable[[], datetime] | None = None,
    count_segments: bool = False,
    settings: ModemSettings = FAST,
    ready_wait: float = 2.0,
) -> AsyncIterator[ModemPoolGateway]:
    """A started pool with one modem per fake, ids m1, m2, ..."""
    specs = [
        ModemSpec(
            id=f"m{i + 1}",
            port=str(f.link),
            pace_seconds=0.0,
            daily_limit=(limits or [])[i] if limits else 200,
            count_segments=count_segments,
        )
        for i, f in enumerate(fakes)
    ]
    pool = ModemPoolGateway.create(
        specs,
        settings=settings,
        on_inbound=sink.on_inbound,
        on_report=sink.on_report,
        ledger=ledger or MemoryLedger(),
        zone=NAIROBI,
        now=now or (lambda: datetime.now(NAIROBI)),
        ready_wait_seconds=ready_wait,
    )
    await pool.start()
    try:
        for driver in pool.drivers.values():
            assert await driver.wait_ready(5.0), driver.health()
        yield pool
    finally:
        await pool.close()


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until check() is true, or fail."""
    async with asyncio.timeout(within):
        while not check():
            await asyncio.sleep(0.01)
