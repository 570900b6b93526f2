"""Long and heavily escaped texts on Slack and Telegram: within each limit, no entity cut, and
the card's title and last lines kept; posted through the real app to the fakes, which refuse
what the platforms refuse (a section over 3,000 characters, a text over 4,096 UTF-16 units)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.views import InboxView
from handlers.chat.buttons import ELLIPSIS, clip_to, fit_lines, utf16_units
from tests.fakes.slack import SECTION_LIMIT
from tests.fakes.telegram import TEXT_LIMIT, utf16_length
from tests.support.chat import (
    APPROVALS,
    COMMS,
    INBOX,
    TG_APPROVALS,
    TG_COMMS,
    TG_INBOX,
    core_of,
    wait_until,
)
from tests.support.chat_clients import slack_app, telegram_app


@dataclass(frozen=True)
class Case:
    """A text made of one repeated unit; `whole` when a cut inside the unit would break it."""

    name: str
    unit: str
    times: int
    whole: bool = False

    @property
    def text(self) -> str:
        return self.unit * self.times


SWAHILI = "Habari za asubuhi! Mkutano wa wazazi & walimu utafanyika kesho saa tatu. "
CASES = [
    Case("escapes", "&<>", 1700),
    Case("escaped-words", "R&D <ok> ", 600),
    Case("emoji", "😀", 3000, whole=True),
    Case("family", "👨\u200d👩\u200d👧", 700, whole=True),
    Case("flags", "🇰🇪", 1500, whole=True),
    Case("skin-tone", "👋🏾", 1500, whole=True),
    Case("swahili", SWAHILI, 80),
]
LAST = "(incomplete: some parts never arrived)"
LONGEST = 1590  # characters: the longest message the config allows is 1600
ENTITY = re.compile(r"&(?:amp|lt|gt);")


def inbox_view(n: int, case: Case) -> InboxView:
    return InboxView(
        id=n,
        phone=f"+2547123450{n:02d}",
        name="Achieng Otieno",
        groups=("club:ict",),
        text=case.text,
        received_at="2026-11-20T07:10:00+00:00",
        broadcast_id=None,
        opted_out=True,
        incomplete=True,
    )


def check_quote(lines: list[str], case: Case) -> None:
    """The quoted SMS is a clipped prefix of the text, cut between visible characters."""
    (quote,) = [line for line in lines if line.startswith("“")]
    assert quote.endswith(ELLIPSIS), quote[-20:]
    inner = quote[1:-1]
    assert inner and case.text.startswith(inner)
    if case.whole:
        assert len(inner) % len(case.unit) == 0, case.name


def check_slack_section(section: str) -> list[str]:
    """Within the limit, every & starts a whole entity, no raw < or >; the unescaped lines."""
    assert len(section) <= SECTION_LIMIT
    assert "&" not in ENTITY.sub("", section) and "<" not in section and ">" not in section
    return html.unescape(section).split("\n")


async def test_slack_inbox_posts_fit_without_cutting_an_entity(tmp_path: Path) -> None:
    async with slack_app(tmp_path) as slack:
        for n, case in enumerate(CASES, start=1):
            await core_of(slack.server).notifier.inbox(inbox_view(n, case))
            await wait_until(lambda: len(slack.fake.in_channel(INBOX)) >= n, what=case.name)  # noqa: B023
            posts = slack.fake.in_channel(INBOX)[n - 1 :]
            lines = check_slack_section(posts[0].blocks[0]["text"]["text"])
            assert lines[0] == f"*SMS from Achieng Otieno (+2547123450{n:02d})*", case.name
            assert lines[-1] == LAST and "This number has opted out (STOP)" in lines, case.name
            check_quote(lines, case)
            assert [b["value"] for b in posts[0].buttons()] == [f"+2547123450{n:02d}"]


async def test_telegram_inbox_posts_fit_in_utf16_units(tmp_path: Path) -> None:
    async with telegram_app(tmp_path) as tg:
        for n, case in enumerate(CASES, start=1):
            await core_of(tg.server).notifier.inbox(inbox_view(n, case))
            await wait_until(lambda: len(tg.fake.in_chat(TG_INBOX)) >= n, what=case.name)  # noqa: B023
            posts = tg.fake.in_chat(TG_INBOX)[n - 1 :]
            assert utf16_length(posts[0].text) <= TEXT_LIMIT, case.name
            lines = posts[0].text.split("\n")
            assert lines[0] == f"SMS from Achieng Otieno (+2547123450{n:02d})", case.name
            assert lines[-1] == LAST and "This number has opted out (STOP)" in lines, case.name
            check_quote(lines, case)
            assert posts[0].callback_data() == [f"rp:+2547123450{n:02d}"]


def slack_escaped(text: str) -> str:
    """Slash-command text as Slack sends it: &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[6]], ids=lambda c: c.name)
