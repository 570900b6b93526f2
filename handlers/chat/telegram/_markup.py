"""Messages rendered for Telegram: plain text within its limit, inline keyboards, callback data."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.chat.buttons import CODES, fit_lines, utf16_units
from handlers.chat.cards import Message

TELEGRAM_TEXT_LIMIT = 4096  # UTF-16 code units, as Telegram counts text and entity offsets
CALLBACK_LIMIT = 64  # bytes, Telegram's limit for callback_data
_ACTIONS = {code: action for action, code in CODES.items()}


def encode_callback(action: str, value: str) -> str:
    """Telegram callback_data such as `ap:12`, never over 64 bytes."""
    data = f"{CODES[action]}:{value}"
    if len(data.encode("utf-8")) > CALLBACK_LIMIT:
        raise ValueError(f"callback data over {CALLBACK_LIMIT} bytes: {data!r}")
    return data


def decode_callback(data: str | None) -> tuple[str, str] | None:
    """(action, value) from callback_data, or None when it is not ours."""
    code, sep, value = (data or "").partition(":")
    if not sep or code not in _ACTIONS or not value:
        return None
    return _ACTIONS[code], value


def telegram_text(message: Message) -> str:
    """Plain text within Telegram's limit in UTF-16 units; the title and last lines survive."""
    return "\n".join(fit_lines(message.lines, TELEGRAM_TEXT_LIMIT, cost=utf16_units))


def telegram_markup(message: Message) -> InlineKeyboardMarkup | None:
    """One row of inline keyboard buttons, or None."""
    if not message.buttons:
        return None
    row = [
        InlineKeyboardButton(b.label, callback_data=encode_callback(b.action, b.value))
        for b in message.buttons
    ]
    return InlineKeyboardMarkup([row])
