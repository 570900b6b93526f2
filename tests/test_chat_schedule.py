"""`--at` in chat: the common ways people write a time, read with the app's clock and zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers.chat.parse import parse_command, parse_when
from handlers.chat.tokens import CommandSyntaxError
from tests.support.base import frozen
from tests.support.chat import ConsoleClient, chat_config, core_of, running

TOKEN = "console-token-schedule-0123456789"
NAIROBI = ZoneInfo("Africa/Nairobi")
NOW = "2026-11-20T07:00:00+00:00"  # a Friday, 10:00 in Nairobi


def nairobi(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NAIROBI)


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[ConsoleClient]:
    config = chat_config(tmp_path, console_token=TOKEN)
    async with running(config, tmp_path, clock=frozen(NOW)) as server:
        yield ConsoleClient(server, TOKEN)


ACCEPTED = [
    ('club:ict "Exam" --at 07:00', nairobi(21, 7)),  # the next 07:00 is tomorrow's
    ('club:ict "Exam" --at 11:30', nairobi(20, 11, 30)),  # later today
    ('club:ict "Exam" --at tomorrow 07:00', nairobi(21, 7)),
    ('club:ict "Exam" --at Tomorrow 7:05', nairobi(21, 7, 5)),
    ('club:ict "Exam" --at "tomorrow 07:00"', nairobi(21, 7)),
    ('club:ict "Exam" --at=tomorrow 07:00', nairobi(21, 7)),
    ("club:ict “Exam” —at tomorrow 07:00", nairobi(21, 7)),  # a phone's em dash and quotes
    ('club:ict "Exam" --at today 23:00', nairobi(20, 23)),
    ('club:ict "Exam" --at "2026-12-01 07:00"', nairobi(1, 7, month=12)),
    ('club:ict "Exam" --at 2026-12-01 07:00', nairobi(1, 7, month=12)),
    ('club:ict "Exam" --at 2026-12-01T07:00', nairobi(1, 7, month=12)),
    ('club:ict "Exam" --at 2026-12-01T04:00Z', nairobi(1, 7, month=12)),  # an explicit offset
    ("club:ict Exam --at tomorrow 07:00", nairobi(21, 7)),  # no quotes at all
    ("club:ict --at tomorrow 07:00 Exam", nairobi(21, 7)),  # the option first
    ('club:ict "Exam" --at tomorrow 07:00 --kind alert', nairobi(21, 7)),
]


@pytest.mark.parametrize(("command", "expected"), ACCEPTED)
async def test_common_ways_to_write_the_time_are_understood(
    run: ConsoleClient, command: str, expected: datetime
) -> None:
    reply = await run(command)
    assert reply["ok"], reply
    view = await core_of(run.server).broadcasts.view(reply["broadcast"])
    assert view.message == "Exam"
    assert view.send_at is not None
    assert datetime.fromisoformat(view.send_at) == expected


REFUSED = [
    (
        'club:ict "Exam" --at tomorrow 7am',
        "--at tomorrow 7am: write the time as HH:MM on the 24-hour clock, "
        'e.g. --at "tomorrow 07:00"',
    ),
    (
        'club:ict "Exam" --at 2026-12-01 7.30',
        "--at 2026-12-01 7.30: write the time as HH:MM on the 24-hour clock",
    ),
    (
        'club:ict "Exam" --at next friday',
        "--at next friday: put a time of more than one word in quotes, "
        'e.g. --at "tomorrow 07:00" or --at "2026-12-01 07:00"',
    ),
    (
        "club:ict Exam --at next friday at noon",
        "--at next friday: put a time of more than one word in quotes",
    ),
    (
        'club:ict "Exam" --at tomorrow',
        '--at tomorrow: write the time like "2026-12-01 07:00" or "tomorrow 07:00" '
        "(Africa/Nairobi time)",
    ),
    ('club:ict "Exam" --at tomorrow 25:00', "--at tomorrow 25:00: write the time like"),
    ('club:ict "Exam" --at today 08:00', "the send time 2026-11-20T08:00:00+03:00 is in the past"),
]


@pytest.mark.parametrize(("command", "error"), REFUSED)
async def test_a_time_that_cannot_be_read_is_one_friendly_line(
    run: ConsoleClient, command: str, error: str
) -> None:
    reply = await run(command)
    assert not reply["ok"] and reply["broadcast"] is None
    assert "\n" not in reply["text"]
    assert reply["text"].startswith(error), reply["text"]


def test_at_takes_the_words_of_the_time_and_leaves_the_message() -> None:
    cmd = parse_command("club:ict Exam moved to Hall B --at tomorrow 07:00")
    assert (cmd.message, cmd.at) == ("Exam moved to Hall B", "tomorrow 07:00")
    cmd = parse_command("club:ict --at 2026-12-01 07:00 Exam at 9")
    assert (cmd.message, cmd.at) == ("Exam at 9", "2026-12-01 07:00")
    # A time of day in the message itself is not taken by a bare date before it.
    cmd = parse_command('club:ict "Exam 07:00" --at 2026-12-01')
    assert (cmd.message, cmd.at) == ("Exam 07:00", "2026-12-01")


@pytest.mark.parametrize(
    ("raw", "zone", "expected"),
    [
        ("tomorrow 07:00", "Africa/Nairobi", "2026-11-21T07:00:00+03:00"),
        ("tomorrow 07:00", "America/New_York", "2026-11-21T07:00:00-05:00"),
        ("07:00", "America/New_York", "2026-11-20T07:00:00-05:00"),  # 02:00 there: later today
        ("01:00", "America/New_York", "2026-11-21T01:00:00-05:00"),  # gone there: tomorrow
        ("today 23:00", "Asia/Tokyo", "2026-11-20T23:00:00+09:00"),  # 16:00 there
        ("2026-12-01 07:00", "Asia/Tokyo", "2026-12-01T07:00:00+09:00"),
    ],
)
def test_times_are_read_in_the_configured_zone(raw: str, zone: str, expected: str) -> None:
    now = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    moment = parse_when(raw, zone=ZoneInfo(zone), now=now)
    assert moment.isoformat() == expected


def test_parse_when_refuses_a_lone_day_word() -> None:
    now = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    for raw in ("today", "tomorrow", "tomorrow noon"):
        with pytest.raises(CommandSyntaxError, match="write the time like"):
            parse_when(raw, zone=NAIROBI, now=now)
