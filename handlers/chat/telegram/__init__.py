"""The Telegram front: /sms, buttons and reply prompts over python-telegram-bot, by webhook."""

from handlers.chat.telegram._bot import DeferredBot, build_bot
from handlers.chat.telegram._front import KIND, TelegramFront
from handlers.chat.telegram._markup import (
    decode_callback,
    encode_callback,
    telegram_markup,
    telegram_text,
)
from handlers.chat.telegram._request import AiohttpRequest
from handlers.chat.telegram._surface import TelegramSurface

__all__ = [
    "KIND",
    "AiohttpRequest",
    "DeferredBot",
    "TelegramFront",
    "TelegramSurface",
    "build_bot",
    "decode_callback",
    "encode_callback",
    "telegram_markup",
    "telegram_text",
]
