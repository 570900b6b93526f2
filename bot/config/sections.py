"""Readers for each section of the config file, used by bot.config.loader.load_config."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.schema import Reader
from bot.config.types import (
    ROLES,
    DispatchConfig,
    GatewaysConfig,
    Person,
    RateLimit,
    ServerConfig,
    SlackConfig,
    TelegramConfig,
)
from bot.contacts.phones import PhoneError, PhoneNormaliser
from bot.errors import UserError
from bot.validate import check_sender_id
from gateway.kinds import KINDS, NAMES
from storage.states import BroadcastKind

BROADCAST_KINDS = tuple(BroadcastKind)  # the kinds a [dispatch.footers] key may name
DAY_PARTS = ("morning", "afternoon", "evening")
_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")
# A person's user id on each chat platform: the [people.<id>] key and how it is read.
PERSON_IDS: dict[str, tuple[str, Callable[[Reader, str, Any], Any]]] = {
    "slack": ("slack_user_id", Reader.text),
    "telegram": ("telegram_user_id", Reader.integer),
}


def parse_time(value: Any) -> time:
    """A "HH:MM" clock time, or a ValueError saying what is expected."""
    if not isinstance(value, str):
        raise ValueError('must be a time like "08:00"')
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f'must be a time like "08:00", got {value!r}') from None


def time_zone(value: Any) -> ZoneInfo:
    """An IANA time zone, or a ValueError naming the unknown one."""
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None


def read_server(s: Reader | None) -> ServerConfig:
    """[server]."""
    if s is None:
        return ServerConfig()
    host = s.text("host", "127.0.0.1")
    port = s.integer("port", 8080, minimum=0)
    return ServerConfig(
        host=host,
        port=port,
        public_url=s.text("public_url", f"http://{host}:{port}"),
        max_body_bytes=s.integer("max_body_bytes", 1_048_576, minimum=1024),
        lease_expiry_seconds=s.number("lease_expiry_seconds", 30.0, minimum=0.3),
    )


def read_people(r: Reader, *, region: str) -> dict[str, Person]:
    """[people.<id>], phones normalised in the organisation's region."""
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
        people[pid] = Person(
            id=pid,
            name=p.text("name", pid),
            role=role or "staff",
            phone=phone or "",
            ids=_person_ids(p),
        )
    return people


def _person_ids(p: Reader) -> dict[str, str]:
    """The person's user id on each chat platform that names one (PERSON_IDS)."""
    ids: dict[str, str] = {}
    for platform, (key, read) in PERSON_IDS.items():
        value = read(p, key, None)
        if value is not None:
            ids[platform] = str(value)
    return ids


def _rate_limits(g: Reader) -> dict[str, RateLimit]:
    outer = g.table("rate_limits")
    limits: dict[str, RateLimit] = {}
    if outer is None:
        return limits
    for name in outer.keys():
        if name not in NAMES:
            outer.raw(name)
            outer.problem(name, f"unknown gateway; use one of {', '.join(NAMES)}")
            continue
        lr = outer.table(name)
        if lr is None:
            continue
        limits[name] = RateLimit(
            messages_per_second=lr.number("messages_per_second", 50.0, minimum=0.01),
            requests_per_second=lr.number("requests_per_second", 10.0, minimum=0.01),
        )
    return limits


def read_gateways(r: Reader) -> GatewaysConfig:
    """[gateways]: primary, fallback, rate_limits and each kind's own tables (gateway.kinds)."""
    g = r.table("gateways")
    if g is None:
        return GatewaysConfig()
    primary = g.text("primary", "simulator")
    fallback = g.text("fallback", None)
    configured: dict[str, Any] = {}
    for kind in KINDS:
        settings = kind.read(g)
        if settings is not None:
            configured[kind.name] = settings
    limits = _rate_limits(g)
    for key, value in (("primary", primary), ("fallback", fallback)):
        if value is None:
            continue
        if value not in NAMES:
            g.problem(key, f"must be one of {', '.join(NAMES)}")
        elif value not in configured:
            g.problem(key, f"gateway {value!r} is not configured ([gateways.{value}] is missing)")
    return GatewaysConfig(
        primary=primary or "simulator",
        fallback=fallback,
        configured=configured,
        rate_limits=limits,
    )


