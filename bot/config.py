"""Load configuration from TOML with tomllib, expand ${ENV} secrets and validate it in one place."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from bot.config_types import (
    ROLES,
    AfricasTalkingConfig,
    Config,
    DispatchConfig,
    GatewaysConfig,
    ModemConfig,
    Person,
    RateLimit,
    ServerConfig,
    SimulatorConfig,
    SlackConfig,
    TelegramConfig,
)
from bot.configschema import Reader
from bot.keyword_defaults import build_keywords
from bot.phones import PhoneError, PhoneNormaliser

logger = logging.getLogger(__name__)

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
GATEWAY_KINDS = ("simulator", "africastalking", "modem")


class ConfigError(Exception):
    """Configuration is invalid; `problems` holds one line per problem, each naming its key."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _expand_env(value: Any, path: str, problems: list[str]) -> Any:
    """Replace ${VAR} and ${VAR:-default} in strings with environment values."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name not in os.environ:
                if default is not None:
                    return default
                problems.append(f"{path}: environment variable {name} is not set")
                return ""
            return os.environ[name]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else k, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    return value


def resolve_config_path(explicit: str | None) -> Path:
    """Pick the config file: --config, then SMSOPS_CONFIG, then ./smsops.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("SMSOPS_CONFIG")
    return Path(env) if env else Path("smsops.toml")


