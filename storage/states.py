"""The states and kinds stored in the database, as StrEnums equal to the strings stored."""

from __future__ import annotations

from enum import StrEnum


class BroadcastState(StrEnum):
    """Where a broadcast is in its lifecycle (broadcasts.state)."""

    DRAFT = "draft"  # below the approval threshold: the requester confirms
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"  # outbox rows frozen, nothing sent yet
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# Before approval: still decided on, and still counted from the preview.
OPEN_STATES = (BroadcastState.DRAFT, BroadcastState.AWAITING_APPROVAL)
# Approved and not finished: its rows may be claimed, and the worker watches its completion.
LIVE_STATES = (BroadcastState.APPROVED, BroadcastState.SENDING)


class OutboxState(StrEnum):
    """Where one outbox row (one message to one recipient) is (outbox.state)."""

    QUEUED = "queued"
    CLAIMED = "claimed"  # reserved for the next request; it has not left
    SENDING = "sending"  # the request may be in flight
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"  # may or may not have left: never re-sent automatically
    SKIPPED = "skipped"  # opted out before sending
    CANCELLED = "cancelled"


# Rows a claim has taken: reserved, or in a request that may have left.
IN_FLIGHT = (OutboxState.CLAIMED, OutboxState.SENDING)


class BroadcastKind(StrEnum):
    """What a broadcast is for (broadcasts.kind); promos wait out quiet hours."""

    ALERT = "alert"
    PROMO = "promo"


class KeywordAction(StrEnum):
    """What an inbound keyword asks for (inbound.action)."""

    OPTOUT = "optout"
    OPTIN = "optin"
    HELP = "help"
    JOIN = "join"
    LEAVE = "leave"
