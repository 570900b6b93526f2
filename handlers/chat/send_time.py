"""Reading `--at` times: a date and time, a time of day, or today/tomorrow and a time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.chat.tokens import CommandSyntaxError, Token

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_TIMEISH = re.compile(r"^\d{1,2}(?:[:.h]\d{1,2}(?:am|pm)?|am|pm|h|hrs)$", re.IGNORECASE)  # 7am
_DAY_WORDS = ("today", "tomorrow")
_DASHES = ("--", "—", "–")


def takes_clock(value: str, nxt: Token | None) -> bool:
    """Whether an unquoted --at day (a date, today, tomorrow) goes on with the next word's time."""
    day = value.strip().lower()
    if not (_DATE.match(day) or day in _DAY_WORDS):
        return False
    if nxt is None or nxt.quoted or nxt.text.startswith(_DASHES):
        return False
    if _CLOCK.match(nxt.text):
        return True
    if day in _DAY_WORDS or _TIMEISH.match(nxt.text):
        raise CommandSyntaxError(
            f"--at {value} {nxt.text}: write the time as HH:MM on the 24-hour clock, "
            f'e.g. --at "{value} 07:00"'
        )
    return False


def parse_when(raw: str, *, zone: ZoneInfo, now: datetime) -> datetime:
    """`2026-12-01 07:00`, `07:00` (next time it comes), `today 07:00` or `tomorrow 07:00`."""
    text = raw.strip()
    day, _, rest = text.lower().partition(" ")
    if day not in _DAY_WORDS:
        day, rest = "", text.lower()
    clock = _CLOCK.match(rest.strip())
    try:
        if clock:
            local = now.astimezone(zone)
            moment = local.replace(
                hour=int(clock.group(1)), minute=int(clock.group(2)), second=0, microsecond=0
            )
            if day == "tomorrow" or (not day and moment <= local):
                moment += timedelta(days=1)
            return moment
        if day:
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandSyntaxError(
            f'--at {raw}: write the time like "2026-12-01 07:00" or "tomorrow 07:00" '
            f"({zone.key} time)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
