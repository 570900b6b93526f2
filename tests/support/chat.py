"""Shared set-up for the chat tests: people with chat ids, config sections, a running app."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from bot.clock import Clock
from bot.config.types import Config
from bot.core import Core
from bot.server import CORE, build_app
from handlers.routes import add_routes
from tests.support.base import make_config, seed_contacts

logger = logging.getLogger(__name__)

T = TypeVar("T")

SIGNING_SECRET = "8f7c1e0d9b2a43f6a5c4e3d2b1a09f8e"
SLACK_TOKEN = "xoxb-1111-2222-chattesttoken"
TG_TOKEN = "7000000001:AAHchatTestToken-abcdefghijklmnop"
TG_BOT_ID = 7000000001
TG_SECRET = "tg-webhook-secret-0123456789"
APPROVALS, INBOX, COMMS = "C0APPROVALS", "C0INBOX", "C0COMMS"
TG_APPROVALS, TG_INBOX, TG_COMMS = -1001234567890, -1001234567891, -1001234567800


@dataclass(frozen=True)
class Who:
    """A person's ids on each platform."""

    id: str
    slack: str
    telegram: int


# Staff with chat identities (the base test config's people have none).
STAFF = Who("wanjiku", "U0STAFF01", 5001)
APPROVER = Who("odhiambo", "U0APPR01", 5002)
APPROVER2 = Who("kamau", "U0APPR02", 5003)
STRANGER = Who("", "U0STRANGER", 6666)

PEOPLE = """
[people.wanjiku]
name = "Wanjiku (Comms)"
role = "staff"
phone = "0712000011"
slack_user_id = "U0STAFF01"
telegram_user_id = 5001

[people.odhiambo]
name = "Odhiambo (Dean)"
role = "approver"
phone = "0712000012"
slack_user_id = "U0APPR01"
telegram_user_id = 5002

[people.kamau]
name = "Kamau (Registrar)"
role = "approver"
phone = "0712000013"
slack_user_id = "U0APPR02"
telegram_user_id = 5003
"""

SLACK = """
[slack]
signing_secret = "{secret}"
bot_token = "{token}"
approvals_channel = "{approvals}"
inbox_channel = "{inbox}"
api_base_url = "{url}"
"""

TELEGRAM = """
[telegram]
bot_token = "{token}"
webhook_secret = "{secret}"
approvals_chat_id = {approvals}
inbox_chat_id = {inbox}
api_base_url = "{url}"
"""


def chat_config(
    tmp_path: Path,
    *,
    slack_url: str | None = None,
    telegram_url: str | None = None,
    console_token: str | None = None,
    **overrides: Any,
) -> Config:
    """The standard test config plus chat people and, if given, Slack/Telegram sections."""
    extra = PEOPLE
    if slack_url:
        extra += SLACK.format(
            secret=SIGNING_SECRET,
            token=SLACK_TOKEN,
            approvals=APPROVALS,
            inbox=INBOX,
            url=slack_url,
        )
    if telegram_url:
        extra += TELEGRAM.format(
            token=TG_TOKEN,
            secret=TG_SECRET,
            approvals=TG_APPROVALS,
            inbox=TG_INBOX,
            url=telegram_url,
        )
    if console_token:
        extra += f'\n[api]\nconsole_token = "{console_token}"\n'
    return make_config(tmp_path, extra=extra, **overrides)


@asynccontextmanager
async def running(
    config: Config, tmp_path: Path, *, clock: Clock | None = None, seed: bool = True
) -> AsyncIterator[TestServer]:
    """The real app on 127.0.0.1 with the small contact list imported."""
    server = TestServer(build_app(config, mount=add_routes, clock=clock), host="127.0.0.1")
    await server.start_server()
    try:
        if seed:
            await seed_contacts(server.app[CORE], tmp_path)
        yield server
    finally:
        await server.close()


def core_of(server: TestServer) -> Core:
    """The running app's core."""
    return server.app[CORE]


@overload
async def wait_until(
    probe: Callable[[], Awaitable[T]], *, within: float = ..., what: str = ...
) -> T: ...


@overload
async def wait_until(probe: Callable[[], T], *, within: float = ..., what: str = ...) -> T: ...


async def wait_until(
    probe: Callable[[], Any], *, within: float = 10.0, what: str = "condition"
) -> Any:
    """Poll `probe` until it returns something truthy; fail after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = probe()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def wait_sent(core: Core, reply_text: str) -> None:
    """Wait until the one-to-one message named in a reply ("… (message 12)") has left."""
    row_id = int(reply_text.rsplit("(message ", 1)[1].rstrip(")"))

    async def left() -> bool:
        (row,) = await core.messaging.statuses([row_id])
        return str(row["state"]) not in ("queued", "sending")

    await wait_until(left, what=f"message {row_id} to be sent")


async def wait_broadcast_settled(core: Core, broadcast_id: int) -> None:
    """Wait until nothing of a broadcast is queued or in flight."""

    async def settled() -> bool:
        view = await core.broadcasts.view(broadcast_id)
        return bool(view.counts.queued + view.counts.sending == 0)

    await wait_until(settled, what=f"broadcast {broadcast_id} to settle")


class ConsoleClient:
    """POST /console/command on a running test server, as one person by default."""

    def __init__(self, server: TestServer, token: str, *, person: str = "registrar"):
        self.server = server
        self.token = token
        self.person = person

    @property
    def core(self) -> Core:
        """The running app's core."""
        return core_of(self.server)

    async def __call__(self, command: str, *, person: str | None = None) -> dict[str, Any]:
        """Run one command and return the JSON reply (asserting a 200)."""
        async with (
            ClientSession() as session,
            session.post(
                self.server.make_url("/console/command"),
                json={"person": person or self.person, "command": command},
                headers={"Authorization": f"Bearer {self.token}"},
            ) as resp,
        ):
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
            return body
