"""Africa's Talking in config: [gateways.africastalking], its secrets, the gateway built from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.africastalking.sender import AfricasTalkingGateway, build_ssl_context
from gateway.contract import ConfigReader, Wiring

MIN_CALLBACK_SECRET = 12


@dataclass(frozen=True, slots=True)
class AfricasTalkingConfig:
    """Africa's Talking HTTP API credentials and options."""

    username: str
    api_key: str
    callback_secret: str
    sender_id: str | None = None
    base_url: str | None = None
    enqueue: bool = False
    ca_bundle: str | None = None
    insecure_skip_tls_verify: bool = False
    timeout_seconds: float = 30.0


def read_config(gateways: ConfigReader) -> AfricasTalkingConfig | None:
    """[gateways.africastalking], or None when the table is absent."""
    t = gateways.table("africastalking")
    if t is None:
        return None
    at = AfricasTalkingConfig(
        username=t.text("username"),
        api_key=t.text("api_key"),
        callback_secret=t.text("callback_secret"),
        sender_id=t.text("sender_id", None),
        base_url=t.text("base_url", None),
        enqueue=t.flag("enqueue", False),
        ca_bundle=t.text("ca_bundle", None),
        insecure_skip_tls_verify=t.flag("insecure_skip_tls_verify", False),
        timeout_seconds=t.number("timeout_seconds", 30.0, minimum=1),
    )
    if isinstance(at.callback_secret, str) and len(at.callback_secret) < MIN_CALLBACK_SECRET:
        t.problem("callback_secret", f"must be at least {MIN_CALLBACK_SECRET} characters")
    return at


def secrets(at: AfricasTalkingConfig) -> Sequence[str]:
    """The API key and the callback path secret."""
    return (at.api_key, at.callback_secret)


def callback_secret(at: AfricasTalkingConfig) -> str:
    """The secret part of the callback URLs."""
    return at.callback_secret


def build(at: AfricasTalkingConfig, wiring: Wiring) -> AfricasTalkingGateway:
    """The bulk SMS sender on the app's HTTP session."""
    return AfricasTalkingGateway(
        session=wiring.session,
        username=at.username,
        api_key=at.api_key,
        sender_id=at.sender_id,
        base_url=at.base_url,
        enqueue=at.enqueue,
        timeout_seconds=at.timeout_seconds,
        ssl=build_ssl_context(ca_bundle=at.ca_bundle, verify=not at.insecure_skip_tls_verify),
    )
