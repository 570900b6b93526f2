"""Africa's Talking bulk SMS gateway: the official SDK's wire format, spoken over aiohttp."""

from __future__ import annotations

import email.utils
import json
import logging
import math
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from ssl import SSLContext
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from gateway.base import (
    GatewayAmbiguousError,
    GatewayError,
    GatewayStats,
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


def build_ssl_context(*, ca_bundle: str | None, verify: bool) -> SSLContext | bool:
    """Build the ssl argument for requests: a verifying context, or False when verify is off."""
    if not verify:
        logger.warning(
            "TLS certificate verification is DISABLED for the SMS gateway "
            "(insecure_skip_tls_verify = true); never do this in production"
        )
        return False
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"ca_bundle: cannot load {ca_bundle!r}: {exc}") from exc


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


def _number_key(number: object) -> str:
    return "".join(ch for ch in str(number) if ch.isdigit())


def _as_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() else None


class AfricasTalkingGateway:
    """Send bulk SMS through Africa's Talking's /version1/messaging endpoint."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        username: str,
        api_key: str,
        sender_id: str | None = None,
        base_url: str | None = None,
        enqueue: bool = False,
        timeout_seconds: float = 30.0,
        ssl: SSLContext | bool | None = None,
        name: str = "africastalking",
        max_recipients_per_request: int = 100,
    ) -> None:
        if not username.strip():
            raise ValueError("gateways.africastalking.username is empty")
        if not api_key.strip():
            raise ValueError("gateways.africastalking.api_key is empty")
        if timeout_seconds <= 0:
            raise ValueError("gateways.africastalking.timeout_seconds must be > 0")
        if max_recipients_per_request < 1:
            raise ValueError("max_recipients_per_request must be >= 1")
        if base_url is None:
            base_url = SANDBOX_BASE_URL if username == "sandbox" else PRODUCTION_BASE_URL
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"gateways.africastalking.base_url is not http(s): {base_url!r}")
        self.name = name
        self.max_recipients_per_request = max_recipients_per_request
        self.username = username
        self.sender_id = sender_id
        self.enqueue = enqueue
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._api_key = api_key
        self._ssl = ssl
        self._url = self.base_url + SEND_PATH
        self._host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self._headers = {"Accept": "application/json", "apiKey": api_key, "User-Agent": "smsops"}
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_seconds, sock_connect=min(timeout_seconds, 10.0)
        )
        self._stats = GatewayStats()
        if self.environment == "production" and username == "sandbox":
            logger.warning("%s: username 'sandbox' used against the production host", name)
        elif self.environment == "sandbox" and username != "sandbox":
            logger.warning("%s: the sandbox host only accepts username 'sandbox'", name)

    @property
    def environment(self) -> str:
        """'sandbox', 'production' or 'custom', from the base URL's host."""
        return _ENVIRONMENTS.get(urlsplit(self.base_url).hostname or "", "custom")

    def health(self) -> Mapping[str, Any]:
        """A JSON-able summary for /healthz; never contains the api key."""
        return {
            "name": self.name,
            "kind": "africastalking",
            "environment": self.environment,
            "host": self._host,
            "requests": self._stats.requests,
            "errors": self._stats.errors,
            "last_error": self._stats.last_error,
        }

    async def send(self, message: OutgoingMessage) -> list[RecipientResult]:
        """POST one text to all its recipients; one RecipientResult per recipient, in order."""
        recipients = [r.strip() for r in message.recipients]
        if not recipients:
            return []
        if len(recipients) > self.max_recipients_per_request:
            raise ValueError(
                f"{len(recipients)} recipients exceed max_recipients_per_request "
                f"({self.max_recipients_per_request})"
            )
        if any(not r or "," in r for r in recipients):
            raise ValueError("recipients must be non-empty and must not contain commas")
        # Same fields, values and order as the official SDK's SMSService.send.
        form = {"username": self.username, "to": ",".join(recipients), "message": message.text}
        form["bulkSMSMode"] = "1"
        sender_id = message.sender_id or self.sender_id
        if sender_id:
            form["from"] = sender_id
        if self.enqueue:
            form["enqueue"] = "1"
        self._stats.requests += 1
        try:
            status, headers, body = await self._post(form)
            results = self._interpret(status, headers, body, recipients)
        except GatewayError as exc:
            self._stats.errors += 1
            self._stats.last_error = str(exc)
            logger.warning("%s: send to %d number(s) failed: %s", self.name, len(recipients), exc)
            raise
        accepted = sum(r.outcome is SendOutcome.ACCEPTED for r in results)
        logger.info("%s: %d/%d recipient(s) accepted", self.name, accepted, len(results))
        return results

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")

    async def _post(self, form: dict[str, str]) -> tuple[int, Mapping[str, str], str]:
        extra: dict[str, Any] = {} if self._ssl is None else {"ssl": self._ssl}
        host = self._host
        try:
            async with self._session.post(
                self._url,
                data=form,
                headers=self._headers,
                timeout=self._timeout,
                allow_redirects=False,
                raise_for_status=False,
                **extra,
            ) as resp:
                body = await resp.text(encoding="utf-8", errors="replace")
                return resp.status, resp.headers, body
        except (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch) as exc:
            raise GatewayError(
                self._redact(
                    f"TLS verification problem talking to {host}: {exc}. If a proxy or private "
                    "CA is in the way, set gateways.africastalking.ca_bundle to its CA file"
                ),
                temporary=False,
            ) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise GatewayError(f"timed out connecting to {host}", temporary=True) from exc
        except aiohttp.ClientConnectorError as exc:
            # Raised before anything was written: the request did not leave.
            raise GatewayError(
                self._redact(f"cannot connect to {host}: {exc}"), temporary=True
            ) from exc
        except TimeoutError as exc:
            raise GatewayAmbiguousError(
                f"no complete answer from {host} within {self._timeout.total}s; "
                "the provider may have accepted the request"
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise GatewayError(f"invalid base_url: {exc}", temporary=False) from exc
        except aiohttp.ClientError as exc:
            # Reset / disconnect / broken body after the request went out.
            raise GatewayAmbiguousError(
                self._redact(
                    f"connection to {host} failed after sending ({type(exc).__name__}: {exc}); "
                    "the provider may have accepted the request"
                )
            ) from exc

    def _interpret(
        self, status: int, headers: Mapping[str, str], body: str, recipients: list[str]
    ) -> list[RecipientResult]:
        snippet = self._redact(" ".join(body.split())[:_SNIPPET])
        where = f"HTTP {status} from {self._host}"
        if status == 401:
            raise GatewayError(AUTH_FAILED, temporary=False)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(headers.get("Retry-After"))
            if status in (502, 504):
                # A proxy answered for an upstream that may already have taken the request.
                raise GatewayAmbiguousError(f"{where}: {snippet}", retry_after=retry_after)
            raise GatewayError(f"{where}: {snippet}", temporary=True, retry_after=retry_after)
        if not 200 <= status < 300:
            raise GatewayError(f"{where}: {snippet}", temporary=False)
        try:
            data = json.loads(body)
        except ValueError:
            raise GatewayAmbiguousError(f"{where}, body is not JSON: {snippet}") from None
        smd = data.get("SMSMessageData") if isinstance(data, dict) else None
        entries = smd.get("Recipients") if isinstance(smd, dict) else None
        if not isinstance(smd, dict) or not isinstance(entries, list):
            raise GatewayAmbiguousError(f"{where} without SMSMessageData.Recipients: {snippet}")
        if not all(isinstance(e, dict) for e in entries):
            raise GatewayAmbiguousError(f"{where} with a malformed Recipients list: {snippet}")
        if not entries:  # e.g. {"Message": "InvalidSenderId", "Recipients": []}
            code = _CODE_BY_NAME.get(str(smd.get("Message", "")).strip().lower())
            if code is not None and TABLE[code][0] is not SendOutcome.ACCEPTED:
                return [self._result(r, {"statusCode": code, "number": r}) for r in recipients]
        by_number: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            by_number.setdefault(_number_key(entry.get("number", "")), []).append(entry)
        results = []
        for phone in recipients:
            queue = by_number.get(_number_key(phone))
            if queue:
                results.append(self._result(phone, queue.pop(0)))
            else:
                results.append(
                    RecipientResult(
                        phone, SendOutcome.TEMPORARY, reason="missing from provider response"
                    )
                )
        extra = sum(len(q) for q in by_number.values())
        if extra:
            logger.warning("%s: response named %d number(s) we did not send to", self.name, extra)
        return results

    def _result(self, phone: str, entry: Mapping[str, Any]) -> RecipientResult:
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
            logger.warning("%s: accepted recipient without a messageId", self.name)
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
