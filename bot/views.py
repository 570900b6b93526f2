"""Read models handed to front ends: a broadcast with its counts, and an inbox message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.config.types import Config
from storage import broadcasts as store
from storage import outbox
from storage.broadcasts import Preview
from storage.outbox import BroadcastCounts
from storage.states import OPEN_STATES, BroadcastKind, BroadcastState

# The types a view carries, for front ends (which import bot, not storage).
__all__ = [
    "OPEN_STATES",
    "BroadcastCounts",
    "BroadcastKind",
    "BroadcastState",
    "BroadcastView",
    "InboxView",
    "Preview",
    "load_view",
]


@dataclass(frozen=True, slots=True)
class BroadcastView:
    """Everything a front end shows about one broadcast."""

    id: int
    state: BroadcastState
    kind: BroadcastKind
    audience: str
    message: str
    requested_by: str
    requester_name: str
    approvals_needed: int
    recipients: int
    preview: Preview
    counts: BroadcastCounts
    decisions: list[dict[str, str]]
    send_at: str | None
    expires_at: str | None
    created_at: str
    paused_reason: str | None
    sender_id: str | None = None  # as asked (--sender), else the configured default, else None
    chat_refs: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """A JSON-able dict for the REST API and --json output."""
        return {
            "id": self.id,
            "state": self.state,
            "kind": self.kind,
            "audience": self.audience,
            "message": self.message,
            "requested_by": self.requested_by,
            "approvals_needed": self.approvals_needed,
            "recipients": self.recipients,
            "preview": self.preview.as_json(),
            "counts": self.counts.as_json(),
            "decisions": self.decisions,
            "send_at": self.send_at,
            "expires_at": self.expires_at,
            "created_at": self.created_at,
            "paused_reason": self.paused_reason,
            "sender_id": self.sender_id,
        }


@dataclass(frozen=True, slots=True)
class InboxView:
    """A non-keyword SMS for staff: who wrote, what, and which broadcast it answers."""

    id: int
    phone: str
    name: str
    groups: tuple[str, ...]
    text: str
    received_at: str
    broadcast_id: int | None
    opted_out: bool
    incomplete: bool = False  # some parts of a long message never arrived


async def load_view(tx: Any, broadcast_id: int, config: Config) -> BroadcastView:
    """Assemble a BroadcastView inside a read or transaction."""
    b = await store.get(tx, broadcast_id)
    if b is None:
        raise LookupError(broadcast_id)
    counts = await outbox.broadcast_counts(tx, b.id)
    person = config.people.get(b.requested_by)
    return BroadcastView(
        id=b.id,
        state=b.state,
        kind=b.kind,
        audience=b.audience,
        message=b.message,
        requested_by=b.requested_by,
        requester_name=person.name if person else b.requested_by,
        approvals_needed=b.approvals_needed,
        recipients=b.recipients if b.state not in OPEN_STATES else b.preview.recipients,
        preview=b.preview,
        counts=counts,
        decisions=await store.decisions(tx, b.id),
        send_at=b.send_at,
        expires_at=b.expires_at,
        created_at=b.created_at,
        paused_reason=b.paused_reason,
        sender_id=b.sender_id,
        chat_refs=b.chat_refs,
    )