def load_config(path: Path) -> Config:
    """Read, expand and validate a config file; raise ConfigError listing every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a config file"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text ({exc.reason})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
    problems: list[str] = []
    reader = Reader(_expand_env(raw, "", problems), problems)
    config = _build(reader, path=path)
    reader.report_unknown()
    if problems or config is None:
        raise ConfigError(problems)
    return config


def _parse_time(value: Any) -> time:
    if not isinstance(value, str):
        raise ValueError('must be a time like "08:00"')
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f'must be a time like "08:00", got {value!r}') from None


def _zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None


def _build(r: Reader, *, path: Path) -> Config | None:
    org = r.table("organisation", required=True) or Reader({}, [], "organisation")
    organisation = org.text("name", "our institution")
    zone = org.convert("timezone", _zone, ZoneInfo("Africa/Nairobi"))
    region = org.text("default_region", "KE")
    if isinstance(region, str) and region not in phonenumbers.SUPPORTED_REGIONS:
        org.problem("default_region", f"unknown region code {region!r}")
    db = r.table("database")
    db_path = db.text("path", "smsops.db") if db else "smsops.db"
    people = _people(r, region=region)
    gateways = _gateways(r)
    dispatch = _dispatch(r)
    keywords = build_keywords(r.table("keywords"))
    api = r.table("api")
    tokens: dict[str, str] = {}
    console_token = None
    if api:
        console_token = api.text("console_token", None, nonempty=False) or None
        for tok_id, t in api.tables("tokens").items():
            token = t.text("token")
            person = t.text("person")
            if isinstance(person, str) and person not in people:
                t.problem("person", f"no such person {person!r} in [people]")
            if isinstance(token, str) and isinstance(person, str):
                if len(token) < 16:
                    t.problem("token", "must be at least 16 characters")
                tokens[token] = person
            del tok_id
    slack = _slack(r.table("slack"))
    telegram = _telegram(r.table("telegram"))
    server = _server(r.table("server"))
    if r.problems:
        return None
    return Config(
        path=path,
        organisation=organisation,
        timezone=zone or ZoneInfo("Africa/Nairobi"),
        default_region=region,
        database_path=(path.parent / db_path) if not Path(db_path).is_absolute() else Path(db_path),
        server=server,
        gateways=gateways,
        dispatch=dispatch,
        keywords=keywords,
        people=people,
        api_tokens=tokens,
        console_token=console_token,
        slack=slack,
        telegram=telegram,
    )


def _server(s: Reader | None) -> ServerConfig:
    if s is None:
        return ServerConfig()
    host = s.text("host", "127.0.0.1")
    port = s.integer("port", 8080, minimum=0)
    return ServerConfig(
        host=host,
        port=port,
        public_url=s.text("public_url", f"http://{host}:{port}"),
        max_body_bytes=s.integer("max_body_bytes", 1_048_576, minimum=1024),
    )


def _people(r: Reader, *, region: str) -> dict[str, Person]:
    people: dict[str, Person] = {}
    try:
        normaliser = PhoneNormaliser(region)
    except Exception:  # an unknown region is reported elsewhere
        normaliser = PhoneNormaliser("KE")
    for pid, p in r.tables("people").items():
        role = p.choice("role", ROLES)
        phone = p.text("phone")
        if isinstance(phone, str):
            try:
                phone = normaliser.normalise(phone)
            except PhoneError as exc:
                p.problem("phone", f"not a valid phone number: {phone!r} ({exc})")
        tg = p.integer("telegram_user_id", None)
        people[pid] = Person(
            id=pid,
            name=p.text("name", pid),
            role=role or "staff",
            phone=phone or "",
            slack_user_id=p.text("slack_user_id", None),
            telegram_user_id=tg,
        )
    return people


def _gateways(r: Reader) -> GatewaysConfig:
    g = r.table("gateways")
    if g is None:
        return GatewaysConfig()
    primary = g.text("primary", "simulator")
    fallback = g.text("fallback", None)
    sim_r = g.table("simulator")
    simulator = None
    if sim_r is not None:
        simulator = SimulatorConfig(
            delivery_delay_seconds=sim_r.number("delivery_delay_seconds", 1.0, minimum=0),
            delivery_status=sim_r.text("delivery_status", "Success"),
        )
    at = None
    at_r = g.table("africastalking")
    if at_r is not None:
        at = AfricasTalkingConfig(
            username=at_r.text("username"),
            api_key=at_r.text("api_key"),
            callback_secret=at_r.text("callback_secret"),
            sender_id=at_r.text("sender_id", None),
            base_url=at_r.text("base_url", None),
            enqueue=at_r.flag("enqueue", False),
            ca_bundle=at_r.text("ca_bundle", None),
            insecure_skip_tls_verify=at_r.flag("insecure_skip_tls_verify", False),
            timeout_seconds=at_r.number("timeout_seconds", 30.0, minimum=1),
        )
        if isinstance(at.callback_secret, str) and len(at.callback_secret) < 12:
            at_r.problem("callback_secret", "must be at least 12 characters")
    modems = []
    for mid, m in g.tables("modem").items():
        modems.append(
            ModemConfig(
                id=mid,
                port=m.text("port"),
                baudrate=m.integer("baudrate", 115200, minimum=1200),
                daily_limit=m.integer("daily_limit", 200, minimum=1),
                pace_seconds=m.number("pace_seconds", 3.0, minimum=0),
                pin=m.text("pin", None),
                smsc=m.text("smsc", None),
                storage=m.choice("storage", ("SM", "ME", "MT"), "SM"),
                count_segments=m.flag("count_segments", False),
            )
        )
        smsc = modems[-1].smsc
        if isinstance(smsc, str) and not re.fullmatch(r"\+?\d{3,20}", smsc):
            m.problem("smsc", f"must be a phone number like +254722500000, got {smsc!r}")
    limits = {}
    for name, lr in g.tables("rate_limits").items():
        limits[name] = RateLimit(
            messages_per_second=lr.number("messages_per_second", 50.0, minimum=0.01),
            requests_per_second=lr.number("requests_per_second", 10.0, minimum=0.01),
        )
    available = {"simulator": simulator is not None, "africastalking": at is not None}
    available["modem"] = bool(modems)
    for key, value in (("primary", primary), ("fallback", fallback)):
        if value is None:
            continue
        if value not in GATEWAY_KINDS:
            g.problem(key, f"must be one of {', '.join(GATEWAY_KINDS)}")
        elif not available[value]:
            g.problem(key, f"gateway {value!r} is not configured ([gateways.{value}] is missing)")
    return GatewaysConfig(
        primary=primary or "simulator",
        fallback=fallback,
        simulator=simulator,
        africastalking=at,
        modems=tuple(modems),
        rate_limits=limits,
    )


def _dispatch(r: Reader) -> DispatchConfig:
    d = r.table("dispatch")
    if d is None:
        return DispatchConfig()
    footers_r = d.table("footers")
    footers = {k: footers_r.text(k) for k in footers_r.keys()} if footers_r else {}
    greet_r = d.table("greetings")
    greetings = {k: greet_r.text(k) for k in greet_r.keys()} if greet_r else {}
    return DispatchConfig(
        approval_threshold=d.integer("approval_threshold", 10, minimum=0),
        second_approver_threshold=d.integer("second_approver_threshold", 0, minimum=0),
        approval_expiry_minutes=d.integer("approval_expiry_minutes", 1440, minimum=1),
        price_per_segment=d.number("price_per_segment", 0.80, minimum=0),
        currency=d.text("currency", "KES"),
        quiet_start=d.convert("quiet_hours_start", _parse_time, time(18, 0)) or time(18, 0),
        quiet_end=d.convert("quiet_hours_end", _parse_time, time(8, 0)) or time(8, 0),
        batch_size=d.integer("batch_size", 100, minimum=1),
        max_attempts=d.integer("max_attempts", 5, minimum=1),
        backoff_base_seconds=d.number("backoff_base_seconds", 2.0, minimum=0),
        backoff_max_seconds=d.number("backoff_max_seconds", 300.0, minimum=0),
        default_sender_id=d.text("default_sender_id", None),
        footers=footers,
        placeholder_fallback=d.text("placeholder_fallback", "", nonempty=False),
        greetings=greetings,
    )


def _slack(s: Reader | None) -> SlackConfig | None:
    if s is None:
        return None
    return SlackConfig(
        signing_secret=s.text("signing_secret"),
        bot_token=s.text("bot_token"),
        approvals_channel=s.text("approvals_channel"),
        inbox_channel=s.text("inbox_channel"),
        api_base_url=s.text("api_base_url", None),
    )


def _telegram(t: Reader | None) -> TelegramConfig | None:
    if t is None:
        return None
    return TelegramConfig(
        bot_token=t.text("bot_token"),
        webhook_secret=t.text("webhook_secret"),
        approvals_chat_id=t.integer("approvals_chat_id"),
        inbox_chat_id=t.integer("inbox_chat_id"),
        api_base_url=t.text("api_base_url", None),
    )
