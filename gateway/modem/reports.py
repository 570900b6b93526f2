"""Delivery reports: SMS-STATUS-REPORTs matched back to sent messages by message reference."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from gateway.base import DeliveryReport, DeliveryStatus
from gateway.modem.pdu import StatusReportPdu

logger = logging.getLogger(__name__)

# TP-ST values with a name of their own (TS 23.040 §9.2.3.15).
TP_ST_NAMES = {
    0x00: "received by the SME",
    0x01: "forwarded, delivery unconfirmed",
    0x02: "replaced by the SC",
    0x20: "congestion, still trying",
    0x21: "SME busy, still trying",
    0x22: "no response from SME, still trying",
    0x23: "service rejected, still trying",
    0x24: "quality of service not available, still trying",
    0x25: "error in SME, still trying",
    0x40: "remote procedure error",
    0x41: "incompatible destination",
    0x42: "connection rejected by SME",
    0x43: "not obtainable",
    0x44: "quality of service not available",
    0x45: "no interworking available",
    0x46: "SM validity period expired",
    0x47: "SM deleted by originating SME",
    0x48: "SM deleted by SC administration",
    0x49: "SM does not exist",
    0x60: "congestion, SC gave up",
    0x61: "SME busy, SC gave up",
    0x62: "no response from SME, SC gave up",
    0x63: "service rejected, SC gave up",
    0x64: "quality of service not available, SC gave up",
    0x65: "error in SME, SC gave up",
}


def status_text(status: int) -> str:
    """E.g. 'TP-ST 0x46 SM validity period expired'."""
    return f"TP-ST 0x{status:02X} {TP_ST_NAMES.get(status, 'unnamed status')}"


def delivery_status(status: int) -> DeliveryStatus:
    """The normalised status of one TP-ST value."""
    if status < 0x20:
        return DeliveryStatus.DELIVERED
    if status < 0x40:
        return DeliveryStatus.BUFFERED
    if status == 0x46:
        return DeliveryStatus.EXPIRED
    if status == 0x42:
        return DeliveryStatus.REJECTED
    return DeliveryStatus.FAILED


def _same_number(a: str, b: str) -> bool:
    da = "".join(ch for ch in a if ch.isdigit())
    db = "".join(ch for ch in b if ch.isdigit())
    n = min(len(da), len(db), 9)  # national and international forms share the last 9
    return n > 0 and da[-n:] == db[-n:]


@dataclass(slots=True)
class _Sent:
    provider_id: str
    phone: str
    waiting: set[int] = field(default_factory=set)  # MRs of parts not yet delivered


class ReportTracker:
    """Recent sends by message reference (0-255, wrapping); a newer send replaces an older."""

    def __init__(self, *, gateway: str, keep: int = 2048):
        self.gateway = gateway
        self.keep = keep
        self._by_mr: OrderedDict[int, _Sent] = OrderedDict()
        self.unmatched = 0

    def __len__(self) -> int:
        return len(self._by_mr)

    def sent(self, provider_id: str, phone: str, *, mrs: list[int]) -> None:
        """Remember the parts of one accepted message."""
        entry = _Sent(provider_id, phone, set(mrs))
        for mr in mrs:
            old = self._by_mr.pop(mr, None)
            if old is not None and old is not entry:
                old.waiting.discard(mr)  # its report can no longer be told apart
            self._by_mr[mr] = entry
        while len(self._by_mr) > self.keep:
            self._by_mr.popitem(last=False)

    def apply(self, report: StatusReportPdu) -> DeliveryReport | None:
        """The DeliveryReport a status report means, or None (unknown MR, or more to come)."""
        entry = self._by_mr.get(report.message_reference)
        if entry is None or not _same_number(entry.phone, report.recipient):
            self.unmatched += 1
            logger.info(
                "status report for MR %d to %s matches no recent send",
                report.message_reference,
                report.recipient,
            )
            return None
        status = delivery_status(report.status)
        if status.is_final:
            del self._by_mr[report.message_reference]
        if status is DeliveryStatus.DELIVERED:
            entry.waiting.discard(report.message_reference)
            if entry.waiting:  # other parts of a long message are still on their way
                return None
        elif status.is_final:  # one failed part fails the message: forget the others
            for mr in entry.waiting - {report.message_reference}:
                if self._by_mr.get(mr) is entry:
                    del self._by_mr[mr]
            entry.waiting.clear()
        return DeliveryReport(
            gateway=self.gateway,
            provider_id=entry.provider_id,
            status=status,
            provider_status=status_text(report.status),
            phone=entry.phone,
            failure_reason=None
            if status is DeliveryStatus.DELIVERED
            else status_text(report.status),
        )
