"""The typed, frozen configuration objects; bot.config.loader builds them from TOML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from gateway.africastalking.config import AfricasTalkingConfig
from gateway.contract import GatewayKind
from gateway.kinds import AFRICASTALKING, MODEM, SIMULATOR, default_settings, secrets_of
from gateway.modem.config import ModemsConfig
from gateway.simulator.config import SimulatorConfig
from storage.db import DatabaseSettings

ROLES = ("staff", "approver", "admin")
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Person:
    """A staff member allowed to use the bot, identified across platforms."""

    id: str
    name: str
    role: str
    phone: str
    ids: Mapping[str, str] = field(default_factory=dict, hash=False)  # platform -> user id

    @property
    def can_approve(self) -> bool:
        """Approvers and admins may approve broadcasts."""
        return self.role in ("approver", "admin")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Where the HTTP server listens."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = 1_048_576
    # A server's instance lease lapses this long after its last renewal (renewed at a third of it)
    lease_expiry_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Messages per second and requests per second for one gateway."""

    messages_per_second: float = 50.0
    requests_per_second: float = 10.0


@dataclass(frozen=True, slots=True)
class GatewaysConfig:
    """Which gateways exist and how the core routes through them."""

    primary: str = "simulator"
    fallback: str | None = None
    # kind name -> its settings (gateway.kinds), for the configured kinds only
    configured: Mapping[str, Any] = field(default_factory=default_settings)
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)

    def settings(self, kind: GatewayKind[C]) -> C | None:
        """A kind's settings, or None when it is not configured."""
        return cast("C | None", self.configured.get(kind.name))

    @property
    def simulator(self) -> SimulatorConfig | None:
        """[gateways.simulator], if configured."""
        return self.settings(SIMULATOR)

    @property
    def africastalking(self) -> AfricasTalkingConfig | None:
        """[gateways.africastalking], if configured."""
        return self.settings(AFRICASTALKING)

    @property
    def modems(self) -> ModemsConfig:
        """Every [gateways.modem.<id>]."""
        return self.settings(MODEM) or ()


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    """Rules of the dispatch core: approval, pricing, quiet hours, retries."""

    approval_threshold: int = 10
    second_approver_threshold: int = 0
    approval_expiry_minutes: int = 1440
    price_per_segment: float = 0.80
    currency: str = "KES"
    quiet_start: time = time(18, 0)
    quiet_end: time = time(8, 0)
    batch_size: int = 100
    max_attempts: int = 5
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    default_sender_id: str | None = None
    footers: Mapping[str, str] = field(default_factory=dict)
    placeholder_fallback: str = ""
    greetings: Mapping[str, str] = field(default_factory=dict)
    direct_daily_limit: int = 500  # one-to-one messages a person may queue per local day


@dataclass(frozen=True, slots=True)
class KeywordsConfig:
    """Inbound keywords per language (action -> words) and reply texts per language."""

    languages: Mapping[str, Mapping[str, tuple[str, ...]]]
    replies: Mapping[str, Mapping[str, str]]
    first_word_optout: bool = False
    max_auto_replies_per_hour: int = 5
    help_contact: str = ""  # {contact} in the HELP reply; the organisation name when empty


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """Slack app credentials and channels."""

    signing_secret: str
    bot_token: str
    approvals_channel: str
    inbox_channel: str
    api_base_url: str | None = None


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """Telegram bot credentials and chats."""

    bot_token: str
    webhook_secret: str
    approvals_chat_id: int
    inbox_chat_id: int
    api_base_url: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated configuration."""

    path: Path
    organisation: str
    timezone: ZoneInfo
    default_region: str
    database_path: Path
    database_cache_mb: int
    server: ServerConfig
    gateways: GatewaysConfig
    dispatch: DispatchConfig
    keywords: KeywordsConfig
    people: Mapping[str, Person]
    api_tokens: Mapping[str, str]  # token -> person id
    console_token: str | None
    slack: SlackConfig | None
    telegram: TelegramConfig | None

    def person_for(self, platform: str, user_id: str) -> Person | None:
        """The person whose user id on `platform` (e.g. "slack") is `user_id`, if any."""
        return next((p for p in self.people.values() if p.ids.get(platform) == user_id), None)

    @property
    def database(self) -> DatabaseSettings:
        """What storage.open_database needs: the file and its page cache."""
        return DatabaseSettings(self.database_path, self.database_cache_mb)

    def secrets(self) -> list[str]:
        """Every secret value, so log filters can redact them."""
        values: list[str] = [*self.api_tokens]
        if self.console_token:
            values.append(self.console_token)
        values += secrets_of(self.gateways.configured)
        if self.slack:
            values += [self.slack.signing_secret, self.slack.bot_token]
        if self.telegram:
            values += [self.telegram.bot_token, self.telegram.webhook_secret]
        return [v for v in values if len(v) >= 6]
