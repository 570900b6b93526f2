"""Pure parsers for the form bodies Africa's Talking POSTs to our callback URLs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from gateway.base import DeliveryReport, DeliveryStatus, InboundSms, PayloadError

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS: Final = 5000
_MAX_FIELD_CHARS: Final = 500

# AT delivery-report `status` -> our normalised state. AbsentSubscriber is sent once the
# network has given up on an unreachable/inactive handset, so it is final (FAILED); the
# provider status is kept on the report for anyone who wants to treat it differently.
STATUS_TABLE: Final[dict[str, DeliveryStatus]] = {
    "Sent": DeliveryStatus.SENT,
    "Submitted": DeliveryStatus.SUBMITTED,
    "Buffered": DeliveryStatus.BUFFERED,
    "Success": DeliveryStatus.DELIVERED,
    "Failed": DeliveryStatus.FAILED,
    "Rejected": DeliveryStatus.REJECTED,
    "AbsentSubscriber": DeliveryStatus.FAILED,
    "Expired": DeliveryStatus.EXPIRED,
}


def _field(form: Mapping[str, str], name: str, *, required: bool, limit: int) -> str | None:
    """Return one form value, validated as text; None when absent and not required."""
    if name not in form:
        if required:
            raise PayloadError(f"{name}: missing")
        return None
    value: object = form[name]
    if isinstance(value, (list, tuple)):  # tolerate parse_qs-shaped input
        if len(value) != 1:
            raise PayloadError(f"{name}: expected one value, got {len(value)}")
        value = value[0]
    if not isinstance(value, str):
        raise PayloadError(f"{name}: not text ({type(value).__name__})")
    if "\x00" in value:
        raise PayloadError(f"{name}: contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError(f"{name}: not valid UTF-8 text") from None
    if len(value) > limit:
        raise PayloadError(f"{name}: too long ({len(value)} characters)")
    return value


def _nonempty(form: Mapping[str, str], name: str) -> str:
    value = (_field(form, name, required=True, limit=_MAX_FIELD_CHARS) or "").strip()
    if not value:
        raise PayloadError(f"{name}: empty")
    return value


def _optional(form: Mapping[str, str], name: str) -> str | None:
    value = _field(form, name, required=False, limit=_MAX_FIELD_CHARS)
    if value is None:
        return None
    return value.strip() or None


def parse_received_at(value: str) -> datetime | None:
    """Parse AT's `date` ('2026-11-20 09:15:03' or ISO 8601 with 'Z') as aware UTC, else None."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_delivery_report(
    form: Mapping[str, str], *, gateway: str = "africastalking"
) -> DeliveryReport:
    """Turn an AT delivery-report callback form into a DeliveryReport; PayloadError if unusable."""
    provider_id = _nonempty(form, "id")
    provider_status = _nonempty(form, "status")
    status = STATUS_TABLE.get(provider_status)
    if status is None:
        known = ", ".join(STATUS_TABLE)
        raise PayloadError(f"status: unknown value {provider_status!r} (expected one of {known})")
    retry_count: int | None = None
    raw_retry = _optional(form, "retryCount")
    if raw_retry is not None:
        if not (raw_retry.isascii() and raw_retry.isdigit()):
            raise PayloadError(f"retryCount: not a non-negative integer: {raw_retry!r}")
        retry_count = int(raw_retry)
    return DeliveryReport(
        gateway=gateway,
        provider_id=provider_id,
        status=status,
        provider_status=provider_status,
        phone=_optional(form, "phoneNumber"),
        network_code=_optional(form, "networkCode"),
        failure_reason=_optional(form, "failureReason"),
        retry_count=retry_count,
    )


def parse_inbound(form: Mapping[str, str], *, gateway: str = "africastalking") -> InboundSms:
    """Turn an AT incoming-message callback form into an InboundSms; PayloadError if unusable."""
    sender = _nonempty(form, "from")
    provider_id = _nonempty(form, "id")
    recipient = _nonempty(form, "to")
    text = _field(form, "text", required=True, limit=MAX_TEXT_CHARS) or ""  # "" is legal
    _optional(form, "cost")  # validated as text; not part of the domain object
    received_at = None
    raw_date = _optional(form, "date")
    if raw_date is not None:
        received_at = parse_received_at(raw_date)
        if received_at is None:  # keep the message: a bad stamp must not lose an SMS
            logger.warning("inbound %s: unparseable date %r; left unset", provider_id, raw_date)
    return InboundSms(
        gateway=gateway,
        provider_id=provider_id,
        sender=sender,
        recipient=recipient,
        text=text,
        received_at=received_at,
        link_id=_optional(form, "linkId"),
        network_code=_optional(form, "networkCode"),
    )
