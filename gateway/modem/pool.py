"""ModemPoolGateway: several modems behind the Gateway Protocol, each SIM within its daily limit.

Each send goes to the least-used modem (today, by the unit its limit counts) that is
ready, idle and still has room. `daily_limit` counts messages: one SMS to one number,
however many segments it needs; with `count_segments` it counts segments instead (for
bundles billed per part). Both numbers are recorded per SIM and local day in the ledger.
When every SIM is at its limit, send raises a temporary GatewayError whose retry_after
is the time to local midnight, so the core keeps the message queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol

from gateway.base import (
    Gateway,
    GatewayAmbiguousError,
    GatewayError,
    InboundSink,
    OutgoingMessage,
    RecipientResult,
    ReportSink,
)
from gateway.gsm import analyse
from gateway.modem.at.channel import PortOpener, open_serial
from gateway.modem.driver import ModemDriver
from gateway.modem.spec import ModemSettings, ModemSpec

logger = logging.getLogger(__name__)

Usage = tuple[int, int]  # messages, segments


class UsageLedger(Protocol):
    """Where per-SIM daily counts are kept (storage.modem_usage implements it with SQLite)."""

    async def load_today(self, day: date) -> dict[str, Usage]:
        """Messages and segments sent by each modem on `day` (local date)."""
        ...

    async def add(self, modem_id: str, day: date, *, messages: int, segments: int) -> None:
        """Add to a modem's counts for `day`."""
        ...


class MemoryLedger:
    """A ledger that forgets on restart; for tests and for `modem probe`-style tools."""

    def __init__(self) -> None:
        self.days: dict[date, dict[str, Usage]] = {}

    async def load_today(self, day: date) -> dict[str, Usage]:
        """Counts for a day."""
        return dict(self.days.get(day, {}))

    async def add(self, modem_id: str, day: date, *, messages: int, segments: int) -> None:
        """Add to a modem's counts."""
        counts = self.days.setdefault(day, {})
        m, s = counts.get(modem_id, (0, 0))
        counts[modem_id] = (m + messages, s + segments)


def seconds_to_midnight(now: datetime, zone: tzinfo) -> float:
    """Seconds from `now` to the next local midnight in `zone`."""
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return max(1.0, (midnight - local).total_seconds())


