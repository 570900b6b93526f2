"""One GSM modem: connect and start up, send in PDU mode, receive, and reconnect when unplugged.

One task owns the port: it opens it, runs the start-up sequence, then takes jobs one at
a time from a queue (sends, reads after +CMTI, storage sweeps). When the port vanishes
it fails the queued sends (they never reached the port: temporary), reports a send whose
PDU was written but not answered as ambiguous, and reconnects with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from gateway.base import GatewayError, InboundSink, ReportSink
from gateway.modem.at.channel import ATChannel, PortOpener, open_serial
from gateway.modem.at.errors import ATError, PortClosed, SimError
from gateway.modem.at.urc import Radio, Urc, int_fields, storage_index
from gateway.modem.inbox import StorageAccess
from gateway.modem.intake import Intake
from gateway.modem.jobs import Closed, DirectJob, Job, ReadJob, SendJob, settle
from gateway.modem.outgoing import Outgoing
from gateway.modem.reassembly import Reassembler
from gateway.modem.reports import ReportTracker
from gateway.modem.sending import Sent
from gateway.modem.spec import ModemSettings, ModemSpec
from gateway.modem.startup import PinRejected, Started, start_modem

logger = logging.getLogger(__name__)


class ModemDriver:
    """One modem on one port; `send` is safe to call from any task."""

    def __init__(
        self,
        spec: ModemSpec,
        *,
        settings: ModemSettings,
        on_inbound: InboundSink,
        on_report: ReportSink | None,
        gateway: str = "modem",
        open_port: PortOpener = open_serial,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.spec = spec
        self.settings = settings
        self.gateway = gateway
        self._open_port = open_port
        self._mono = monotonic
        self.tracker = ReportTracker(gateway=gateway, keep=settings.report_keep)
        self.intake = Intake(
            modem_id=spec.id,
            gateway=gateway,
            on_inbound=on_inbound,
            on_report=on_report,
            tracker=self.tracker,
            reassembler=Reassembler(
                timeout_seconds=settings.concat_timeout_seconds, monotonic=monotonic
            ),
            report_retry_seconds=settings.report_retry_seconds,
        )
        self.state = "stopped"
        self.last_error: str | None = None
        self.started: Started | None = None
        self.radio = Radio()
        self.connects = 0
        self.outgoing = Outgoing(spec, settings=settings, tracker=self.tracker, monotonic=monotonic)
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._channel: ATChannel | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        self._pin_allowed = True

    @property
    def id(self) -> str:
        """The modem's configured id."""
        return self.spec.id

    @property
    def ready(self) -> bool:
        """Connected, started up, and taking jobs."""
        return self._ready.is_set()

    async def wait_ready(self, seconds: float) -> bool:
        """Wait up to `seconds` for the modem to be ready."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._ready.wait()
        return self.ready

    def start(self) -> None:
        """Start the task that owns the port."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"modem-{self.id}")

    async def close(self) -> None:
        """Stop the task, close the port, fail sends that never started."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.intake.close()
        self.state = "stopped"

    async def send(self, phone: str, text: str) -> Sent:
        """Send one text to one number; the task that owns the port keeps the modem's pace."""
        self._check_ready()
        job = SendJob(phone, text, asyncio.get_running_loop().create_future())
        self._jobs.put_nowait(job)
        return await job.future

    def _check_ready(self) -> None:
        if not self.ready:
            detail = f": {self.last_error}" if self.last_error else ""
            raise GatewayError(f"modem {self.id} is {self.state}{detail}", temporary=True)

    async def _run(self) -> None:
        failures = 0
        s = self.settings
        try:
            while not self._stopping:
                was_ready, floor = await self._session()
                failures = 1 if was_ready else failures + 1
                wait = min(s.reconnect_max_seconds, s.reconnect_min_seconds * 2 ** (failures - 1))
                await asyncio.sleep(max(wait, floor))
        finally:
            self._ready.clear()
            self._fail_queued("modem stopped")

    async def _session(self) -> tuple[bool, float]:
        """One connection, from opening the port until it is lost.

        Returns whether the modem got ready, and the least time to wait before the next try.
        """
        self.state = "connecting"
        try:
            reader, writer = await self._open_port(self.spec.port, self.spec.baudrate)
        except Exception as exc:  # SerialException (an OSError), FileNotFoundError, ...
            self._error("disconnected", f"cannot open {self.spec.port}: {exc}")
            return False, 0.0
        channel = ATChannel(reader, writer, on_urc=self._on_urc, name=self.id)
        channel.start()
        self._channel = channel
        self._watch = asyncio.create_task(self._watch_closed(channel))
        self.connects += 1
        was_ready = False
        try:
            self.state = "starting"
            self.started = await start_modem(
                channel, self.spec, settings=self.settings, pin_allowed=self._pin_allowed
            )
            self.state, self.last_error = "ready", None
            self._ready.set()
            was_ready = True
            logger.info("modem %s ready on %s", self.id, self.spec.port)
            await self._serve(
                channel, StorageAccess(channel, self.settings, storage=self.started.storage)
            )
        except SimError as exc:  # PIN / PUK / no SIM: a person must act; try again slowly
            if isinstance(exc, PinRejected):
                self._pin_allowed = False
            self._error("failed", str(exc))
            return was_ready, self.settings.reconnect_max_seconds
        except (ATError, OSError) as exc:
            self._error("disconnected", str(exc))
        finally:
            self._ready.clear()
            self._channel = None
            if self._watch is not None:
                self._watch.cancel()
            await channel.close()
            self._fail_queued(f"modem {self.id} disconnected before sending")
        return was_ready, 0.0

    def _error(self, state: str, message: str) -> None:
        self.state, self.last_error = state, message
        logger.warning("modem %s %s: %s", self.id, state, message)

    async def _watch_closed(self, channel: ATChannel) -> None:
        await channel.wait_closed()
        self._jobs.put_nowait(Closed(channel))

    def _fail_queued(self, reason: str) -> None:
        kept: list[Job] = []
        while not self._jobs.empty():
            job = self._jobs.get_nowait()
            if isinstance(job, SendJob):
                settle(job, GatewayError(f"{reason}; nothing was sent", temporary=True))
            elif not isinstance(job, Closed):
                kept.append(job)  # reads and direct PDUs are handled after reconnecting
        for job in kept:
            self._jobs.put_nowait(job)

    async def _serve(self, channel: ATChannel, access: StorageAccess) -> None:
        next_sweep = 0.0
        while True:
            if self._mono() >= next_sweep:
                await self.intake.sweep(access)
                next_sweep = self._mono() + self.settings.sweep_seconds
            await self.intake.expire(access)
            wait = max(0.0, min(next_sweep - self._mono(), self.settings.tick_seconds))
            try:
                async with asyncio.timeout(wait):  # not wait_for: it can swallow a cancel
                    job = await self._jobs.get()
            except TimeoutError:
                continue
            if isinstance(job, Closed):
                if job.channel is channel:
                    raise PortClosed(f"{self.id}: port lost")
            elif isinstance(job, SendJob):
                if not job.future.done():  # cancelled while queued: never sent
                    await self.outgoing.send(channel, job)
            elif isinstance(job, DirectJob):
                if job.name == "+CDS":
                    self.intake.direct_report(job.pdu, job.length)
                else:
                    self.intake.direct_deliver(job.pdu, job.length)
            else:
                stored = await access.read(job.storage, job.index)
                if stored is not None:
                    await self.intake.stored(access, stored)

    def _on_urc(self, urc: Urc) -> None:
        if urc.name in ("+CMTI", "+CDSI"):
            where = storage_index(urc)
            if where is not None:
                self._jobs.put_nowait(ReadJob(*where))
        elif urc.name in ("+CDS", "+CMT"):
            lengths = int_fields(urc.value.rpartition(",")[2])
            length = lengths[0] if lengths else None
            if urc.pdu is None:
                logger.warning("%s: %s without a PDU", self.id, urc.name)
            else:  # queued, so a report never overtakes the send it reports on
                self._jobs.put_nowait(DirectJob(urc.name, urc.pdu, length))
        else:
            self.radio.observe(urc, self.id)

    def health(self) -> dict[str, Any]:
        """State for /healthz: connection, signal, storage, queues."""
        started = self.started
        return {
            "id": self.id,
            "port": self.spec.port,
            "state": self.state,
            "last_error": self.last_error,
            **self.radio.health(),
            "storage": started.storage if started else None,
            "delivery_reports": started.reports if started else None,
            "connects": self.connects,
            "parts_sent": self.outgoing.parts_sent,
            "received": self.intake.received,
            "held_parts": self.intake.reassembler.held,
            "awaiting_reports": len(self.tracker),
            "queued": self._jobs.qsize(),
        }
