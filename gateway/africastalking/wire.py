"""Africa's Talking's wire format: the send form, status codes, and reading the answer.

Pure functions, no I/O: gateway.africastalking.sender posts the form and hands the answer here.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from gateway.base import (
    GatewayAmbiguousError,
    GatewayError,
    OutgoingMessage,
    RecipientResult,
    SendOutcome,
)

logger = logging.getLogger(__name__)

SANDBOX_BASE_URL: Final = "https://api.sandbox.africastalking.com"
PRODUCTION_BASE_URL: Final = "https://api.africastalking.com"
SEND_PATH: Final = "/version1/messaging"
AUTH_FAILED: Final = (
    "authentication failed: check gateways.africastalking.api_key and username "
    "(sandbox keys only work with username 'sandbox')"
)
_SNIPPET = 200

# AT's per-recipient statusCode -> what it means for us, and AT's short name for it.
TABLE: Final[dict[int, tuple[SendOutcome, str]]] = {
    100: (SendOutcome.ACCEPTED, "Processed"),
    101: (SendOutcome.ACCEPTED, "Sent"),
    102: (SendOutcome.ACCEPTED, "Queued"),
    401: (SendOutcome.PERMANENT, "RiskHold"),
    402: (SendOutcome.PERMANENT, "InvalidSenderId"),
    403: (SendOutcome.PERMANENT, "InvalidPhoneNumber"),
    404: (SendOutcome.PERMANENT, "UnsupportedNumberType"),
    405: (SendOutcome.INSUFFICIENT_BALANCE, "InsufficientBalance"),
    406: (SendOutcome.BLACKLISTED, "UserInBlacklist"),
    407: (SendOutcome.PERMANENT, "CouldNotRoute"),
    409: (SendOutcome.PERMANENT, "DoNotDisturbRejection"),
    500: (SendOutcome.TEMPORARY, "InternalServerError"),
    501: (SendOutcome.TEMPORARY, "GatewayError"),
    502: (SendOutcome.TEMPORARY, "RejectedByGateway"),
}
_CODE_BY_NAME: Final = {name.lower(): code for code, (_, name) in TABLE.items()}
_ENVIRONMENTS: Final = {
    "api.sandbox.africastalking.com": "sandbox",
    "api.africastalking.com": "production",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer to a send request, as received."""

    status: int
    headers: Mapping[str, str]
    body: str


@dataclass(frozen=True, slots=True)
class Reading:
    """How to word problems in an answer: the gateway's name, its host, and a redactor."""

    gateway: str
    host: str
    redact: Callable[[str], str]


def environment_of(host: str | None) -> str:
    """'sandbox', 'production' or 'custom', from a base URL's host name."""
    return _ENVIRONMENTS.get(host or "", "custom")


def send_form(
    message: OutgoingMessage,
    recipients: list[str],
    *,
    username: str,
    sender_id: str | None,
    enqueue: bool,
) -> dict[str, str]:
    """The form body: the same fields, values and order as the official SDK's SMSService.send."""
    form = {"username": username, "to": ",".join(recipients), "message": message.text}
    form["bulkSMSMode"] = "1"
    sender = message.sender_id or sender_id
    if sender:
        form["from"] = sender
    if enqueue:
        form["enqueue"] = "1"
    return form


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date); None if unusable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def interpret(answer: Answer, recipients: list[str], *, how: Reading) -> list[RecipientResult]:
    """One RecipientResult per recipient, in order; raises GatewayError for a failed request."""
    status, body = answer.status, answer.body
    where = f"HTTP {status} from {how.host}"
    if status == 401:
        raise GatewayError(AUTH_FAILED, temporary=False)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(answer.headers.get("Retry-After"))
        snippet = _snippet(body, how)
        if status in (502, 504):
            # A proxy answered for an upstream that may already have taken the request.
            raise GatewayAmbiguousError(f"{where}: {snippet}", retry_after=retry_after)
        raise GatewayError(f"{where}: {snippet}", temporary=True, retry_after=retry_after)
    if not 200 <= status < 300:
        raise GatewayError(f"{where}: {_snippet(body, how)}", temporary=False)
    try:
        data = json.loads(body)
    except ValueError:
        raise GatewayAmbiguousError(f"{where}, body is not JSON: {_snippet(body, how)}") from None
    smd = data.get("SMSMessageData") if isinstance(data, dict) else None
    entries = smd.get("Recipients") if isinstance(smd, dict) else None
    if not isinstance(smd, dict) or not isinstance(entries, list):
        raise GatewayAmbiguousError(
            f"{where} without SMSMessageData.Recipients: {_snippet(body, how)}"
        )
    if not all(isinstance(e, dict) for e in entries):
        raise GatewayAmbiguousError(
            f"{where} with a malformed Recipients list: {_snippet(body, how)}"
        )
    if not entries:  # e.g. {"Message": "InvalidSenderId", "Recipients": []}
        code = _CODE_BY_NAME.get(str(smd.get("Message", "")).strip().lower())
        if code is not None and TABLE[code][0] is not SendOutcome.ACCEPTED:
            return [
                recipient_result(r, {"statusCode": code, "number": r}, gateway=how.gateway)
                for r in recipients
            ]
    exact = _by_exact_number(entries, recipients)
    if exact is not None:  # the usual answer: each number once, written as we sent it
        return [recipient_result(phone, exact[phone], gateway=how.gateway) for phone in recipients]
    if len(recipients) == 1 and len(entries) == 1:  # one number sent, one answered: it is ours
        return [_only_entry(recipients[0], entries[0], where=where, how=how)]
    by_number: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_number.setdefault(_number_key(entry.get("number", "")), []).append(entry)
    results = []
    for phone in recipients:
        queue = by_number.get(_number_key(phone))
        if queue:
            results.append(recipient_result(phone, queue.pop(0), gateway=how.gateway))
        elif by_number.get(""):  # an entry without a number may be this one's: never resend
            raise GatewayAmbiguousError(
                f"{where}: an answer without a number, and {phone} not named: {_snippet(body, how)}"
            )
        else:
            results.append(
                RecipientResult(
                    phone, SendOutcome.TEMPORARY, reason="missing from provider response"
                )
            )
    extra = sum(len(q) for q in by_number.values())
    if extra:
        logger.warning("%s: response named %d number(s) we did not send to", how.gateway, extra)
    return results