class ModemPoolGateway(Gateway):
    """The 'modem' gateway: one dispatch lane per modem, one recipient per request."""

    max_recipients_per_request = 1

    def __init__(
        self,
        drivers: Sequence[ModemDriver],
        *,
        ledger: UsageLedger,
        zone: tzinfo,
        now: Callable[[], datetime],
        ready_wait_seconds: float = 5.0,
        name: str = "modem",
    ):
        if not drivers:
            raise ValueError("a modem pool needs at least one modem")
        self.name = name
        self.drivers = {d.id: d for d in drivers}
        self.concurrency = len(self.drivers)
        self.ledger = ledger
        self.zone = zone
        self.now = now
        self.ready_wait = ready_wait_seconds
        self._day: date | None = None
        self._used: dict[str, Usage] = {}
        self._busy: set[str] = set()
        self._freed = asyncio.Condition()
        self.requests = 0
        self.errors = 0
        self.last_error: str | None = None

    @classmethod
    def create(
        cls,
        specs: Sequence[ModemSpec],
        *,
        settings: ModemSettings,
        on_inbound: InboundSink,
        on_report: ReportSink | None,
        ledger: UsageLedger,
        zone: tzinfo,
        now: Callable[[], datetime],
        ready_wait_seconds: float = 5.0,
        open_port: PortOpener = open_serial,
        name: str = "modem",
    ) -> ModemPoolGateway:
        """A pool with one driver per configured modem."""
        ports = [s.port for s in specs]
        if len(set(ports)) != len(ports):
            raise ValueError("two modems are configured on the same port")
        drivers = [
            ModemDriver(
                spec,
                settings=settings,
                on_inbound=on_inbound,
                on_report=on_report,
                gateway=name,
                open_port=open_port,
            )
            for spec in specs
        ]
        return cls(
            drivers,
            ledger=ledger,
            zone=zone,
            now=now,
            ready_wait_seconds=ready_wait_seconds,
            name=name,
        )

    def today(self) -> date:
        """The organisation's local date."""
        return self.now().astimezone(self.zone).date()

    async def start(self) -> None:
        """Load today's counts and start every modem's task."""
        await self._roll_day()
        for driver in self.drivers.values():
            driver.start()

    async def close(self) -> None:
        """Stop every modem."""
        await asyncio.gather(*(d.close() for d in self.drivers.values()))

    def used(self, modem_id: str) -> Usage:
        """Messages and segments a modem sent today."""
        return self._used.get(modem_id, (0, 0))

    def _spent(self, driver: ModemDriver) -> int:
        messages, segments = self.used(driver.id)
        return segments if driver.spec.count_segments else messages

    def _room(self, driver: ModemDriver, segments: int) -> bool:
        cost = segments if driver.spec.count_segments else 1
        return self._spent(driver) + cost <= driver.spec.daily_limit

    async def _roll_day(self) -> None:
        day = self.today()
        if day == self._day:
            return
        try:
            loaded = await self.ledger.load_today(day)
        except Exception:
            logger.exception("modem usage for %s could not be loaded; counting from 0", day)
            loaded = {}
        self._day, self._used = day, {k: (int(m), int(s)) for k, (m, s) in loaded.items()}

    async def _record(self, driver: ModemDriver, segments: int) -> None:
        day = self._day or self.today()
        m, s = self.used(driver.id)
        self._used[driver.id] = (m + 1, s + segments)
        try:
            await self.ledger.add(driver.id, day, messages=1, segments=segments)
        except Exception:  # the message went; a lost count must not fail it
            logger.exception("modem usage of %s not stored", driver.id)

    async def _pick(self, segments: int, tried: set[str]) -> ModemDriver | None:
        """The least-used ready modem with room, waiting for one to be free or ready.

        None when every modem with room was tried already.
        """
        with_room = [d for d in self.drivers.values() if self._room(d, segments)]
        if not with_room:
            wait = seconds_to_midnight(self.now(), self.zone)
            raise GatewayError(
                f"every modem SIM is at its daily limit; sending resumes after local midnight "
                f"(in {wait / 3600:.1f} h)",
                temporary=True,
                retry_after=wait,
            )
        candidates = [d for d in with_room if d.id not in tried]
        if not candidates:
            return None
        if not any(d.ready for d in candidates):
            waits = [asyncio.create_task(d.wait_ready(self.ready_wait)) for d in candidates]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
            if not any(d.ready for d in candidates):
                states = ", ".join(f"{d.id} {d.state}" for d in candidates)
                raise GatewayError(f"no modem is ready ({states})", temporary=True)
        async with self._freed:
            while True:
                ready = [d for d in candidates if d.ready and self._room(d, segments)]
                idle = [d for d in ready if d.id not in self._busy]
                if idle:
                    choice = min(idle, key=self._spent)
                    self._busy.add(choice.id)
                    return choice
                if not ready:
                    raise GatewayError("the ready modems went away", temporary=True)
                await self._freed.wait()

    async def _release(self, driver: ModemDriver) -> None:
        async with self._freed:
            self._busy.discard(driver.id)
            self._freed.notify_all()

    async def send(self, message: OutgoingMessage) -> list[RecipientResult]:
        """Send to the one recipient through the least-used modem with room."""
        if len(message.recipients) > self.max_recipients_per_request:
            raise ValueError("a modem sends to one recipient per request")
        if not message.recipients:
            return []
        phone = message.recipients[0].strip()
        segments = analyse(message.text).segments
        self.requests += 1
        await self._roll_day()
        tried: set[str] = set()
        last: GatewayError | None = None
        while True:
            try:
                driver = await self._pick(segments, tried)
            except GatewayError as exc:
                self._failed(exc)
                raise
            if driver is None:
                assert last is not None
                raise last
            try:
                sent = await driver.send(phone, message.text)
            except GatewayAmbiguousError as exc:
                await self._record(driver, segments)  # it may have gone: count it
                self._failed(exc)
                raise
            except GatewayError as exc:  # nothing left this modem: another may take it
                logger.info("modem %s could not send (%s); trying another", driver.id, exc)
                tried.add(driver.id)
                self._failed(exc)
                last = exc
                continue
            finally:
                await self._release(driver)
            if sent.parts_sent:
                await self._record(driver, sent.parts_sent)
            return [sent.result]

    def _failed(self, exc: GatewayError) -> None:
        self.errors += 1
        self.last_error = str(exc)

    def health(self) -> Mapping[str, Any]:
        """Each modem's state, signal and today's usage against its limit."""
        modems: dict[str, Any] = {}
        for driver in self.drivers.values():
            messages, segments = self.used(driver.id)
            modems[driver.id] = {
                **driver.health(),
                "today": {"messages": messages, "segments": segments},
                "daily_limit": driver.spec.daily_limit,
                "limit_counts": "segments" if driver.spec.count_segments else "messages",
                "remaining": max(0, driver.spec.daily_limit - self._spent(driver)),
            }
        ready = sum(d.ready for d in self.drivers.values())
        state = "up" if ready == len(self.drivers) else "degraded" if ready else "down"
        return {
            "name": self.name,
            "kind": "modem",
            "state": state,
            "ready": f"{ready}/{len(self.drivers)}",
            "day": self._day.isoformat() if self._day else None,
            "requests": self.requests,
            "errors": self.errors,
            "last_error": self.last_error,
            "modems": modems,
        }
