"""The Telegram bot over the shared session, deferred so that start-up stays offline."""

from __future__ import annotations

import asyncio

import aiohttp
from telegram.ext import ExtBot

from bot.config.types import TelegramConfig
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
