"""Slack's chat surface: posts, thread replies and edits through the Web API."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from handlers.chat.cards import Message
from handlers.chat.notifier import Ref
from handlers.chat.slack._blocks import slack_blocks


class SlackSurface:
    """chat.postMessage, thread replies and chat.update through the Web API."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient):
        self.client = client

    async def post(self, where: Ref, message: Message) -> Ref:
        """Post to a channel."""
        resp = await self.client.chat_postMessage(
            channel=where["channel"],
            text=message.text,
            blocks=slack_blocks(message),
            unfurl_links=False,
        )
        return {"channel": resp["channel"], "ts": resp["ts"]}

    async def reply(self, root: Ref, message: Message) -> Ref:
        """Post in the root message's thread (or plainly, when the root has no ts)."""
        resp = await self.client.chat_postMessage(
            channel=root["channel"],
            thread_ts=root.get("ts"),
            text=message.text,
            blocks=slack_blocks(message),
            unfurl_links=False,
        )
        return {"channel": resp["channel"], "ts": resp["ts"]}

    async def edit(self, ref: Ref, message: Message) -> None:
        """Replace a message's text and buttons."""
        await self.client.chat_update(
            channel=ref["channel"], ts=ref["ts"], text=message.text, blocks=slack_blocks(message)
        )
