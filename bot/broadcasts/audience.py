"""Audience expressions: `club:ict`, `dept:ict,club:chess`, `dept:ict -club:chess`, `all`."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from bot.contacts.phones import PhoneError, PhoneNormaliser
from bot.errors import UserError

_LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]*:[a-z0-9][a-z0-9_.-]*$")
_SPLIT = re.compile(r"[,\s]+")
# A run of digits with the separators people type inside numbers, kept together before splitting.
_NUMBER_RUN = re.compile(r"(?<![\w:])-?\+?\(?\d[\d ()\-]{6,}\d")


class AudienceError(UserError):
    """An audience expression names something that does not exist or is malformed."""


@dataclass(frozen=True, slots=True)
class Audience:
    """A parsed audience expression."""

    expression: str
    everyone: bool
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    numbers: tuple[str, ...]  # E.164

    def describe(self) -> str:
        """A short human description, e.g. `club:ict + 2 numbers − club:chess`."""
        parts = ["everyone"] if self.everyone else list(self.include)
        if self.numbers:
            n = len(self.numbers)
            parts.append(f"{n} number{'s' if n != 1 else ''}")
        text = " + ".join(parts) or "nobody"
        if self.exclude:
            text += " − " + " − ".join(self.exclude)
        return text


def parse_audience(expression: str, phones: PhoneNormaliser) -> Audience:
    """Parse an expression into groups to include and exclude and literal numbers."""
    text = expression.strip()
    if not text:
        raise AudienceError("empty audience: name a group like club:ict, or all")
    numbers: list[str] = []

    def take_number(match: re.Match[str]) -> str:
        raw = match.group(0)
        negative = raw.startswith("-")
        if negative:
            raise AudienceError(f"cannot exclude a number ({raw[1:].strip()}); exclude groups")
        try:
            numbers.append(phones.normalise(raw))
        except PhoneError as exc:
            raise AudienceError(f"{raw.strip()}: {exc}") from None
        return " "

    text = _NUMBER_RUN.sub(take_number, text)
    everyone = False
    include: list[str] = []
    exclude: list[str] = []
    for token in _SPLIT.split(text):
        if not token:
            continue
        negative = token.startswith("-")
        word = token[1:] if negative else token
        word = word.lower()
        if word in ("all", "everyone"):
            if negative:
                raise AudienceError("cannot exclude everyone")
            everyone = True
            continue
        if not _LABEL.match(word):
            try:
                numbers.append(phones.normalise(word))
                continue
            except PhoneError as exc:
                if re.fullmatch(r"\+?\d+", word):
                    raise AudienceError(f"{word}: {exc}") from None
                raise AudienceError(
                    f"{word!r} is not a group (kind:name, e.g. club:ict), all, or a phone number"
                ) from None
        (exclude if negative else include).append(word)
    if not (everyone or include or numbers):
        raise AudienceError("the audience only excludes; say who to include, e.g. all -club:chess")
    return Audience(
        expression=expression.strip(),
        everyone=everyone,
        include=tuple(dict.fromkeys(include)),
        exclude=tuple(dict.fromkeys(exclude)),
        numbers=tuple(dict.fromkeys(numbers)),
    )


def unknown_group_error(label: str, known: list[str]) -> AudienceError:
    """`no group club:itc — did you mean club:ict?`, with the closest existing names."""
    close = difflib.get_close_matches(label, known, n=3, cutoff=0.75)
    if not close:
        _, _, name = label.partition(":")
        close = [k for k in known if k.partition(":")[2] == name][:3]
    if close:
        return AudienceError(f"no group {label} — did you mean {' or '.join(close)}?")
    return AudienceError(f"no group {label} — see /sms groups for the list")
