"""Slack through the real app: signed slash commands and block_actions against a fake Web API."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp import ClientSession

from bot.auditing import Auditor
from bot.views import InboxView
from tests.fakes.slack import (
    SlackMessage,
    slash_command_body,
)
from tests.support.base import ShiftClock
from tests.support.chat import (
    APPROVALS,
    APPROVER,
    APPROVER2,
    COMMS,
    INBOX,
    STAFF,
    STRANGER,
    core_of,
    wait_broadcast_settled,
    wait_sent,
    wait_until,
)
from tests.support.chat_clients import slack_app

EXAM = "club:ict,club:chess “Exam moved to 9am — Hall B”"


async def test_signatures_are_checked_and_start_up_is_offline(tmp_path: Path) -> None:
    async with slack_app(tmp_path) as slack:
        assert slack.fake.calls == []  # nothing was called at start-up
        body = slash_command_body(text="help", response_url=slack.fake.response_url())
        assert (await slack.post(body, secret="wrong-secret"))[0] == 401
        stale = int(time.time()) - 600
        assert (await slack.post(body, timestamp=stale))[0] == 401
        async with (
            ClientSession() as session,
            session.post(slack.server.make_url("/slack/events"), data=body) as resp,
        ):
            assert resp.status == 401
        assert (await slack.post(body))[0] == 200
        await wait_until(lambda: slack.fake.of("response_url"), what="the help answer")
        assert len(slack.fake.calls) == 1


async def test_preview_card_self_approval_approval_progress_and_summary(tmp_path: Path) -> None:
    async with slack_app(tmp_path) as slack:
        core = core_of(slack.server)
        await core.book.set_consent("0712 345 003", opted_out=True, source="test", actor="t")
        await slack.slash(EXAM)
        preview = await slack.preview()
        assert "3 recipients (1 opted out skipped)" in preview.text
        assert "Encoding: UCS-2" in preview.text and "Unicode forced by: '—'" in preview.text
        assert "cost ≈ KES" in preview.text and "Sample: Exam moved to 9am" in preview.text
        assert [b["action_id"] for b in preview.buttons()] == ["cancel"]
        card = await slack.card()
        assert "Requested by Wanjiku (Comms)" in card.text and "3 recipients" in card.text
        assert [(b["action_id"], b["value"]) for b in card.buttons()] == [
            ("approve", "1"),
            ("reject", "1"),
        ]

        own = await slack.answer(await slack.click("approve", "1", user=STAFF.slack))
        assert own["response_type"] == "ephemeral"
        assert "cannot approve your own broadcast" in own["text"]
        assert card.edits == 0

        ok = await slack.answer(await slack.click("approve", "1", user=APPROVER.slack))
        assert ok["text"] == "broadcast 1 approved: 3 recipients queued"
        await wait_until(lambda: not card.buttons(), what="the card without buttons")
        assert "Approved by Odhiambo (Dean) at" in card.text

        def summary() -> SlackMessage | None:
            return next((m for m in slack.thread(preview) if "finished" in m.text), None)

        done = await wait_until(summary, what="the final summary")
        assert done is not None
        await wait_until(lambda: "Delivered 3 so far" in done.text, what="delivery counts")
        progress = slack.thread(preview)[0]
        assert progress.text.endswith("Sent 3 · failed 0 · queued 0")
        assert "Broadcast 1 finished: 3 of 3 sent, 0 failed" in done.text


async def test_double_and_concurrent_clicks_have_one_outcome(tmp_path: Path) -> None:
    async with slack_app(tmp_path) as slack:
        await slack.slash(EXAM)
        await slack.card()
        names = await asyncio.gather(
            slack.click("approve", "1", user=APPROVER.slack),
            slack.click("approve", "1", user=APPROVER.slack),
            slack.click("approve", "1", user=APPROVER2.slack),
        )
        texts = sorted([(await slack.answer(n))["text"] for n in names])
        approved = [t for t in texts if t.startswith("broadcast 1 approved")]
        assert len(approved) == 1, texts
        others = [t for t in texts if t not in approved]
        assert all("already approved" in t for t in others), texts
        core = core_of(slack.server)
        view = await core.broadcasts.view(1)
        assert view.recipients == 4 and len(view.decisions) == 1
        await wait_broadcast_settled(core, 1)
        entries = await Auditor(core.db, clock=core.clock).entries(subject="b1")
        assert [e["action"] for e in entries].count("broadcast.approve") == 1


async def test_two_approvers_when_over_the_second_threshold(tmp_path: Path) -> None:
    async with slack_app(tmp_path, second=2) as slack:
        await slack.slash(EXAM)
        card = await slack.card()
        assert "Waiting for two approvers" in card.text
        first = await slack.answer(await slack.click("approve", "1", user=APPROVER.slack))
        assert first["text"] == "approved; 1 more approver needed"
        await wait_until(lambda: "Approved by Odhiambo" in card.text, what="partial approval")
        assert len(card.buttons()) == 2
        again = await slack.answer(await slack.click("approve", "1", user=APPROVER.slack))
        assert "you already approved broadcast 1" in again["text"]
        own = await slack.answer(await slack.click("approve", "1", user=STAFF.slack))
        assert "your own" in own["text"]
        last = await slack.answer(await slack.click("approve", "1", user=APPROVER2.slack))
        assert last["text"].startswith("broadcast 1 approved")
        await wait_until(
            lambda: "Approved by Kamau" in card.text and not card.buttons(), what="the closed card"
        )


async def test_clicks_after_expiry_and_after_cancel(tmp_path: Path) -> None:
    clock = ShiftClock()
    async with slack_app(tmp_path, clock=clock) as slack:
        await slack.slash(EXAM)
        card = await slack.card()
        clock.offset = clock.offset.__class__(minutes=61)
        late = await slack.answer(await slack.click("approve", "1", user=APPROVER.slack))
        assert "broadcast 1 has expired; compose it again" in late["text"]
        await core_of(slack.server).broadcasts.expire_due()
        await wait_until(lambda: "Expired" in card.text and not card.buttons(), what="expiry")
        preview = await slack.preview()
        await wait_until(
            lambda: any("expired" in m.text for m in slack.thread(preview)), what="the expiry note"
        )

        await slack.slash(EXAM)
        await wait_until(lambda: len(slack.fake.in_channel(APPROVALS)) == 2, what="card 2")
        cancelled = await slack.answer(await slack.click("cancel", "2", user=STAFF.slack))
        assert cancelled["text"] == "broadcast 2 cancelled; 0 not sent"
        after = await slack.answer(await slack.click("approve", "2", user=APPROVER.slack))
        assert "broadcast 2 is already cancelled" in after["text"]
        card2 = slack.fake.in_channel(APPROVALS)[-1]
        await wait_until(
            lambda: "Cancelled" in card2.text and not card2.buttons(), what="the cancelled card"
        )


async def test_small_broadcast_is_confirmed_by_the_requester(tmp_path: Path) -> None:
    async with slack_app(tmp_path) as slack:
        await slack.slash("club:ict Lab closed today")
        preview = await slack.preview()
        assert [b["action_id"] for b in preview.buttons()] == ["approve", "cancel"]
        sent = await slack.answer(await slack.click("approve", "1", user=STAFF.slack))
        assert sent["text"] == "broadcast 1 approved: 2 recipients queued"
        assert slack.fake.in_channel(APPROVALS) == []
        await wait_until(
            lambda: any("finished" in m.text for m in slack.thread(preview)), what="the summary"
        )


async def test_errors_refusals_and_read_commands(tmp_path: Path) -> None:
    async with slack_app(tmp_path) as slack:
        stranger = await slack.answer(await slack.slash("list", user=STRANGER.slack))
        assert "not on the smsops staff list" in stranger["text"]
        assert "U0STRANGER" in stranger["text"]
        typo = await slack.answer(await slack.slash('club:itc "Hello"'))
        assert typo["text"] == "no group club:itc — did you mean club:ict?"
        assert typo["response_type"] == "ephemeral"
        helped = await slack.answer(await slack.slash("help"))
        assert "/sms status 12" in helped["text"]
        groups = await slack.answer(await slack.slash("groups"))
        assert "club:ict — 2 members" in groups["text"]
        test = await slack.answer(await slack.slash("test"))
        assert "test SMS queued to your phone +254712000011" in test["text"]
        await wait_sent(core_of(slack.server), test["text"])
        unknown = await slack.answer(await slack.slash("resend 1"))
        assert unknown["text"] == "no broadcast 1"
        await slack.slash("club:ict --kind promo --at 2030-01-06 07:30 &lt;Lab&gt; opens")
        preview = await slack.preview()
        assert "Scheduled: 2030-01-06T07:30:00+03:00" in preview.text
        assert "STOP to opt out" in preview.text and "(promo)" in preview.text
        assert "&lt;Lab&gt;" in preview.blocks[0]["text"]["text"]  # escaped for mrkdwn
        status = await slack.answer(await slack.slash("status"))
        assert status["text"].startswith("Broadcast 1 (promo) to club:ict by Wanjiku (Comms)")
        listing = await slack.answer(await slack.slash("list"))
        assert listing["text"].startswith("#1 draft — club:ict — 2 recipients")


async def test_inbox_post_and_reply_button(tmp_path: Path) -> None:
    async with slack_app(tmp_path) as slack:
        core = core_of(slack.server)
        await core.notifier.inbox(
            InboxView(
                id=7,
                phone="+254712345001",
                name="Achieng Otieno",
                groups=("club:ict",),
                text="Will the meeting be online?",
                received_at="2026-11-20T07:10:00+00:00",
                broadcast_id=1,
                opted_out=False,
            )
        )
        post = (await wait_until(lambda: slack.fake.in_channel(INBOX), what="inbox post"))[0]
        assert "SMS from Achieng Otieno (+254712345001)" in post.text
        assert "Answers broadcast 1" in post.text and "club:ict" in post.text
        assert [(b["action_id"], b["value"]) for b in post.buttons()] == [
            ("reply", "+254712345001")
        ]
        hint = await slack.answer(
            await slack.click(
                "reply", "+254712345001", user=STAFF.slack, fixture="block_actions_reply.json"
            )
        )
        assert hint["text"] == 'To answer, send: /sms reply +254712345001 "your message"'
        assert hint["response_type"] == "ephemeral"
        sent = await slack.answer(await slack.slash('reply +254712345001 "Yes, online at 4"'))
        assert sent["text"].startswith("reply to +254712345001 queued (message ")
        await wait_sent(core, sent["text"])


async def test_preview_falls_back_when_the_bot_is_not_in_the_channel(tmp_path: Path) -> None:
    async with slack_app(tmp_path, not_in=(COMMS,)) as slack:
        name = await slack.slash("club:ict Lab closed today")
        answer = await slack.answer(name)
        assert answer["response_type"] == "in_channel" and "2 recipients" in answer["text"]
        await slack.click("approve", "1", user=STAFF.slack)
        await wait_until(
            lambda: any("finished" in m.text for m in slack.fake.in_channel(STAFF.slack)),
            what="progress by DM",
        )
