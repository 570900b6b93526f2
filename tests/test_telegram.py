"""Telegram through the real app: real Update JSON on the webhook, against a fake Bot API."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.auditing import Auditor
from bot.views import InboxView
from handlers.entry import main
from tests.fakes.telegram import (
    FakeTelegram,
    SentMessage,
    command_update,
    reply_update,
)
from tests.support.base import ShiftClock
from tests.support.chat import (
    APPROVER,
    APPROVER2,
    STAFF,
    STRANGER,
    TG_APPROVALS,
    TG_BOT_ID,
    TG_COMMS,
    TG_INBOX,
    TG_SECRET,
    TG_TOKEN,
    chat_config,
    core_of,
    wait_broadcast_settled,
    wait_sent,
    wait_until,
)
from tests.support.chat_clients import telegram_app

EXAM = "/sms@SmsOpsBot club:ict,club:chess “Exam moved to 9am — Hall B”"


async def test_secret_header_offline_start_and_one_lazy_get_me(tmp_path: Path) -> None:
    async with telegram_app(tmp_path) as tg:
        assert tg.fake.calls == []  # no getMe (or anything else) at start-up
        update = command_update(
            "/sms help", user_id=STAFF.telegram, chat_id=STAFF.telegram, update_id=1, group=False
        )
        assert await tg.post(update, secret=None) == 403
        assert await tg.post(update, secret=TG_SECRET + "x") == 403
        assert tg.fake.calls == []
        assert await tg.post(update) == 200
        assert (
            await tg.post(
                command_update(
                    "/sms groups",
                    user_id=STAFF.telegram,
                    chat_id=STAFF.telegram,
                    update_id=2,
                    group=False,
                )
            )
            == 200
        )
        assert len(tg.fake.of("getMe")) == 1
        help_text, groups = tg.fake.in_chat(STAFF.telegram)
        assert "/sms club:ict" in help_text.text and help_text.reply_to == 1
        assert "club:ict — 2 members" in groups.text


async def test_group_command_preview_card_and_other_bots_commands(tmp_path: Path) -> None:
    async with telegram_app(tmp_path) as tg:
        await tg.command("/sms@SomeOtherBot help")
        assert tg.fake.of("sendMessage") == []
        message_id = await tg.command(EXAM)
        preview = tg.fake.in_chat(TG_COMMS)[0]
        assert preview.reply_to == message_id
        assert "4 recipients (0 opted out skipped)" in preview.text
        assert "Unicode forced by: '—'" in preview.text
        assert preview.callback_data() == ["cx:1"]
        card = await tg.card()
        assert "Requested by Wanjiku (Comms)" in card.text
        assert card.callback_data() == ["ap:1", "rj:1"]
        for data in card.callback_data() + preview.callback_data():
            assert len(data.encode()) <= 64


async def test_self_approval_approval_progress_and_summary(tmp_path: Path) -> None:
    async with telegram_app(tmp_path) as tg:
        message_id = await tg.command(EXAM)
        preview = tg.fake.in_chat(TG_COMMS)[0]
        card = await tg.card()
        own = await tg.click("ap:1", card, user=STAFF.telegram)
        assert own["show_alert"] is True and "cannot approve your own" in own["text"]
        stranger = await tg.click("ap:1", card, user=STRANGER.telegram)
        assert stranger["show_alert"] is True and "not on the smsops staff list" in stranger["text"]
        assert card.edits == 0
        ok = await tg.click("ap:1", card, user=APPROVER.telegram)
        assert (
            ok["show_alert"] is False and ok["text"] == "broadcast 1 approved: 4 recipients queued"
        )
        await wait_until(lambda: card.reply_markup is None, what="the card without buttons")
        assert "Approved by Odhiambo (Dean) at" in card.text

        def summary() -> SentMessage | None:
            return next(
                (m for m in tg.replies_to(preview.message_id) if "finished" in m.text), None
            )

        done = await wait_until(summary, what="the summary")
        assert done is not None
        await wait_until(lambda: "Delivered 4 so far" in done.text, what="delivery counts")
        progress = tg.replies_to(preview.message_id)[0]
        assert progress.text.endswith("Sent 4 · failed 0 · queued 0")
        assert preview.reply_to == message_id


async def test_double_and_concurrent_clicks_have_one_outcome(tmp_path: Path) -> None:
    async with telegram_app(tmp_path) as tg:
        await tg.command(EXAM)
        card = await tg.card()
        answers = await asyncio.gather(
            tg.click("ap:1", card, user=APPROVER.telegram),
            tg.click("ap:1", card, user=APPROVER.telegram),
            tg.click("ap:1", card, user=APPROVER2.telegram),
        )
        texts = [a["text"] for a in answers]
        assert sum(t.startswith("broadcast 1 approved") for t in texts) == 1, texts
        assert sum("already approved" in t for t in texts) == 2, texts
        view = await core_of(tg.server).broadcasts.view(1)
        assert len(view.decisions) == 1 and view.recipients == 4
        await wait_broadcast_settled(core_of(tg.server), 1)


async def test_expired_and_rejected_and_cancelled(tmp_path: Path) -> None:
    clock = ShiftClock()
    async with telegram_app(tmp_path, clock=clock) as tg:
        await tg.command(EXAM)
        card = await tg.card()
        clock.offset = timedelta(minutes=61)
        late = await tg.click("ap:1", card, user=APPROVER.telegram)
        assert "has expired" in late["text"] and late["show_alert"] is True
        await core_of(tg.server).broadcasts.expire_due()
        await wait_until(
            lambda: card.reply_markup is None and "Expired" in card.text, what="the expired card"
        )
        clock.offset = timedelta(0)

        second = await tg.command(EXAM)
        card2 = await wait_until(lambda: tg.fake.in_chat(TG_APPROVALS)[1:], what="card 2")
        rejected = await tg.click("rj:2", card2[0], user=APPROVER.telegram)
        assert rejected["text"] == "broadcast 2 rejected"
        again = await tg.click("ap:2", card2[0], user=APPROVER2.telegram)
        assert "already rejected" in again["text"]
        preview2 = tg.replies_to(second)[0]
        await wait_until(
            lambda: any(
                "rejected by Odhiambo" in m.text for m in tg.replies_to(preview2.message_id)
            ),
            what="the rejection note",
        )

        third = await tg.command(EXAM)
        preview3 = tg.replies_to(third)[0]
        assert preview3.callback_data() == ["cx:3"]
        cancelled = await tg.click("cx:3", preview3, user=STAFF.telegram)
        assert cancelled["text"] == "broadcast 3 cancelled; 0 not sent"
        card3 = await tg.card(2)
        late_click = await tg.click("ap:3", card3, user=APPROVER.telegram)
        assert "already cancelled" in late_click["text"]


async def test_inbox_reply_button_and_force_reply(tmp_path: Path) -> None:
    async with telegram_app(tmp_path) as tg:
        await core_of(tg.server).notifier.inbox(
            InboxView(
                id=3,
                phone="+254712345001",
                name="Achieng Otieno",
                groups=("club:ict",),
                text="Will the meeting be online?",
                received_at="2026-11-20T07:10:00+00:00",
                broadcast_id=None,
                opted_out=False,
            )
        )
        post = (await wait_until(lambda: tg.fake.in_chat(TG_INBOX), what="inbox post"))[0]
        assert "SMS from Achieng Otieno (+254712345001)" in post.text
        assert post.callback_data() == ["rp:+254712345001"]
        answer = await tg.click("rp:+254712345001", post, user=STAFF.telegram)
        assert "/sms reply +254712345001" in answer["text"]
        prompt = tg.fake.in_chat(TG_INBOX)[1]
        assert prompt.text.startswith("Reply to (+254712345001)")
        force = tg.fake.of("sendMessage")[-1].params["reply_markup"]
        assert force["force_reply"] is True
        update = reply_update(
            "Yes, online. Link at 4pm.",
            user_id=STAFF.telegram,
            chat_id=TG_INBOX,
            to=tg.fake.message_json(prompt),
            update_id=tg.next_update_id(),
        )
        assert await tg.post(update) == 200
        sent = tg.fake.in_chat(TG_INBOX)[-1]
        assert sent.text.startswith("reply to +254712345001 queued (message ")
        core = core_of(tg.server)
        await wait_sent(core, sent.text)
        entries = await Auditor(core.db, clock=core.clock).entries(subject="+254712345001")
        assert {"sms.reply", "chat.reply", "chat.reply_hint"} <= {e["action"] for e in entries}


async def test_private_chat_errors_and_test_message(tmp_path: Path) -> None:
    async with telegram_app(tmp_path) as tg:
        me = STAFF.telegram
        await tg.command('/sms club:itc "Hello"', chat=me, group=False)
        await tg.command("/sms test", chat=me, group=False)
        await tg.command("/sms list", user=STRANGER.telegram, chat=STRANGER.telegram, group=False)
        typo, test = tg.fake.in_chat(me)
        assert typo.text == "no group club:itc — did you mean club:ict?"
        assert test.text.startswith("test SMS queued to your phone +254712000011")
        await wait_sent(core_of(tg.server), test.text)
        assert "not on the smsops staff list" in tg.fake.in_chat(STRANGER.telegram)[0].text


def test_set_webhook_cli_registers_url_and_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def scenario() -> dict[str, Any]:
        async with FakeTelegram(token=TG_TOKEN, bot_id=TG_BOT_ID) as fake:
            config = chat_config(tmp_path, telegram_url=fake.api_url)
            code = await asyncio.to_thread(
                main,
                [
                    "--config",
                    str(config.path),
                    "telegram",
                    "set-webhook",
                    "https://sms.example.ac.ke/telegram/webhook",
                ],
            )
            assert code == 0
            return fake.webhook

    webhook = asyncio.run(scenario())
    assert webhook["url"] == "https://sms.example.ac.ke/telegram/webhook"
    assert webhook["secret_token"] == TG_SECRET
    assert webhook["allowed_updates"] == ["message", "callback_query"]
    out = capsys.readouterr().out
    assert "webhook set" in out and TG_SECRET not in out
