"""What every front's rendering shares: the button actions, their short codes, and clipping."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

ACTIONS = ("approve", "reject", "cancel", "reply")
"""The actions a card's buttons may ask for (cards.Button.action); commands.click runs them."""

CODES = {"approve": "ap", "reject": "rj", "cancel": "cx", "reply": "rp"}
"""A short code per action, for platforms whose button data is small (Telegram: 64 bytes)."""

ELLIPSIS = "…"
Cost = Callable[[str], int]
"""What one character costs against a platform's limit (e.g. its UTF-16 units)."""

_ZWJ = "\u200d"
_MIN_LINE = 40  # below this a clipped line says nothing: lines are dropped instead


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utf16_units(ch: str) -> int:
    """UTF-16 code units of one character: 2 outside the Basic Multilingual Plane."""
    return 2 if ord(ch) > 0xFFFF else 1


def _extends(ch: str) -> bool:
    """True for a character that belongs to the one before it (marks, selectors, modifiers)."""
    code = ord(ch)
    return (
        ch == _ZWJ
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _splits(text: str, i: int) -> bool:
    """True when cutting `text` before index `i` would split one visible character."""
    prev, nxt = text[i - 1], text[i]
    if prev == _ZWJ or _extends(nxt) or (prev == "\r" and nxt == "\n"):
        return True
    if _regional(prev) and _regional(nxt):  # a flag is a pair: split only between pairs
        run = 0
        while i - 1 - run >= 0 and _regional(text[i - 1 - run]):
            run += 1
        return run % 2 == 1
    return False


def clip_to(text: str, budget: int, *, cost: Cost = len) -> str:
    """`text` within `budget` (as `cost` counts), cut between visible characters, with `…`."""
    if sum(cost(ch) for ch in text) <= budget:
        return text
    room = budget - cost(ELLIPSIS)
    end, used = 0, 0
    while end < len(text) and used + cost(text[end]) <= room:
        used += cost(text[end])
        end += 1
    while 0 < end < len(text) and _splits(text, end):
        end -= 1
    return text[:end] + ELLIPSIS if room >= 0 else ""


def fit_lines(
    lines: Sequence[str], limit: int, *, cost: Cost = len, extra: int = 0
) -> tuple[str, ...]:
    """Lines joined by newlines within `limit`: long lines are clipped (the longest first) and,
    when there are too many, middle lines give way to one `…`, so the title and the last lines
    (what the buttons act on) survive. `extra` is what the rendering adds around the lines."""
    sizes = [sum(cost(ch) for ch in line) for line in lines]
    keep = list(range(len(lines)))
    gap = 0  # the cost of the `…` line standing for dropped lines, once there are any

    def total(cap: int) -> int:
        count = len(keep) + (1 if gap else 0)
        return sum(min(sizes[i], cap) for i in keep) + gap + count - 1 + extra

    if total(limit) <= limit:
        return tuple(lines)
    while len(keep) > 2 and total(_MIN_LINE) > limit:
        del keep[len(keep) // 2]  # the gap grows around the middle, in one piece
        gap = cost(ELLIPSIS)
    low, high = 0, limit
    while low < high:  # the largest per-line cap that fits
        mid = (low + high + 1) // 2
        low, high = (mid, high) if total(mid) <= limit else (low, mid - 1)
    out: list[str] = []
    for n, i in enumerate(keep):
        if n and i != keep[n - 1] + 1:
            out.append(ELLIPSIS)
        out.append(lines[i] if sizes[i] <= low else clip_to(lines[i], low, cost=cost))
    return tuple(out)
