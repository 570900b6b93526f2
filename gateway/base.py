"""Domain types shared by every gateway, and the small Protocol they implement."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


class SendOutcome(enum.Enum):
    """What a gateway says about one recipient of a send request."""

    ACCEPTED = "accepted"  # the provider took it; a delivery report may follow
    TEMPORARY = "temporary"  # try again later (backoff)
    PERMANENT = "permanent"  # never retry this recipient
    BLACKLISTED = "blacklisted"  # recipient blocked us at the carrier: fail and opt out
    INSUFFICIENT_BALANCE = "insufficient_balance"  # pause the broadcast, alert staff


class DeliveryStatus(enum.Enum):
    """Normalised delivery state reported by a provider after a send."""

    SENT = "sent"  # handed to the network / SMSC
    SUBMITTED = "submitted"
    BUFFERED = "buffered"  # queued at the network, phone unreachable for now
    DELIVERED = "delivered"  # final
    FAILED = "failed"  # final
    REJECTED = "rejected"  # final
    EXPIRED = "expired"  # final

    @property
    def is_final(self) -> bool:
        """True when no later report may change this state."""
        return self in _FINAL


_FINAL = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.REJECTED,
        DeliveryStatus.EXPIRED,
    }
)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One text to one or more recipients; the recipients all get the identical text."""

    text: str
    recipients: Sequence[str]  # E.164 numbers
    sender_id: str | None = None
    # Opaque per-recipient keys the caller uses to match results (e.g. outbox row ids).
    keys: Sequence[int] = ()


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """The provider's answer for one recipient of a send request."""

    phone: str
    outcome: SendOutcome
    provider_id: str | None = None
    status_code: int | None = None
    status: str = ""
    cost: str = ""
    reason: str = ""
    segments: int = 0


class GatewayError(Exception):
    """A whole request failed; nothing in it is known to have been accepted."""

    def __init__(self, message: str, *, temporary: bool, retry_after: float | None = None):
        super().__init__(message)
        self.temporary = temporary
        self.retry_after = retry_after


class GatewayAmbiguousError(GatewayError):
    """The request may or may not have reached the provider (e.g. a timeout after sending)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message, temporary=True, retry_after=retry_after)


@dataclass(frozen=True, slots=True)
class InboundSms:
    """An SMS received from a recipient, as any gateway reports it."""

    gateway: str
    provider_id: str
    sender: str  # as the provider wrote it; normalised by the core
    recipient: str  # our short code / number
    text: str
    received_at: datetime | None = None
    link_id: str | None = None
    network_code: str | None = None
    incomplete: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A provider's report on one message it accepted earlier."""

    gateway: str
    provider_id: str
    status: DeliveryStatus
    provider_status: str
    phone: str | None = None
    network_code: str | None = None
    failure_reason: str | None = None
    retry_count: int | None = None


class PayloadError(ValueError):
    """An inbound payload could not be turned into a domain object; the text says why."""


# where a gateway hands delivery reports (whatever the sink answers is not its business)
ReportSink = Callable[[DeliveryReport], Awaitable[object]]
InboundSink = Callable[[InboundSms], Awaitable[None]]  # where a gateway hands received SMS


@runtime_checkable
class Gateway(Protocol):
    """What the dispatch core needs from any SMS gateway; gateways subclass it for the defaults."""

    name: str
    max_recipients_per_request: int
    concurrency: int = 1  # requests the core may have in flight at once (one lane each)

    async def send(self, message: OutgoingMessage) -> list[RecipientResult]:
        """Send one text to its recipients; raise GatewayError if the whole request failed."""
        ...

    def health(self) -> Mapping[str, Any]:
        """A small JSON-able description of the gateway's state for /healthz."""
        ...

    async def start(self) -> None:
        """Open what the gateway needs before the first send (e.g. serial ports); default none."""
        return None

    async def close(self) -> None:
        """Release what the gateway holds (tasks, ports); default nothing."""
        return None


@dataclass(slots=True)
class GatewayStats:
    """Counters a gateway keeps for health output."""

    requests: int = 0
    errors: int = 0
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
