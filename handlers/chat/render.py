"""Messages rendered for each platform: Slack Block Kit, Telegram inline keyboards and text."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.chat.cards import Message

logger = logging.getLogger(__name__)

SLACK_SECTION_LIMIT = 3000
TELEGRAM_TEXT_LIMIT = 4096
CALLBACK_LIMIT = 64  # bytes, Telegram's limit for callback_data
_CODES = {"approve": "ap", "reject": "rj", "cancel": "cx", "reply": "rp"}
_ACTIONS = {code: action for action, code in _CODES.items()}
_SLACK_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>")
_SLACK_BARE = re.compile(r"<([^<>]*)>")


def _mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_blocks(message: Message) -> list[dict[str, Any]]:
    """Block Kit: the title in bold, the other lines, then an actions block with the buttons."""
    title, *rest = message.lines or ("",)
    text = f"*{_mrkdwn_escape(title)}*" if title else ""
    if rest:
        text += "\n" + "\n".join(_mrkdwn_escape(line) for line in rest)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SLACK_SECTION_LIMIT)}}
    ]
    if message.buttons:
        elements = []
        for b in message.buttons:
            element: dict[str, Any] = {
                "type": "button",
                "action_id": b.action,
                "value": b.value,
                "text": {"type": "plain_text", "text": b.label, "emoji": True},
            }
            if b.style:
                element["style"] = b.style
            elements.append(element)
        blocks.append({"type": "actions", "block_id": "smsops_actions", "elements": elements})
    return blocks


def slack_text(raw: str) -> str:
    """Slash-command text as typed: Slack's <link|label> markup and &amp; escapes undone."""
    text = _SLACK_LINK.sub(lambda m: m.group(2), raw)
    text = _SLACK_BARE.sub(lambda m: m.group(1), text)
    return html.unescape(text)


def encode_callback(action: str, value: str) -> str:
    """Telegram callback_data such as `ap:12`, never over 64 bytes."""
    data = f"{_CODES[action]}:{value}"
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
    """Plain text within Telegram's message limit."""
    return _clip(message.text, TELEGRAM_TEXT_LIMIT)


def telegram_markup(message: Message) -> InlineKeyboardMarkup | None:
    """One row of inline keyboard buttons, or None."""
    if not message.buttons:
        return None
    row = [
        InlineKeyboardButton(b.label, callback_data=encode_callback(b.action, b.value))
        for b in message.buttons
    ]
    return InlineKeyboardMarkup([row])
