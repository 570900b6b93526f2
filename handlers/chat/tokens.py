"""Splitting `/sms …` text into tokens; phones' curly quotes, „…“ and «…» hold spaces too."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import UserError

# Opening quote -> the closing quotes that pair with it. Phones write “…”, „…“, «…» and ‘…’.
_DOUBLE = {'"': '"', "“": "”“", "„": "“”", "‟": "”", "”": "”", "«": "»", "»": "«"}
_SINGLE = {"'": "'", "‘": "’", "‚": "‘’", "’": "’"}
_ANY_DOUBLE = '"“”„‟«»'
_PREFIX = re.compile(r"^\s*/sms(?:@\w+)?(?=\s|$)", re.IGNORECASE)


class CommandSyntaxError(UserError):
    """The command text cannot be understood; the message says how to write it."""


@dataclass(frozen=True, slots=True)
class Token:
    """One word or quoted string, with where it sits in the source text."""

    text: str
    quoted: bool
    start: int
    end: int


def _close_single(text: str, start: int, *, closers: str) -> int:
    """A single-quote closer followed by a space or the end; apostrophes inside words are not."""
    for j in range(start, len(text)):
        if text[j] in closers and (j + 1 == len(text) or text[j + 1].isspace()):
            return j
    return -1


def _close_double(text: str, start: int, *, opener: str) -> int:
    for closers in (_DOUBLE[opener], _ANY_DOUBLE):
        hits = [j for j in (text.find(c, start) for c in closers) if j >= 0]
        if hits:
            return min(hits)
    return -1


def tokenize(text: str) -> list[Token]:
    """Split on whitespace; "…", “…”, „…“, «…» and ‘…’ hold spaces; `--at="…"` stays one token."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _DOUBLE:
            j = _close_double(text, i + 1, opener=ch)
            if j < 0:
                raise CommandSyntaxError(
                    f"a quote is not closed: end the message with {_DOUBLE[ch][0]}"
                )
            tokens.append(Token(text[i + 1 : j], True, i, j + 1))
            i = j + 1
            continue
        if ch in _SINGLE:
            j = _close_single(text, i + 1, closers=_SINGLE[ch])
            if j > i + 1:
                tokens.append(Token(text[i + 1 : j], True, i, j + 1))
                i = j + 1
                continue
        parts, j = [], i
        while j < n and not text[j].isspace():
            if text[j] in _DOUBLE and j > i and "=" in text[i:j]:
                k = _close_double(text, j + 1, opener=text[j])
                if k < 0:
                    raise CommandSyntaxError(
                        "a quote is not closed: end the value with a closing quote"
                    )
                parts.append(text[j + 1 : k])
                j = k + 1
                continue
            parts.append(text[j])
            j += 1
        tokens.append(Token("".join(parts), False, i, j))
        i = j
    return tokens


def strip_prefix(text: str) -> str:
    """Drop a leading `/sms` or `/sms@BotName`."""
    return _PREFIX.sub("", text, count=1)
