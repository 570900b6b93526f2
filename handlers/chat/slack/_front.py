"""Slack: a slack-bolt AsyncApp mounted at /slack/events for the /sms command and the buttons."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.config.types import SlackConfig
from handlers.chat import cards
from handlers.chat.buttons import ACTIONS
from handlers.chat.cards import Message
from handlers.chat.commands import Commands, Reply
from handlers.chat.front import FrontKind
from handlers.chat.notifier import ChatNotifier
from handlers.chat.slack._blocks import slack_blocks, slack_text
from handlers.chat.slack._surface import SlackSurface

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
ACTION_IDS = re.compile("^(" + "|".join(ACTIONS) + ")$")


class SlackFront:
    """The /sms slash command and the buttons; acknowledged at once, worked on afterwards."""

    def __init__(
        self,
        settings: SlackConfig,
        *,
        commands: Commands,
        session: aiohttp.ClientSession,
    ):
        self.settings = settings
        self.commands = commands
        self.config = commands.core.config
        self.session = session
        base_url = settings.api_base_url or DEFAULT_API_URL
        base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.surface = SlackSurface(
            AsyncWebClient(token=settings.bot_token, base_url=base_url, session=session)
        )
        self.notifier = ChatNotifier(
            self.surface,
            broadcasts=commands.core.broadcasts,
            config=self.config,
            approvals={"channel": settings.approvals_channel},
            inbox={"channel": settings.inbox_channel},
        )
        self.bolt = self._build_bolt(base_url)
        self._tasks: set[asyncio.Task[None]] = set()

    def _build_bolt(self, base_url: str) -> AsyncApp:
        """Bolt inspects argument names, so its callbacks are plain closures, not methods."""
        token = self.settings.bot_token

        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            # Answered from config: bolt never calls auth.test, so start-up makes no call.
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

        async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()  # within Slack's 3 seconds; the work goes on afterwards
            self._spawn(self._command(body))

        async def on_action(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            self._spawn(self._action(body, action))

        bolt = AsyncApp(
            signing_secret=self.settings.signing_secret,
            client=AsyncWebClient(base_url=base_url, session=self.session),
            authorize=authorize,
            name="smsops",
        )
        bolt.command("/sms")(on_command)
        bolt.action(ACTION_IDS)(on_action)
        return bolt

    async def start(self) -> None:
        """Start the notifier."""
        self.notifier.start()

    async def stop(self) -> None:
        """Let replies in flight finish briefly, then stop."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.notifier.close()

    async def handle(self, request: web.Request) -> web.Response:
        """POST /slack/events: bolt verifies the signature (401 if bad or stale) and dispatches."""
        try:  # bolt's verifier would fail with a 500 on a timestamp that is not an integer
            int(request.headers.get("X-Slack-Request-Timestamp", "0"))
        except ValueError:
            return web.json_response({"error": "invalid request"}, status=401)
        try:  # bolt parses the body before it checks the signature
            bolt_request = await to_bolt_request(request)
        except (ValueError, LookupError, RecursionError, AttributeError, TypeError):
            return web.Response(status=400, text="unreadable body")  # bad text, charset, JSON
        bolt_response = await self.bolt.async_dispatch(bolt_request)
        if bolt_response.status >= 500:  # our listeners only ack: bolt choked on the body
            logger.warning("slack request refused: bolt answered %s", bolt_response.status)
            return web.json_response({"error": "unprocessable request"}, status=400)
        return await to_aiohttp_response(bolt_response)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _command(self, body: dict[str, Any]) -> None:
        try:
            caller = self.commands.caller("slack", str(body.get("user_id", "")))
            reply = await self.commands.run(slack_text(str(body.get("text", ""))), caller)
            if reply.preview and reply.view is not None:
                await self._post_preview(reply, body)
            else:
                await self.respond(body.get("response_url"), cards.text_message(reply.text))
        except Exception:
            logger.exception("slack command failed")

    async def _post_preview(self, reply: Reply, body: dict[str, Any]) -> None:
        assert reply.view is not None
        message = cards.preview_message(reply.view, self.config)
        channel = str(body.get("channel_id", ""))
        try:
            root = await self.surface.post({"channel": channel}, message)
        except SlackApiError as exc:
            logger.warning(
                "cannot post in %s (%s); answering through response_url and DMs",
                channel,
                exc.response.get("error"),
            )
            await self.respond(body.get("response_url"), message, ephemeral=False)
            root = {"channel": str(body.get("user_id", ""))}
        await self.notifier.set_thread(reply.view.id, root)

    async def _action(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        try:
            user = body.get("user") or {}
            caller = self.commands.caller("slack", str(user.get("id", "")))
            reply = await self.commands.click(
                str(action.get("action_id", "")), str(action.get("value", "")), caller=caller
            )
            text = reply.text if reply.ok else f"⚠️ {reply.text}"
            await self.respond(body.get("response_url"), cards.text_message(text))
        except Exception:
            logger.exception("slack action failed")

    async def respond(self, url: Any, message: Message, *, ephemeral: bool = True) -> None:
        """Answer through the request's response_url, only to the person by default."""
        if not isinstance(url, str) or not url:
            return
        hook = AsyncWebhookClient(url, session=self.session)
        resp = await hook.send_dict(
            {
                "response_type": "ephemeral" if ephemeral else "in_channel",
                "replace_original": False,
                "text": message.text,
                "blocks": slack_blocks(message),
            }
        )
        if resp.status_code != 200:
            logger.warning("response_url answered %s: %s", resp.status_code, resp.body[:200])


KIND = FrontKind(
    platform="slack", path="/slack/events", settings=lambda config: config.slack, build=SlackFront
)
