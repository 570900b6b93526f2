"""What a dispatch lane asks storage for, and what its gateway answered, built for tests."""

from __future__ import annotations

from bot.core import Core
from storage.outbox import Claimed, ClaimRequest, SettlePlan


def claim_request(
    core: Core, batch_id: str, *, state: str = "sending", limit: int = 100
) -> ClaimRequest:
    """A simulator lane's request for up to `limit` ready rows, now on the core's clock."""
    now = core.clock.now()
    return ClaimRequest(
        now=now.timestamp(),
        gateway="simulator",
        batch_id=batch_id,
        limit=limit,
        allow_promo=True,
        stamp=now.isoformat(),
        state=state,
    )


def accepted_plan(batch: Claimed) -> SettlePlan:
    """A settle plan in which every row of `batch` was accepted."""
    return SettlePlan(
        sent=[(rid, f"SIM-{batch.batch_id}-{rid}", "Success", 0.8) for rid in batch.ids]
    )
