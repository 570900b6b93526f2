"""Checks of text the core is handed: valid Unicode, and sender ids (Africa's Talking's
alphanumeric form or a number)."""

from __future__ import annotations

import re

from bot.errors import UserError

MAX_ALPHANUMERIC = 11  # GSM's alphanumeric originator, as Africa's Talking registers it
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .-]*")
_NUMBER = re.compile(r"\+?[0-9]{3,15}")  # a short code or a phone number in E.164
FIELD = "sender_id"


def check_text(text: str, *, name: str = "message") -> None:
    """Refuse text holding an unpaired surrogate (it can be neither stored nor sent)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UserError(
            f"{name}: character {exc.start + 1} is not valid text (an unpaired surrogate); "
            "re-type it"
        ) from None


def check_sender_id(sender_id: str) -> None:
    """Refuse a sender id Africa's Talking would not take, in one line naming the field."""
    check_text(sender_id, name=FIELD)
    if _NUMBER.fullmatch(sender_id):
        return
    shown = repr(sender_id[:40])
    if not _ALPHANUMERIC.fullmatch(sender_id):
        raise UserError(
            f"{FIELD} {shown}: use letters, digits, spaces, '.' or '-' (starting with a letter "
            f"or digit, at most {MAX_ALPHANUMERIC}), or a number like +254712345678"
        )
    if len(sender_id) > MAX_ALPHANUMERIC:
        raise UserError(
            f"{FIELD} {shown}: {len(sender_id)} characters; an alphanumeric sender id has at "
            f"most {MAX_ALPHANUMERIC}"
        )
