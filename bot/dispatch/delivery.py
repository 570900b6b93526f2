"""Delivery reports from any gateway, applied once and never moving a final state backwards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.clock import Clock
from bot.errors import NotFound
from gateway.base import DeliveryReport
from storage.db import Database
from storage.outbox.delivery_reports import apply_delivery


class DeliveryService:
    """Records delivery reports against outbox rows and nudges progress reporting."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        on_change: Callable[[int], Awaitable[None]] | None = None,
    ):
        self.db = db
        self.clock = clock
        self.on_change = on_change

    async def apply(self, report: DeliveryReport) -> str:
        """Record a report; return 'recorded' or 'duplicate'; NotFound for an unknown id."""
        result = await apply_delivery(  # one round trip to the database thread, not four
            self.db,
            gateway=report.gateway,
            provider_id=report.provider_id,
            status=report.status.value,
            provider_status=report.provider_status,
            stamp=self.clock.now().isoformat(),
        )
        if result is None:
            raise NotFound(f"no message with id {report.provider_id} on {report.gateway}")
        changed, broadcast_id = result
        if changed and broadcast_id is not None and self.on_change is not None:
            await self.on_change(broadcast_id)
        return "recorded" if changed else "duplicate"