def _only_entry(phone: str, entry: dict[str, Any], *, where: str, how: Reading) -> RecipientResult:
    """The one entry for the one number sent, matched by position (AT may leave out `number`);
    an entry naming another number is ambiguous."""
    named = _number_key(entry.get("number") or "")
    if named and named != _number_key(phone):
        raise GatewayAmbiguousError(
            f"{where}: the one answer names {entry.get('number')!r}, not {phone}"
        )
    return recipient_result(phone, entry, gateway=how.gateway)


def _snippet(body: str, how: Reading) -> str:
    return how.redact(" ".join(body.split())[:_SNIPPET])


def _by_exact_number(
    entries: list[dict[str, Any]], recipients: list[str]
) -> dict[str, dict[str, Any]] | None:
    """Entries by number when they name exactly our recipients, each once; else None."""
    if len(entries) != len(recipients):
        return None
    exact = {}
    for entry in entries:
        number = entry.get("number")
        if type(number) is not str or number in exact:
            return None
        exact[number] = entry
    return exact if all(phone in exact for phone in recipients) else None


def recipient_result(phone: str, entry: Mapping[str, Any], *, gateway: str) -> RecipientResult:
    """Our reading of one entry of AT's Recipients list."""
    code = entry.get("statusCode")
    known = TABLE.get(code) if type(code) is int else None
    message_id = entry.get("messageId")
    if (  # the usual accepted entry, read without the general checks below
        known is not None
        and known[0] is SendOutcome.ACCEPTED
        and type(message_id) is str
        and message_id not in ("", "None")
        and not message_id[0].isspace()
        and not message_id[-1].isspace()
    ):
        status, cost, parts = entry.get("status"), entry.get("cost"), entry.get("messageParts")
        return RecipientResult(
            phone=phone,
            outcome=SendOutcome.ACCEPTED,
            provider_id=message_id,
            status_code=code,
            status=(status if type(status) is str else str(status or "")) or known[1],
            cost=cost if type(cost) is str else str(cost or ""),
            segments=parts if type(parts) is int else (_as_int(parts) or 0),
        )
    status = str(entry.get("status") or "")
    code = _as_int(entry.get("statusCode"))
    if code is None:  # older responses carry only a status string
        code = 101 if status == "Success" else _CODE_BY_NAME.get(status.lower())
    if code is None:
        outcome, reason = SendOutcome.PERMANENT, f"no statusCode (status {status!r})"
    elif code in TABLE:
        outcome, short = TABLE[code]
        reason = "" if outcome is SendOutcome.ACCEPTED else short
        status = status or short
    else:
        outcome, reason = SendOutcome.PERMANENT, f"unknown statusCode {code}"
    message_id = str(entry.get("messageId") or "").strip()
    provider_id = None if message_id in ("", "None") else message_id
    if outcome is SendOutcome.ACCEPTED and provider_id is None:
        logger.warning("%s: accepted recipient without a messageId", gateway)
    parts = _as_int(entry.get("messageParts"))
    return RecipientResult(
        phone=phone,
        outcome=outcome,
        provider_id=provider_id,
        status_code=code,
        status=status,
        cost=str(entry.get("cost") or ""),
        reason=reason,
        segments=parts or 0,
    )


def _number_key(number: object) -> str:
    return "".join(ch for ch in str(number) if ch.isdigit())


def _as_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() else None