async def test_slack_preview_and_card_keep_their_last_lines(tmp_path: Path, case: Case) -> None:
    async with slack_app(tmp_path) as slack:
        await slack.slash(slack_escaped(f"club:ict,club:chess “{case.text[:LONGEST]}”"))
        preview = await slack.preview()
        lines = check_slack_section(preview.blocks[0]["text"]["text"])
        assert lines[0].startswith("*Broadcast 1 (alert) by Wanjiku (Comms)")
        assert lines[-1].startswith("Sent to the approvers: needs an approver other than you")
        assert [b["value"] for b in preview.buttons()] == ["1"]
        (sample,) = [line for line in lines if line.startswith("Sample: ")]
        assert case.text.startswith(sample.removeprefix("Sample: ").removesuffix(ELLIPSIS))
        card = await slack.card()
        lines = check_slack_section(card.blocks[0]["text"]["text"])
        assert lines[0] == "*Broadcast 1 — approval needed*"
        assert lines[-1].startswith("Waiting for an approver; expires ")
        assert [(b["action_id"], b["value"]) for b in card.buttons()] == [
            ("approve", "1"),
            ("reject", "1"),
        ]
        assert slack.fake.in_channel(APPROVALS) and slack.fake.in_channel(COMMS)


@pytest.mark.parametrize("case", [CASES[2], CASES[3], CASES[4]], ids=lambda c: c.name)
async def test_telegram_preview_and_card_keep_their_last_lines(tmp_path: Path, case: Case) -> None:
    async with telegram_app(tmp_path) as tg:
        await tg.command(f"/sms@SmsOpsBot club:ict,club:chess “{case.text[:LONGEST]}”")
        preview = (await wait_until(lambda: tg.fake.in_chat(TG_COMMS), what="a preview"))[0]
        assert utf16_length(preview.text) <= TEXT_LIMIT
        lines = preview.text.split("\n")
        assert lines[0].startswith("Broadcast 1 (alert) by Wanjiku (Comms)")
        assert lines[-1].startswith("Sent to the approvers: needs an approver other than you")
        assert preview.callback_data() == ["cx:1"]
        assert f"Sample: {case.text[:LONGEST]}" in lines  # fits whole: nothing is clipped
        card = (await wait_until(lambda: tg.fake.in_chat(TG_APPROVALS), what="a card"))[0]
        assert utf16_length(card.text) <= TEXT_LIMIT
        lines = card.text.split("\n")
        assert lines[0] == "Broadcast 1 — approval needed"
        assert lines[-1].startswith("Waiting for an approver; expires ")
        assert card.callback_data() == ["ap:1", "rj:1"]


def test_fit_lines_clips_the_longest_and_drops_middle_lines() -> None:
    assert fit_lines(("a", "b"), 3) == ("a", "b")
    title, body, last = fit_lines(("Title", "x" * 500, "last line"), 100)
    assert (title, last) == ("Title", "last line") and body == "x" * 83 + ELLIPSIS
    many = fit_lines(("Title", *(f"line {i}" for i in range(100)), "last"), 60)
    assert many[0] == "Title" and many[-1] == "last" and ELLIPSIS in many
    assert len("\n".join(many)) <= 60
    assert clip_to("ab😀", 3, cost=utf16_units) == "ab" + ELLIPSIS
    assert clip_to("a👨\u200d👩\u200d👧b", 6, cost=utf16_units) == "a" + ELLIPSIS
    assert clip_to("🇰🇪🇰🇪", 6, cost=utf16_units) == "🇰🇪" + ELLIPSIS