def _month_day(key: str) -> bool:
    """Whether `key` is a calendar day written "MM-DD" (02-29 included)."""
    match = _MONTH_DAY.fullmatch(key)
    if not match:
        return False
    try:
        date(2024, int(match.group(1)), int(match.group(2)))  # a leap year
    except ValueError:
        return False
    return True


def _texts_by_key(table: Reader | None, allowed: Any, hint: str) -> dict[str, str]:
    """A table of strings whose keys must pass `allowed`; any other key is one problem."""
    out: dict[str, str] = {}
    if table is None:
        return out
    for key in table.keys():
        if not allowed(key):
            table.raw(key)
            table.problem(key, f"unknown key; use {hint}")
            continue
        value = table.text(key)
        if isinstance(value, str):
            out[key] = value
    return out


def read_dispatch(r: Reader) -> DispatchConfig:
    """[dispatch] with its footers and greetings tables."""
    d = r.table("dispatch")
    if d is None:
        return DispatchConfig()
    footers = _texts_by_key(
        d.table("footers"), lambda k: k in BROADCAST_KINDS, " or ".join(BROADCAST_KINDS)
    )
    greetings = _texts_by_key(
        d.table("greetings"),
        lambda k: k in DAY_PARTS or _month_day(k),
        'morning, afternoon, evening or a day as "MM-DD" (e.g. "12-25")',
    )
    return DispatchConfig(
        approval_threshold=d.integer("approval_threshold", 10, minimum=0),
        second_approver_threshold=d.integer("second_approver_threshold", 0, minimum=0),
        approval_expiry_minutes=d.integer("approval_expiry_minutes", 1440, minimum=1),
        price_per_segment=d.number("price_per_segment", 0.80, minimum=0),
        currency=d.text("currency", "KES"),
        quiet_start=d.convert("quiet_hours_start", parse_time, time(18, 0)) or time(18, 0),
        quiet_end=d.convert("quiet_hours_end", parse_time, time(8, 0)) or time(8, 0),
        batch_size=d.integer("batch_size", 100, minimum=1),
        max_attempts=d.integer("max_attempts", 5, minimum=1),
        backoff_base_seconds=d.number("backoff_base_seconds", 2.0, minimum=0),
        backoff_max_seconds=d.number("backoff_max_seconds", 300.0, minimum=0),
        default_sender_id=d.convert("default_sender_id", _sender_id, None),
        footers=footers,
        placeholder_fallback=d.text("placeholder_fallback", "", nonempty=False),
        greetings=greetings,
        direct_daily_limit=d.integer("direct_daily_limit", 500, minimum=1),
    )


def _sender_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    try:
        check_sender_id(value)
    except UserError as exc:
        raise ValueError(str(exc).removeprefix("sender_id ")) from None
    return value


def read_slack(s: Reader | None) -> SlackConfig | None:
    """[slack], or None when the section is absent."""
    if s is None:
        return None
    return SlackConfig(
        signing_secret=s.text("signing_secret"),
        bot_token=s.text("bot_token"),
        approvals_channel=s.text("approvals_channel"),
        inbox_channel=s.text("inbox_channel"),
        api_base_url=s.text("api_base_url", None),
    )


def read_telegram(t: Reader | None) -> TelegramConfig | None:
    """[telegram], or None when the section is absent."""
    if t is None:
        return None
    return TelegramConfig(
        bot_token=t.text("bot_token"),
        webhook_secret=t.text("webhook_secret"),
        approvals_chat_id=t.integer("approvals_chat_id"),
        inbox_chat_id=t.integer("inbox_chat_id"),
        api_base_url=t.text("api_base_url", None),
    )
