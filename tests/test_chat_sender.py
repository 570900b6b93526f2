"""The preview and the approval card say which sender id the broadcast goes out under."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.broadcasts.text import format_preview
from bot.config.loader import load_config
from handlers.chat.cards import approval_card
from tests.support.base import write_config
from tests.support.chat import PEOPLE, TG_COMMS, ConsoleClient, core_of, running
from tests.support.chat_clients import telegram_app

TOKEN = "console-token-sender-0123456789"
EXAM = '/sms club:ict,club:chess "Exam moved to 9am" --sender UNIVERSITY'


async def test_telegram_preview_and_approval_card_show_the_asked_sender(tmp_path: Path) -> None:
    async with telegram_app(tmp_path) as tg:
        await tg.command(EXAM)
        preview = tg.fake.in_chat(TG_COMMS)[0]
        assert "From: UNIVERSITY (sender id)" in preview.text.splitlines()
        card = await tg.card()
        assert "From: UNIVERSITY (sender id)" in card.text.splitlines()
        view = await core_of(tg.server).broadcasts.view(1)
        assert view.sender_id == "UNIVERSITY" and view.as_json()["sender_id"] == "UNIVERSITY"


@pytest.fixture
async def with_default(tmp_path: Path) -> AsyncIterator[ConsoleClient]:
    """The app with `default_sender_id = "SCHOOL"` in [dispatch]."""
    path = write_config(tmp_path, extra=PEOPLE + f'\n[api]\nconsole_token = "{TOKEN}"\n')
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("[dispatch]\n", '[dispatch]\ndefault_sender_id = "SCHOOL"\n'),
        encoding="utf-8",
    )
    async with running(load_config(path), tmp_path) as server:
        yield ConsoleClient(server, TOKEN)


@pytest.mark.parametrize(
    ("options", "sender"),
    [("", "SCHOOL"), ("--sender UNIVERSITY", "UNIVERSITY"), ("—sender=ADMISSIONS", "ADMISSIONS")],
)
async def test_preview_and_card_show_the_default_unless_one_is_asked(
    with_default: ConsoleClient, options: str, sender: str
) -> None:
    reply = await with_default(f'club:ict,club:chess "Exam moved to 9am" {options}')
    assert reply["ok"], reply
    line = f"From: {sender} (sender id)"
    assert line in reply["text"].splitlines()
    core = core_of(with_default.server)
    view = await core.broadcasts.view(reply["broadcast"])
    assert line in approval_card(view, core.config).lines
    assert line in format_preview(view).splitlines()  # what `smsops broadcasts create` prints


async def test_no_sender_line_when_neither_is_set(tmp_path: Path) -> None:
    path = write_config(tmp_path, extra=PEOPLE + f'\n[api]\nconsole_token = "{TOKEN}"\n')
    async with running(load_config(path), tmp_path) as server:
        reply = await ConsoleClient(server, TOKEN)('club:ict "Lab closed"')
        assert reply["ok"] and "From:" not in reply["text"]
