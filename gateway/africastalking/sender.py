"""Africa's Talking bulk SMS gateway: the official SDK's wire format, spoken over aiohttp.

The form and the reading of answers are in gateway.africastalking.wire; this module sends.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from ssl import SSLContext
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from gateway.africastalking.wire import (
    AUTH_FAILED,
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    SEND_PATH,
    TABLE,
    Answer,
    Reading,
    environment_of,
    interpret,
    parse_retry_after,
    send_form,
)
from gateway.base import (
    Gateway,
    GatewayAmbiguousError,
    GatewayError,
    GatewayStats,
    OutgoingMessage,
    RecipientResult,
    SendOutcome,
)

__all__ = [
    "AUTH_FAILED",
    "PRODUCTION_BASE_URL",
    "SANDBOX_BASE_URL",
    "SEND_PATH",
    "TABLE",
    "AfricasTalkingGateway",
    "build_ssl_context",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)


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


class AfricasTalkingGateway(Gateway):
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
        self._reading = Reading(gateway=name, host=self._host, redact=self._redact)
        if self.environment == "production" and username == "sandbox":
            logger.warning("%s: username 'sandbox' used against the production host", name)
        elif self.environment == "sandbox" and username != "sandbox":
            logger.warning("%s: the sandbox host only accepts username 'sandbox'", name)

    @property
    def environment(self) -> str:
        """'sandbox', 'production' or 'custom', from the base URL's host."""
        return environment_of(urlsplit(self.base_url).hostname)

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
        form = send_form(
            message,
            recipients,
            username=self.username,
            sender_id=self.sender_id,
            enqueue=self.enqueue,
        )
        self._stats.requests += 1
        try:
            answer = await self._post(form)
            results = interpret(answer, recipients, how=self._reading)
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

    async def _post(self, form: dict[str, str]) -> Answer:
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
                return Answer(resp.status, resp.headers, body)
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
