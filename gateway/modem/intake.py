"""What comes in from a modem: stored SMS handed to the inbound callback, status reports matched.

A stored message is deleted from the modem only after `on_inbound` returned without
raising; a part of a long message stays stored until its message is whole (or timed out),
so an unplugged dongle or a crash loses nothing: the next sweep reads it again, and the
message id is derived from the stored PDUs, so the re-read is recognisable.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable

from gateway.base import DeliveryReport, InboundSink, InboundSms, ReportSink
from gateway.modem.inbox import StorageAccess, Stored
from gateway.modem.pdu import (
    DecodedSubmit,
    DeliverPdu,
    PduError,
    StatusReportPdu,
    decode_any,
    decode_deliver,
    decode_status_report,
)
from gateway.modem.reassembly import Assembled, Reassembler, StoredPart
from gateway.modem.reports import ReportTracker

logger = logging.getLogger(__name__)


def with_smsc(hex_pdu: str, tpdu_length: int | None) -> str:
    """A +CDS / +CMT PDU with its SMSC field: '00' is put in front when the modem left it out."""
    text = "".join(hex_pdu.split())
    if tpdu_length is not None and len(text) == 2 * tpdu_length:
        return "00" + text
    return text


class Intake:
    """Turns stored PDUs into InboundSms and DeliveryReports, and clears them from storage."""

    def __init__(
        self,
        *,
        modem_id: str,
        gateway: str,
        on_inbound: InboundSink,
        on_report: ReportSink | None,
        tracker: ReportTracker,
        reassembler: Reassembler,
        report_retries: int = 5,
        report_retry_seconds: float = 2.0,
    ):
        self.modem_id = modem_id
        self.gateway = gateway
        self.on_inbound = on_inbound
        self.on_report = on_report
        self.tracker = tracker
        self.reassembler = reassembler
        self.report_retries = report_retries
        self.report_retry_seconds = report_retry_seconds
        self.received = 0
        self.reports = 0
        self.handover_failures = 0
        self._bad: set[tuple[str, int, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._direct = itertools.count(-1, -1)  # +CMT messages have no storage index

    async def sweep(self, access: StorageAccess) -> None:
        """Read everything in storage (AT+CMGL=4) and handle it."""
        for stored in await access.list_all():
            await self.stored(access, stored)

    async def stored(self, access: StorageAccess, stored: Stored) -> None:
        """Handle one stored PDU: an SMS-DELIVER, a status report, or (left alone) a SUBMIT."""
        try:
            pdu = decode_any(stored.pdu)
        except PduError as exc:
            key = (stored.storage, stored.index, stored.pdu)
            if key not in self._bad:
                self._bad.add(key)
                logger.error(
                    "%s: cannot decode the PDU at %s %d (%s); left in storage: %s",
                    self.modem_id,
                    stored.storage,
                    stored.index,
                    exc,
                    stored.pdu,
                )
            return
        if isinstance(pdu, StatusReportPdu):
            self._report(pdu)
            await access.delete(stored.storage, stored.index)
        elif isinstance(pdu, DecodedSubmit):
            logger.debug("%s: stored SMS-SUBMIT at %d left alone", self.modem_id, stored.index)
        else:
            await self._part(access, StoredPart(stored.storage, stored.index, stored.pdu, pdu))

    async def expire(self, access: StorageAccess | None) -> None:
        """Hand over long messages whose missing parts did not come in time."""
        for message in self.reassembler.expired():
            await self._hand_over(access, message)

    def direct_report(self, hex_pdu: str, tpdu_length: int | None) -> None:
        """A +CDS status report (not stored): match it and pass it on."""
        try:
            pdu = decode_status_report(with_smsc(hex_pdu, tpdu_length))
        except PduError as exc:
            logger.error("%s: unreadable +CDS report (%s): %s", self.modem_id, exc, hex_pdu)
            return
        self._report(pdu)

    def direct_deliver(self, hex_pdu: str, tpdu_length: int | None) -> None:
        """A +CMT message (not stored): hand it over in a task; it cannot be read again."""
        try:
            pdu: DeliverPdu = decode_deliver(with_smsc(hex_pdu, tpdu_length))
        except PduError as exc:
            logger.error("%s: unreadable +CMT message (%s): %s", self.modem_id, exc, hex_pdu)
            return
        part = StoredPart("", next(self._direct), hex_pdu, pdu)
        self._spawn(self._part(None, part))

    async def _part(self, access: StorageAccess | None, part: StoredPart) -> None:
        message = self.reassembler.add(part)
        if message is not None:
            await self._hand_over(access, message)

    async def _hand_over(self, access: StorageAccess | None, message: Assembled) -> None:
        sms = InboundSms(
            gateway=self.gateway,
            provider_id=message.message_id(self.modem_id),
            sender=message.sender,
            recipient=self.modem_id,
            text=message.text,
            received_at=message.timestamp,
            incomplete=message.incomplete,
        )
        try:
            await self.on_inbound(sms)
        except Exception:
            self.handover_failures += 1
            logger.exception(
                "%s: inbound message %s from %s was not taken; it stays in storage and is "
                "read again at the next sweep",
                self.modem_id,
                sms.provider_id,
                sms.sender,
            )
            return
        self.received += 1
        if access is not None:
            for part in message.stored:
                if part.index >= 0:
                    await access.delete(part.storage, part.index)

    def _report(self, pdu: StatusReportPdu) -> None:
        report = self.tracker.apply(pdu)
        if report is not None and self.on_report is not None:
            self.reports += 1
            self._spawn(self._pass_report(report))

    async def _pass_report(self, report: DeliveryReport) -> None:
        assert self.on_report is not None
        for attempt in range(self.report_retries + 1):
            try:
                await self.on_report(report)
                return
            except Exception as exc:  # e.g. the send is not settled in the outbox yet
                if attempt == self.report_retries:
                    logger.warning(
                        "%s: delivery report for %s not recorded: %s",
                        self.modem_id,
                        report.provider_id,
                        exc,
                    )
                    return
                await asyncio.sleep(self.report_retry_seconds * 2**attempt)

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:
                logger.exception("%s: background intake task failed", self.modem_id)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel report hand-overs still running."""
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
