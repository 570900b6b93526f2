"""Shared rig of the security suites: every front on one app, and a whole-database snapshot."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.core import Core
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.support import db
from tests.support.chat import SLACK_TOKEN, TG_BOT_ID, TG_TOKEN, chat_config, core_of, running
from tests.support.chat_clients import Slack, Telegram
from tests.support.db import Snapshot

logger = logging.getLogger(__name__)

CONSOLE_TOKEN = "console-token-security-0123456789"


async def snapshot(core: Core) -> Snapshot:
    """Every row of every table, so a test can assert that nothing at all changed."""
    return await db.snapshot(core.db)


def changed_tables(before: Snapshot, after: Snapshot) -> list[str]:
    """The tables whose rows differ between two snapshots."""
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


@dataclass
class Fronts:
    """The app with Slack, Telegram and the console all on, next to the two chat fakes."""

    server: TestServer
    slack: Slack
    telegram: Telegram

    @property
    def core(self) -> Core:
        """The running app's core."""
        return core_of(self.server)

    async def post(self, path: str, *, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """POST raw bytes to the app; return the status and body text."""
        async with (
            ClientSession() as session,
            session.post(self.server.make_url(path), data=data, headers=headers) as resp,
        ):
            return resp.status, await resp.text()

    async def console(self, person: str, command: str, *, token: str = CONSOLE_TOKEN) -> Any:
        """Run a console command; return (status, JSON body)."""
        async with (
            ClientSession() as session,
            session.post(
                self.server.make_url("/console/command"),
                json={"person": person, "command": command},
                headers={"Authorization": f"Bearer {token}"},
            ) as resp,
        ):
            return resp.status, await resp.json(content_type=None)

    def chat_calls(self) -> int:
        """How many calls both chat fakes have received."""
        return len(self.slack.fake.calls) + len(self.telegram.fake.calls)


@asynccontextmanager
async def all_fronts(tmp_path: Path, **overrides: Any) -> AsyncIterator[Fronts]:
    """The real app with every chat front on, the small contact list imported."""
    async with (
        FakeSlack(token=SLACK_TOKEN) as slack_fake,
        FakeTelegram(token=TG_TOKEN, bot_id=TG_BOT_ID) as tg_fake,
    ):
        config = chat_config(
            tmp_path,
            slack_url=slack_fake.api_url,
            telegram_url=tg_fake.api_url,
            console_token=CONSOLE_TOKEN,
            **overrides,
        )
        async with running(config, tmp_path) as server:
            yield Fronts(server, Slack(server, slack_fake), Telegram(server, tg_fake))
