"""The platform-independent command layer: parsing, and every command through the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer

from bot.auditing import Auditor
from handlers.chat.parse import Command, parse_command, parse_when
from handlers.chat.tokens import CommandSyntaxError, tokenize
from tests.fakes.africastalking import FakeAfricasTalking
from tests.support.base import AT_KEY
from tests.support.chat import (
    ConsoleClient,
    chat_config,
    core_of,
    running,
    wait_broadcast_settled,
    wait_until,
)

TOKEN = "console-token-0123456789abcdef"
NAIROBI = ZoneInfo("Africa/Nairobi")

# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'club:ict "Meeting at 5pm, Hall B"',
        "club:ict “Meeting at 5pm, Hall B”",
        "club:ict „Meeting at 5pm, Hall B“",
        "club:ict «Meeting at 5pm, Hall B»",
        "club:ict ‘Meeting at 5pm, Hall B’",
        "club:ict 'Meeting at 5pm, Hall B'",
        "club:ict ”Meeting at 5pm, Hall B”",
        "club:ict Meeting at 5pm, Hall B",
        "/sms club:ict “Meeting at 5pm, Hall B”",
        "/sms@SmsOpsBot club:ict “Meeting at 5pm, Hall B”",
    ],
)
def test_quotes_are_optional_and_curly_quotes_work(text: str) -> None:
    assert parse_command(text) == Command(
        "send", audience="club:ict", message="Meeting at 5pm, Hall B"
    )


def test_options_audiences_and_apostrophes() -> None:
    cmd = parse_command(
        "dept:ict -club:chess “Exams start Monday” --at 2026-12-01 07:00 --kind PROMO "
        "--sender UNIVERSITY"
    )
    assert cmd == Command(
        "send",
        audience="dept:ict -club:chess",
        message="Exams start Monday",
        at="2026-12-01 07:00",
        sender="UNIVERSITY",
        kind="promo",
    )
    # Phones turn -- into an em dash; --opt="value" is one token.
    assert parse_command("club:ict —kind promo Hi").kind == "promo"
    assert parse_command('club:ict --at="2026-12-01 07:00" Hi').at == "2026-12-01 07:00"
    assert parse_command("club:ict Don't be late").message == "Don't be late"
    assert parse_command("club:ict Bring your “ID card” please").message == (
        "Bring your “ID card” please"
    )
    assert parse_command("0712 345 001, club:ict Hi").audience == "0712 345 001, club:ict"
    assert parse_command("all 3 buses leave at 5").message == "3 buses leave at 5"
    assert parse_command("club:ict “Line one\nLine two”").message == "Line one\nLine two"
    assert [t.text for t in tokenize("a “b c” d")] == ["a", "b c", "d"]


def test_verbs() -> None:
    assert parse_command("") == Command("help")
    assert parse_command("status") == Command("status")
    assert parse_command("STATUS #12") == Command("status", broadcast_id=12)
    assert parse_command("cancel 12") == Command("cancel", broadcast_id=12)
    assert parse_command("resend b7") == Command("resend", broadcast_id=7)
    assert parse_command("reply +254 712 345 001 “Thanks, noted”") == Command(
        "reply", number="+254 712 345 001", message="Thanks, noted"
    )
    assert parse_command("reply 0712345001 Thanks, noted").message == "Thanks, noted"
    assert parse_command("test") == Command("test")
    assert parse_command("test hello me").message == "hello me"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("club:ict “Meeting", "a quote is not closed: end the message with ”"),
        ("club:ict", "add the message after the audience"),
        ('club:ict "Hi" there', "text after the closing quote ('there')"),
        ('club:ict "Hi" --foo 1', "unknown option --foo — use --at, --sender or --kind"),
        ('club:ict "Hi" --kindd promo', "did you mean --kind?"),
        ('club:ict "Hi" --kind spam', "--kind spam: use --kind promo or --kind alert"),
        ('club:ict "Hi" --sender "THIS IS TOO LONG"', "--sender THIS IS TOO LONG: use 1-11"),
        ('club:ict "Hi" --at', "--at needs a value"),
        ("stauts 12", "unknown command stauts — did you mean /sms status?"),
        ('ict "Hi"', "'ict' is not an audience: name a group like club:ict"),
        ("“Hi everyone”", "start with who to send to"),
        ("approve", "say which broadcast: /sms approve 12"),
        ("cancel twelve", "'twelve' is not a broadcast number"),
        ("reply Thanks", "say who to reply to"),
        ("reply 0712345001", "add the text after the number"),
    ],
)
def test_errors_say_how_to_fix_the_command(text: str, error: str) -> None:
    with pytest.raises(CommandSyntaxError) as info:
        parse_command(text)
    assert error in str(info.value)
    assert "\n" not in str(info.value)


def test_parse_when_reads_the_organisation_zone() -> None:
    now = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 10:00 in Nairobi
    at = parse_when("2026-12-01 07:00", zone=NAIROBI, now=now)
    assert at == datetime(2026, 12, 1, 7, 0, tzinfo=NAIROBI)
    assert parse_when("2026-12-01T07:00+00:00", zone=NAIROBI, now=now).utcoffset() is not None
    assert parse_when("11:30", zone=NAIROBI, now=now) == datetime(
        2026, 11, 20, 11, 30, tzinfo=NAIROBI
    )
    assert parse_when("09:00", zone=NAIROBI, now=now).day == 21
    assert parse_when("tomorrow 09:00", zone=NAIROBI, now=now).day == 21
    with pytest.raises(CommandSyntaxError, match=r'write the time like "2026-12-01 07:00"'):
        parse_when("next friday", zone=NAIROBI, now=now)


# --- the command layer through the running app ------------------------------------------------


class Console:
    """The console as (person, command), over ConsoleClient."""

    def __init__(self, server: TestServer):
        self.server = server
        self.client = ConsoleClient(server, TOKEN)

    @property
    def core(self) -> Any:
        return core_of(self.server)

    async def __call__(self, person: str, command: str) -> dict[str, Any]:
        return await self.client(command, person=person)


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Console]:
    async with running(chat_config(tmp_path, console_token=TOKEN), tmp_path) as server:
        yield Console(server)


async def test_preview_shows_everything(run: Console) -> None:
    await run.core.book.set_consent("0712 345 003", opted_out=True, source="test", actor="t")
    reply = await run(
        "registrar",
        "club:ict,club:chess “Hi {first_name} — exam at 9” "
        "--kind promo --at 2030-01-06 07:30 --sender UNIVERSITY",
    )
    assert reply["ok"], reply
    text = reply["text"]
    assert "Broadcast 1 (promo) by Registrar: awaiting approval" in text
    assert "To: club:ict + club:chess — 3 recipients (1 opted out skipped)" in text
    assert "Encoding: UCS-2" in text and "cost ≈ KES" in text
    assert "Unicode forced by: '—'" in text
    assert "Sample: Hi Achieng — exam at 9\nSTOP to opt out" in text
    assert "Scheduled: 2030-01-06T07:30:00+03:00" in text
    assert "Sent to the approvers: needs an approver other than you" in text


async def test_errors_are_one_friendly_line(run: Console) -> None:
    reply = await run("registrar", 'club:itc "Hello"')
    assert reply == {
        "ok": False,
        "text": "no group club:itc — did you mean club:ict?",
        "broadcast": None,
    }
    assert not (await run("registrar", 'club:ict "Hi {nme}"'))["ok"]
    past = await run("registrar", 'club:ict "Hi" --at "2020-01-01 07:00"')
    assert "is in the past" in past["text"]
    assert (await run("registrar", "status 42"))["text"] == "no broadcast 42"
    bad = await run("registrar", 'reply 0712 "Hi"')
    assert bad["text"].endswith("write the number like +254712345678")


async def test_roles_four_eyes_and_cancel_rights(run: Console) -> None:
    await run("registrar", 'club:ict,club:chess "Exam at 9"')
    staff = await run("wanjiku", "approve 1")
    assert staff["text"] == "only approvers can approve broadcasts"
    assert (await run("wanjiku", "cancel 1"))["text"] == (
        "only the requester or an approver can cancel a broadcast"
    )
    own = await run("registrar", "approve 1")
    assert own["text"] == "you cannot approve your own broadcast; another approver must"
    assert (await run("dean", "reject 1"))["text"] == "broadcast 1 rejected"
    assert (await run("bursar", "approve 1"))["text"] == "broadcast 1 is already rejected"
    status = await run("registrar", "status")
    assert status["text"].startswith("Broadcast 1 (alert) to club:ict,club:chess by Registrar")
    assert "Rejected by Dean at" in status["text"]
    listing = await run("dean", "list")
    assert listing["text"].startswith("#1 rejected — club:ict,club:chess — 4 recipients")


async def test_reply_refuses_opted_out_numbers_and_audits(run: Console) -> None:
    await run.core.book.set_consent("0712 345 001", opted_out=True, source="sms", actor="t")
    refused = await run("wanjiku", 'reply 0712345001 "Hello"')
    assert refused["text"] == "+254712345001 has opted out (STOP); they must text START first"
    await run("nobody", "help")
    await run("wanjiku", "stauts")
    entries = await Auditor(run.core.db, clock=run.core.clock).entries()
    by_action = {e["action"]: e for e in entries}
    assert by_action["chat.refused"]["actor"] == "console:nobody"
    assert by_action["chat.invalid"]["details"]["ok"] is False
    assert by_action["chat.reply"]["details"]["platform"] == "console"


async def test_resend_re_queues_unknown_rows_on_purpose(tmp_path: Path) -> None:
    async with FakeAfricasTalking(api_key=AT_KEY) as fake:
        fake.faults.malformed_json(count=1)
        config = chat_config(
            tmp_path, console_token=TOKEN, primary="africastalking", at_url=fake.base_url
        )
        async with running(config, tmp_path) as server:
            run = Console(server)
            await run("registrar", "club:ict Lab closed")
            assert (await run("registrar", "approve 1"))["ok"]

            async def unknown() -> bool:
                view = await run.core.broadcasts.view(1)
                return bool(view.counts.unknown == 2 and view.state == "done")

            await wait_until(unknown, what="two unknown rows")
            assert len(fake.requests) == 1
            assert (
                "unknown 2 (resend on purpose: /sms resend 1)"
                in (await run("registrar", "status 1"))["text"]
            )
            again = await run("registrar", "resend 1")
            assert again["text"] == "broadcast 1: 2 unknown message(s) queued again, on purpose"
            await wait_broadcast_settled(run.core, 1)
            view = await run.core.broadcasts.view(1)
            assert view.counts.sent == 2 and len(fake.requests) == 2
            nothing = await run("registrar", "resend 1")
            assert nothing["text"] == "broadcast 1 has no unknown messages; nothing was resent"
