"""Slack's markup: messages rendered as Block Kit, and slash-command text read back from mrkdwn."""

from __future__ import annotations

import html
import re
from typing import Any

from handlers.chat.buttons import clip
from handlers.chat.cards import Message

SLACK_SECTION_LIMIT = 3000
_SLACK_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>")
_SLACK_BARE = re.compile(r"<([^<>]*)>")


def _mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_blocks(message: Message) -> list[dict[str, Any]]:
    """Block Kit: the title in bold, the other lines, then an actions block with the buttons."""
    title, *rest = message.lines or ("",)
    text = f"*{_mrkdwn_escape(title)}*" if title else ""
    if rest:
        text += "\n" + "\n".join(_mrkdwn_escape(line) for line in rest)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SLACK_SECTION_LIMIT)}}
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
