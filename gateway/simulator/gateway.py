"""The simulator gateway: accepts every message, logs it, and reports delivery after a delay."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.base import (
    DeliveryReport,
    DeliveryStatus,
    Gateway,
    GatewayStats,
    OutgoingMessage,
    RecipientResult,
    ReportSink,
    SendOutcome,
)
from gateway.gsm import analyse

logger = logging.getLogger(__name__)

# Simulated provider statuses, named as Africa's Talking names them, mapped like its table.
STATUS_TABLE: dict[str, DeliveryStatus] = {
    "Success": DeliveryStatus.DELIVERED,
    "Failed": DeliveryStatus.FAILED,
    "Rejected": DeliveryStatus.REJECTED,
    "Buffered": DeliveryStatus.BUFFERED,
    "Expired": DeliveryStatus.EXPIRED,
}


def new_provider_id() -> str:
    """A message id unique across processes and restarts (a counter would repeat)."""
    return f"SIM{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class SimulatedSms:
    """One message the simulator accepted."""

    provider_id: str
    phone: str
    text: str
    sender_id: str | None
    segments: int


class SimulatorGateway(Gateway):
    """A gateway that needs no account: every message is accepted and kept in memory."""

    max_recipients_per_request = 1000
    concurrency = 1

    def __init__(
        self,
        *,
        delivery_delay_seconds: float = 1.0,
        delivery_status: str = "Success",
        on_report: ReportSink | None = None,
        name: str = "simulator",
        keep: int = 10_000,
        new_id: Callable[[], str] = new_provider_id,
    ):
        if delivery_status not in STATUS_TABLE:
            raise ValueError(f"delivery_status must be one of {', '.join(STATUS_TABLE)}")
        self.name = name
        self.delay = delivery_delay_seconds
        self.status = delivery_status
        self.on_report = on_report
        self.sent: deque[SimulatedSms] = deque(maxlen=keep)
        self.stats = GatewayStats()
        self._new_id = new_id
        self._pending: set[asyncio.Task[None]] = set()

    async def send(self, message: OutgoingMessage) -> list[RecipientResult]:
        """Accept every recipient and schedule a delivery report."""
        self.stats.requests += 1
        segments = analyse(message.text).segments
        results = []
        for phone in message.recipients:
            pid = self._new_id()
            self.sent.append(SimulatedSms(pid, phone, message.text, message.sender_id, segments))
            results.append(
                RecipientResult(
                    phone=phone,
                    outcome=SendOutcome.ACCEPTED,
                    provider_id=pid,
                    status_code=101,
                    status="Success",
                    cost=f"KES {0.8 * segments:.4f}",
                    segments=segments,
                )
            )
        logger.info(
            "simulator: %d message(s), %d segment(s) each, to %s: %r",
            len(message.recipients),
            segments,
            ", ".join(message.recipients[:3]) + (" …" if len(message.recipients) > 3 else ""),
            message.text[:80],
        )
        if self.on_report is not None:
            task = asyncio.create_task(self._report([r.provider_id or "" for r in results]))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return results

    async def _report(self, ids: list[str]) -> None:
        await asyncio.sleep(self.delay)
        assert self.on_report is not None
        for pid in ids:
            report = DeliveryReport(
                gateway=self.name,
                provider_id=pid,
                status=STATUS_TABLE[self.status],
                provider_status=self.status,
            )
            try:
                await self.on_report(report)
            except Exception:
                logger.exception("simulator: delivery report for %s failed", pid)

    async def close(self) -> None:
        """Cancel delivery reports not yet sent."""
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    def health(self) -> Mapping[str, Any]:
        """Counters for /healthz."""
        return {
            "name": self.name,
            "kind": "simulator",
            "state": "up",
            "requests": self.stats.requests,
            "accepted": len(self.sent),
        }
