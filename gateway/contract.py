"""What one kind of gateway declares for the table in gateway.kinds, and what it is given.

A kind reads its own section of [gateways] through a ConfigReader (bot's TOML reader is one),
is built from its settings and the app's Wiring, names its secrets, its callback parsers and
how `smsops gateway test` explains a refused recipient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from gateway.base import (
    DeliveryReport,
    Gateway,
    InboundSink,
    InboundSms,
    RecipientResult,
    ReportSink,
)

if TYPE_CHECKING:  # reading config needs neither the HTTP client nor the modem driver
    import aiohttp

    from gateway.modem.pool import UsageLedger

C = TypeVar("C")


class ConfigReader(Protocol):
    """A reader of one TOML table that records each problem under its key (bot's Reader)."""

    def problem(self, name: str, message: str) -> None:
        """Record a problem for a key of this table."""
        ...

    def keys(self) -> list[str]:
        """The keys present in this table."""
        ...

    def text(self, name: str, default: Any = ..., *, nonempty: bool = ...) -> Any:
        """A string value."""
        ...

    def integer(self, name: str, default: Any = ..., *, minimum: int | None = ...) -> Any:
        """An integer value, optionally bounded below."""
        ...

    def number(self, name: str, default: Any = ..., *, minimum: float | None = ...) -> Any:
        """A number value, optionally bounded below."""
        ...

    def flag(self, name: str, default: Any = ...) -> Any:
        """A boolean value."""
        ...

    def choice(self, name: str, choices: tuple[str, ...], default: Any = ...) -> Any:
        """A string that must be one of `choices`."""
        ...

    def table(self, name: str, *, required: bool = ...) -> ConfigReader | None:
        """A sub-table reader, or None when absent."""
        ...

    def tables(self, name: str) -> Mapping[str, ConfigReader]:
        """A table of tables, as readers by key."""
        ...


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the app hands every builder besides the kind's own settings."""

    session: aiohttp.ClientSession
    on_report: ReportSink | None  # delivery reports a gateway learns of by itself
    on_inbound: InboundSink  # SMS a gateway receives by itself (the modem)
    ledger: UsageLedger  # per-SIM daily counts
    zone: tzinfo  # the organisation's time zone
    now: Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Callbacks(Generic[C]):
    """The provider's POSTs to /callbacks/<kind>/<secret>/<path>: one pure parser per path."""

    secret: Callable[[C], str]  # the path secret, from the kind's settings
    delivery: Callable[[Mapping[str, str]], DeliveryReport] | None = None
    inbound: Callable[[Mapping[str, str]], InboundSms] | None = None


def no_secrets(settings: object) -> Sequence[str]:
    """For kinds whose settings hold nothing to redact."""
    return ()


def plain_reason(result: RecipientResult) -> str:
    """The gateway's own words for a refused recipient."""
    return result.reason or result.status


@dataclass(frozen=True, slots=True)
class GatewayKind(Generic[C]):
    """One entry of the table of gateway kinds."""

    name: str  # as in [gateways.<name>], primary/fallback and the routing lanes
    read: Callable[[ConfigReader], C | None]  # from the [gateways] reader; None: not configured
    build: Callable[[C, Wiring], Gateway]
    secrets: Callable[[C], Sequence[str]] = no_secrets
    callbacks: Callbacks[C] | None = None
    diagnose: Callable[[RecipientResult], str] = plain_reason  # for `smsops gateway test`
    default: C | None = None  # the settings when the config has no [gateways] at all
    untestable: str | None = None  # why `smsops gateway test` does not test it, and what does
