"""Clients that talk to the running app the way Slack and Telegram do, next to their fakes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.clock import Clock
from tests.fakes.slack import (
    FakeSlack,
    SlackMessage,
    block_actions_body,
    signature_headers,
    slash_command_body,
)
from tests.fakes.telegram import FakeTelegram, SentMessage, callback_update, command_update
from tests.support.chat import (
    APPROVALS,
    COMMS,
    SIGNING_SECRET,
    SLACK_TOKEN,
    STAFF,
    TG_APPROVALS,
    TG_BOT_ID,
    TG_COMMS,
    TG_SECRET,
    TG_TOKEN,
    chat_config,
    running,
    wait_until,
)


class Slack:
    """The app and the fake Slack, with helpers that send what Slack sends."""

    def __init__(self, server: TestServer, fake: FakeSlack):
        self.server = server
        self.fake = fake
        self._n = 0

    async def post(
        self, body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
    ) -> tuple[int, str, float]:
        headers = signature_headers(secret, body, timestamp=timestamp)
        start = time.monotonic()
        async with (
            ClientSession() as session,
            session.post(
                self.server.make_url("/slack/events"), data=body.encode(), headers=headers
            ) as resp,
        ):
            return resp.status, await resp.text(), time.monotonic() - start

    def _url(self) -> tuple[str, str]:
        self._n += 1
        name = f"T0001/{self._n}/hook{self._n}"
        return name, self.fake.response_url(name)

    async def slash(self, text: str, *, user: str = STAFF.slack, channel: str = COMMS) -> str:
        """Send /sms TEXT; return the response_url name its answers go to."""
        name, url = self._url()
        body = slash_command_body(text=text, user_id=user, channel_id=channel, response_url=url)
        status, answer, elapsed = await self.post(body)
        assert status == 200 and answer == "" and elapsed < 3.0
        return name

    async def click(
        self, action: str, value: str, *, user: str, fixture: str = "block_actions_approve.json"
    ) -> str:
        name, url = self._url()
        body = block_actions_body(
            fixture, user_id=user, value=value, response_url=url, action_id=action
        )
        status, answer, elapsed = await self.post(body)
        assert status == 200 and elapsed < 3.0, answer
        return name

    def answers(self, name: str) -> list[dict[str, Any]]:
        return [c.payload for c in self.fake.of("response_url") if c.path.endswith(name)]

    async def answer(self, name: str) -> dict[str, Any]:
        """The one response_url post for a request."""
        found = await wait_until(lambda: self.answers(name), what=f"an answer on {name}")
        assert len(found) == 1, found
        return found[0]

    async def card(self) -> SlackMessage:
        found = await wait_until(lambda: self.fake.in_channel(APPROVALS), what="a card")
        return found[-1]

    async def preview(self) -> SlackMessage:
        found = await wait_until(
            lambda: self.fake.in_channel(COMMS, thread_ts=None), what="a preview"
        )
        return found[0]

    def thread(self, root: SlackMessage) -> list[SlackMessage]:
        return [m for m in self.fake.in_channel(root.channel) if m.thread_ts == root.ts]


@asynccontextmanager
async def slack_app(
    tmp_path: Path, *, clock: Clock | None = None, not_in: tuple[str, ...] = (), **overrides: Any
) -> AsyncIterator[Slack]:
    async with FakeSlack(token=SLACK_TOKEN, not_in_channels=not_in) as fake:
        config = chat_config(tmp_path, slack_url=fake.api_url, **overrides)
        async with running(config, tmp_path, clock=clock) as server:
            yield Slack(server, fake)


class Telegram:
    """The app and the fake Bot API, with helpers that post what Telegram posts."""

    def __init__(self, server: TestServer, fake: FakeTelegram):
        self.server = server
        self.fake = fake
        self.update_id = 731052100

    async def post(self, update: dict[str, Any], *, secret: str | None = TG_SECRET) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with (
            ClientSession() as session,
            session.post(
                self.server.make_url("/telegram/webhook"), json=update, headers=headers
            ) as resp,
        ):
            return resp.status

    def next_update_id(self) -> int:
        self.update_id += 1
        return self.update_id

    async def command(
        self, text: str, *, user: int = STAFF.telegram, chat: int = TG_COMMS, group: bool = True
    ) -> int:
        """Send a command message; return its message id."""
        update_id = self.next_update_id()
        update = command_update(text, user_id=user, chat_id=chat, update_id=update_id, group=group)
        assert await self.post(update) == 200
        return update_id

    async def click(self, data: str, message: SentMessage, *, user: int) -> dict[str, Any]:
        """Press an inline button; return the answerCallbackQuery parameters."""
        update = callback_update(
            data,
            user_id=user,
            message=self.fake.message_json(message),
            update_id=self.next_update_id(),
        )
        query_id = update["callback_query"]["id"]
        assert await self.post(update) == 200
        return next(
            c.params
            for c in self.fake.of("answerCallbackQuery")
            if c.params["callback_query_id"] == query_id
        )

    def replies_to(self, message_id: int) -> list[SentMessage]:
        return [m for m in self.fake.messages.values() if m.reply_to == message_id]

    async def card(self, index: int = -1) -> SentMessage:
        found = await wait_until(lambda: self.fake.in_chat(TG_APPROVALS), what="a card")
        return found[index]


@asynccontextmanager
async def telegram_app(
    tmp_path: Path, *, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[Telegram]:
    async with FakeTelegram(token=TG_TOKEN, bot_id=TG_BOT_ID) as fake:
        config = chat_config(tmp_path, telegram_url=fake.api_url, **overrides)
        async with running(config, tmp_path, clock=clock) as server:
            yield Telegram(server, fake)
