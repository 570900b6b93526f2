"""Telegram: a python-telegram-bot Application without its own server, fed by our webhook route."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from aiohttp import web
from telegram import ForceReply, ReplyParameters, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.config.types import TelegramConfig
from handlers.chat import cards
from handlers.chat.buttons import clip_to, utf16_units
from handlers.chat.commands import Commands
from handlers.chat.front import FrontKind
from handlers.chat.notifier import ChatNotifier
from handlers.chat.parse import Command
from handlers.chat.telegram._bot import build_bot
from handlers.chat.telegram._markup import decode_callback, telegram_text
from handlers.chat.telegram._surface import TelegramSurface
from handlers.http import secret_matches

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ANSWER_LIMIT = 200  # answerCallbackQuery text, in UTF-16 units


class TelegramFront:
    """CommandHandler for /sms, CallbackQueryHandler for buttons, and replies to our prompts."""

    def __init__(
        self,
        settings: TelegramConfig,
        *,
        commands: Commands,
        session: aiohttp.ClientSession,
    ):
        self.settings = settings
        self.commands = commands
        self.config = commands.core.config
        self.bot = build_bot(settings, session)
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            Application.builder().bot(self.bot).updater(None).build()
        )
        self.application.add_handler(CommandHandler("sms", self._on_command))
        self.application.add_handler(CallbackQueryHandler(self._on_callback))
        self.application.add_handler(
            MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, self._on_reply_text)
        )
        self.application.add_error_handler(self._on_error)
        self.surface = TelegramSurface(self.bot)
        self.notifier = ChatNotifier(
            self.surface,
            broadcasts=commands.core.broadcasts,
            config=self.config,
            approvals={"chat_id": settings.approvals_chat_id},
            inbox={"chat_id": settings.inbox_chat_id},
        )

    async def start(self) -> None:
        """Initialise and start the Application (no network call) and the notifier."""
        await self.application.initialize()
        await self.application.start()
        self.notifier.start()

    async def stop(self) -> None:
        """Stop the notifier, then the Application."""
        await self.notifier.close()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def handle(self, request: web.Request) -> web.Response:
        """POST /telegram/webhook: check the secret header, then process the update."""
        given = request.headers.get(SECRET_HEADER, "")
        if not secret_matches(given, self.settings.webhook_secret):
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.read())
        except (ValueError, RecursionError):  # not UTF-8, not JSON, a huge number, too deep
            return web.Response(status=400, text="the body is not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400, text="not a Telegram update")
        await self.bot.ready()
        try:  # a signed update of the wrong shape, e.g. "message": []
            update = Update.de_json(data, self.bot)
        except (TypeError, KeyError, AttributeError, ValueError, OverflowError):
            return web.Response(status=400, text="not a Telegram update")
        await self.application.process_update(update)
        return web.Response(text="ok")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("telegram update failed", exc_info=context.error)

    async def _answer(self, chat_id: int, text: str, *, reply_to: int) -> None:
        await self.bot.send_message(
            chat_id=chat_id,
            text=telegram_text(cards.text_message(text)),
            reply_parameters=ReplyParameters(message_id=reply_to, allow_sending_without_reply=True),
        )

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text or not message.entities:
            return
        rest = message.text[message.entities[0].length :]
        caller = self.commands.caller("telegram", str(user.id))
        reply = await self.commands.run(rest, caller)
        if reply.preview and reply.view is not None:
            root = await self.surface.reply(
                {"chat_id": message.chat_id, "message_id": message.message_id},
                cards.preview_message(reply.view, self.config),
            )
            await self.notifier.set_thread(reply.view.id, root)
            return
        await self._answer(message.chat_id, reply.text, reply_to=message.message_id)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        decoded = decode_callback(query.data)
        if decoded is None:
            await query.answer("This button is out of date.")
            return
        action, value = decoded
        caller = self.commands.caller("telegram", str(query.from_user.id))
        reply = await self.commands.click(action, value, caller=caller)
        if action == "reply" and reply.ok and query.message is not None:
            await self.bot.send_message(
                chat_id=query.message.chat.id,
                text=cards.reply_prompt(value),
                reply_markup=ForceReply(input_field_placeholder=f"Your reply to {value}"),
            )
        answer = clip_to(reply.text, ANSWER_LIMIT, cost=utf16_units)
        await query.answer(answer, show_alert=not reply.ok)

    async def _on_reply_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.reply_to_message is None:
            return
        prompt = message.reply_to_message
        if prompt.from_user is None or prompt.from_user.id != self.bot.id:
            return
        number = cards.prompt_number(prompt.text)
        if number is None or not message.text:
            return
        caller = self.commands.caller("telegram", str(user.id))
        command = Command("reply", number=number, message=message.text)
        reply = await self.commands.execute(command, caller)
        await self._answer(message.chat_id, reply.text, reply_to=message.message_id)


KIND = FrontKind(
    platform="telegram",
    path="/telegram/webhook",
    settings=lambda config: config.telegram,
    build=TelegramFront,
)
