"""Quiet hours: when promotional messages may go out, in the organisation's time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def in_quiet_hours(moment: datetime, *, start: time, end: time, zone: ZoneInfo) -> bool:
    """True when `moment` falls in [start, end) local time; the window may wrap midnight."""
    if start == end:
        return False
    local = moment.astimezone(zone).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(moment: datetime, *, start: time, end: time, zone: ZoneInfo) -> datetime:
    """`moment` itself if outside quiet hours, else the end of the quiet window that holds it."""
    if not in_quiet_hours(moment, start=start, end=end, zone=zone):
        return moment
    local = moment.astimezone(zone)
    candidate = datetime.combine(local.date(), end, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return candidate.astimezone(moment.tzinfo)
