"""Four-eyes on every front (REST, CLI, console, Slack, Telegram), and strangers can do nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bot.server import GATEWAYS
from handlers.entry import main
from tests.conftest import attach_watch
from tests.support.base import ADMIN_TOKEN, API_TOKEN, DEAN_TOKEN
from tests.support.chat import APPROVALS, APPROVER, APPROVER2, STAFF, STRANGER, wait_until
from tests.support.security import Fronts, all_fronts, changed_tables, snapshot

OWN = "cannot approve your own"
NOT_APPROVER = "only approvers can approve"
STRANGE = "not on the smsops staff list"
EXAM = "club:ict,club:chess “Exam moved to 9am”"


async def rest(app: Fronts, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    """POST to the REST API with a bearer token."""
    async with (
        ClientSession() as session,
        session.post(
            app.server.make_url(path), json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def cli(capsys: pytest.CaptureFixture[str], app: Fronts, *args: str) -> tuple[int, str]:
    """Run `smsops` in a thread against the running app's database; return code and output."""
    config = str(app.core.config.path)
    code = await asyncio.to_thread(main, ["--config", config, *args])
    attach_watch()  # the CLI's logging set-up replaced the root handlers
    out = capsys.readouterr()
    return code, out.out + out.err


async def test_four_eyes_on_every_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with all_fronts(tmp_path) as app:
        compose = {"audience": "club:ict,club:chess", "message": "Exam at 9"}
        status, b1 = await rest(app, "/api/v1/broadcasts", DEAN_TOKEN, compose)
        assert status == 201 and b1["id"] == 1 and b1["state"] == "awaiting_approval"
        await app.telegram.command(f"/sms {EXAM}", user=APPROVER.telegram)  # broadcast 2
        tg_card = await app.telegram.card()
        await wait_until(lambda: len(app.slack.fake.in_channel(APPROVALS)) == 2, what="cards")
        assert "Requested by Odhiambo" in tg_card.text
        before = await snapshot(app.core)

        for token, expect in ((DEAN_TOKEN, OWN), (API_TOKEN, NOT_APPROVER)):
            status, body = await rest(app, "/api/v1/broadcasts/1/approve", token)
            assert status == 403 and expect in body["error"]["message"], body
        status, _ = await rest(app, "/api/v1/broadcasts/1/approve", "not-a-token-0123456789")
        assert status == 401
        status, body = await rest(app, "/api/v1/broadcasts/2/approve", API_TOKEN)
        assert status == 403 and NOT_APPROVER in body["error"]["message"]

        for person, bid, expect in (
            ("dean", "1", OWN),
            ("registrar", "1", NOT_APPROVER),
            ("odhiambo", "2", OWN),
            ("wanjiku", "2", NOT_APPROVER),
            ("nobody", "1", STRANGE),
        ):
            status, body = await app.console(person, f"approve {bid}")
            assert status == 200 and not body["ok"] and expect in body["text"], (person, body)
        status, _ = await app.console("bursar", "approve 1", token="wrong-console-token-012345")
        assert status == 401

        for user, button, expect in (
            (APPROVER, "2", OWN),
            (STAFF, "2", NOT_APPROVER),
            (STRANGER, "2", STRANGE),
            (STAFF, "1", NOT_APPROVER),
            (STRANGER, "1", STRANGE),
        ):
            name = await app.slack.click("approve", button, user=user.slack)
            answer = await app.slack.answer(name)
            assert expect in answer["text"], (user, button, answer)
            alert = await app.telegram.click(f"ap:{button}", tg_card, user=user.telegram)
            assert alert["show_alert"] is True and expect in alert["text"], (user, button, alert)

        after = await snapshot(app.core)
        assert changed_tables(before, after) == ["audit_log"]  # refusals are audited, that is all
        assert [(r[0], r[1]) for r in after["broadcasts"]] == [
            (1, "awaiting_approval"),
            (2, "awaiting_approval"),
        ]
        assert after["approvals"] == [] and after["outbox"] == []
        assert tg_card.edits == 0 and all(
            m.edits == 0 for m in app.slack.fake.in_channel(APPROVALS)
        )

        for person, bid, expect in (
            ("dean", "1", OWN),
            ("registrar", "1", NOT_APPROVER),
            ("odhiambo", "2", OWN),
        ):
            code, out = await cli(capsys, app, "broadcasts", "approve", bid, "--as", person)
            assert code == 1 and expect in out, (person, out)
        code, out = await cli(capsys, app, "broadcasts", "approve", "1", "--as", "nobody")
        assert code != 0 and "no person 'nobody' in config" in out
        final = await snapshot(app.core)
        assert final["approvals"] == [] and final["outbox"] == []
        assert [r[1] for r in final["broadcasts"]] == ["awaiting_approval"] * 2
        assert not app.server.app[GATEWAYS]["simulator"].sent

        # The same doors open for a rightful approver: the refusals above were about the person.
        status, body = await rest(app, "/api/v1/broadcasts/1/approve", ADMIN_TOKEN)
        assert status == 200 and body["outcome"] == "approved", body
        alert = await app.telegram.click("ap:2", tg_card, user=APPROVER2.telegram)
        assert alert["text"].startswith("broadcast 2 approved"), alert
        await wait_until(lambda: tg_card.reply_markup is None, what="the closed card")


STRANGER_COMMANDS = [
    "",
    "help",
    "list",
    "groups",
    "status",
    "status 1",
    "approve 1",
    "reject 1",
    "cancel 1",
    "resend 1",
    'reply +254712345001 "hello"',
    "test",
    'club:ict "Hello all"',
    "club:ict --kind promo --at 2030-01-06 07:30 Lab opens",
    "+254712345001 Direct message",
    "nonsense words",
]
STRANGER_CLICKS = [("approve", "1"), ("reject", "1"), ("cancel", "1"), ("reply", "+254712345001")]
TG_DATA = {"approve": "ap", "reject": "rj", "cancel": "cx", "reply": "rp"}


async def test_a_chat_user_not_in_config_can_do_nothing(tmp_path: Path) -> None:
    async with all_fronts(tmp_path) as app:
        await app.telegram.command(f"/sms {EXAM}", user=APPROVER.telegram)
        card = await app.telegram.card()
        before = await snapshot(app.core)
        for text in STRANGER_COMMANDS:
            answer = await app.slack.answer(await app.slack.slash(text, user=STRANGER.slack))
            assert STRANGE in answer["text"] and answer["response_type"] == "ephemeral", text
            await app.telegram.command(
                f"/sms {text}".strip(), user=STRANGER.telegram, chat=STRANGER.telegram, group=False
            )
        replies = app.telegram.fake.in_chat(STRANGER.telegram)
        assert len(replies) == len(STRANGER_COMMANDS)
        assert all(STRANGE in m.text for m in replies), [m.text for m in replies]
        for action, value in STRANGER_CLICKS:
            name = await app.slack.click(action, value, user=STRANGER.slack)
            assert STRANGE in (await app.slack.answer(name))["text"], action
            alert = await app.telegram.click(
                f"{TG_DATA[action]}:{value}", card, user=STRANGER.telegram
            )
            assert STRANGE in alert["text"], action

        after = await snapshot(app.core)
        assert changed_tables(before, after) == ["audit_log"]
        added = [r for r in after["audit_log"] if r not in before["audit_log"]]
        attempts = 2 * (len(STRANGER_COMMANDS) + len(STRANGER_CLICKS))
        assert len(added) == attempts
        assert all("chat.refused" in r for r in added), added[:3]
        assert {r[0] for r in after["broadcasts"]} == {1}
        assert not app.server.app[GATEWAYS]["simulator"].sent
