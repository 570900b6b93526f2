"""What every front's rendering shares: the button actions, their short codes, and clipping."""

from __future__ import annotations

ACTIONS = ("approve", "reject", "cancel", "reply")
"""The actions a card's buttons may ask for (cards.Button.action); commands.click runs them."""

CODES = {"approve": "ap", "reject": "rj", "cancel": "cx", "reply": "rp"}
"""A short code per action, for platforms whose button data is small (Telegram: 64 bytes)."""


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
