"""The Telegram bot over the shared session, deferred so start-up stays offline, and its surface."""

from __future__ import annotations

import asyncio

import aiohttp
from telegram import ReplyParameters
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.config.types import TelegramConfig
from handlers.chat.cards import Message
from handlers.chat.notifier import Ref
from handlers.chat.telegram._markup import telegram_markup, telegram_text
from handlers.chat.telegram._request import AiohttpRequest

DEFAULT_BASE_URL = "https://api.telegram.org/bot"


class DeferredBot(ExtBot[None]):
    """An ExtBot whose start-up makes no network call: getMe runs once, on first use."""

    def __init__(self, token: str, *, base_url: str, request: AiohttpRequest):
        super().__init__(token, base_url=base_url, request=request, get_updates_request=request)
        self._ready_lock = asyncio.Lock()
        self._ready = False

    @property
    def id(self) -> int:
        """The bot's user id, which is the token's first part; known before getMe has run."""
        head = self.token.partition(":")[0]
        return int(head) if head.isdigit() else super().id

    async def initialize(self) -> None:
        """Defer Bot.initialize (which calls getMe) to ready(), so start-up stays offline."""

    async def ready(self) -> None:
        """Initialise for real, once: getMe tells us our username for /sms@BotName."""
        if self._ready:
            return
        async with self._ready_lock:
            if not self._ready:
                await super().initialize()
                self._ready = True


def build_bot(settings: TelegramConfig, session: aiohttp.ClientSession) -> DeferredBot:
    """The bot, talking to the configured Bot API base URL through the shared session."""
    return DeferredBot(
        settings.bot_token,
        base_url=settings.api_base_url or DEFAULT_BASE_URL,
        request=AiohttpRequest(session),
    )


class TelegramSurface:
    """Posts, thread replies (reply-to) and edits through the Bot API."""

    platform = "telegram"

    def __init__(self, bot: DeferredBot):
        self.bot = bot

    async def post(self, where: Ref, message: Message) -> Ref:
        """sendMessage with an inline keyboard."""
        sent = await self.bot.send_message(
            chat_id=where["chat_id"],
            text=telegram_text(message),
            reply_markup=telegram_markup(message),
        )
        return {"chat_id": sent.chat_id, "message_id": sent.message_id}

    async def reply(self, root: Ref, message: Message) -> Ref:
        """sendMessage as a reply to the root message."""
        sent = await self.bot.send_message(
            chat_id=root["chat_id"],
            text=telegram_text(message),
            reply_markup=telegram_markup(message),
            reply_parameters=ReplyParameters(
                message_id=root["message_id"], allow_sending_without_reply=True
            ),
        )
        return {"chat_id": sent.chat_id, "message_id": sent.message_id}

    async def edit(self, ref: Ref, message: Message) -> None:
        """editMessageText; an edit that changes nothing is not an error."""
        try:
            await self.bot.edit_message_text(
                chat_id=ref["chat_id"],
                message_id=ref["message_id"],
                text=telegram_text(message),
                reply_markup=telegram_markup(message),
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
