"""Telegram's chat surface: posts, thread replies (reply-to) and edits through the Bot API."""

from __future__ import annotations

from telegram import ReplyParameters
from telegram.error import BadRequest

from handlers.chat.cards import Message
from handlers.chat.notifier import Ref
from handlers.chat.telegram._bot import DeferredBot
from handlers.chat.telegram._markup import telegram_markup, telegram_text


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
