"""Slack's markup: messages rendered as Block Kit, and slash-command text read back from mrkdwn."""

from __future__ import annotations

import html
import re
from typing import Any

from handlers.chat.buttons import fit_lines, utf16_units
from handlers.chat.cards import Message

SLACK_SECTION_LIMIT = 3000
_SLACK_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>")
_SLACK_BARE = re.compile(r"<([^<>]*)>")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escaped_units(ch: str) -> int:
    """What one character costs in the section once escaped (UTF-16 units, to be safe)."""
    escaped = _ESCAPES.get(ch)
    return len(escaped) if escaped else utf16_units(ch)


def section_text(message: Message) -> str:
    """The section's mrkdwn: fitted to Slack's limit before escaping, so no entity is cut."""
    lines = message.lines or ("",)
    bold = 2 if lines[0] else 0  # the title's *…*
    title, *rest = fit_lines(lines, SLACK_SECTION_LIMIT, cost=_escaped_units, extra=bold)
    text = f"*{_mrkdwn_escape(title)}*" if title else ""
    if rest:
        text += "\n" + "\n".join(_mrkdwn_escape(line) for line in rest)
    return text


def slack_blocks(message: Message) -> list[dict[str, Any]]:
    """Block Kit: the title in bold, the other lines, then an actions block with the buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": section_text(message)}}
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
