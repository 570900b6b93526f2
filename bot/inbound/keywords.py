"""Pure text work for inbound SMS: keyword matching, group names, and filling reply texts."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.config.types import KeywordsConfig
from storage.inbound import GroupRow
from storage.states import KeywordAction

logger = logging.getLogger(__name__)

# Actions whose keyword may be followed by words (the argument); the others must stand alone.
WITH_ARGUMENT = frozenset({KeywordAction.JOIN, KeywordAction.LEAVE, KeywordAction.HELP})
MAX_ARGUMENT_CHARS = 60
# What an opted-out sender may still do; anything else from them goes to the inbox.
CONSENT_ACTIONS = (KeywordAction.OPTOUT, KeywordAction.OPTIN)


class MissingRuleError(LookupError):
    """A keyword action has no rule: raised when the rules are built, so at start-up."""


def check_rules(rules: Collection[str], actions: Iterable[str] = KeywordAction) -> None:
    """Refuse a rules table that lacks an action, rather than answer that action with HELP."""
    missing = [action for action in actions if action not in rules]
    if missing:
        raise MissingRuleError(f"keyword action(s) without a rule: {', '.join(missing)}")


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """A matched keyword: what to do, the language it was written in, and what followed it."""

    action: KeywordAction
    language: str
    keyword: str
    argument: str = ""


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in ("L", "N")


def strip_edges(text: str) -> str:
    """Drop everything that is not a letter or digit (space, punctuation, emoji) at both ends."""
    start, end = 0, len(text)
    while start < end and not _is_word_char(text[start]):
        start += 1
    while end > start and not _is_word_char(text[end - 1]):
        end -= 1
    return text[start:end]


_ASCII_EDGES = "".join(chr(c) for c in range(128) if not chr(c).isalnum())


def normalise(text: str) -> str:
    """NFKC, case-folded, with surrounding punctuation, emoji and space removed."""
    if text.isascii():  # the common case, done in C
        return text.strip(_ASCII_EDGES).lower()
    return strip_edges(unicodedata.normalize("NFKC", text).casefold())


class KeywordMatcher:
    """Matches whole messages against the configured keywords of every language."""

    def __init__(self, config: KeywordsConfig):
        self.first_word_optout = config.first_word_optout
        self._words: dict[str, tuple[KeywordAction, str, str]] = {}
        for language, table in config.languages.items():
            for name, words in table.items():
                action = KeywordAction(name)
                for word in words:
                    key = normalise(word)
                    if key and key not in self._words:  # the first language listed wins
                        self._words[key] = (action, language, word)
                    elif key and self._words[key][0] != action:
                        logger.warning(
                            "keyword %s is both %s and %s; using %s",
                            word,
                            self._words[key][0],
                            action,
                            self._words[key][0],
                        )

    def match(self, text: str) -> KeywordMatch | None:
        """The keyword the whole message is, if any; JOIN, LEAVE and HELP may carry words."""
        folded = normalise(text)
        if not folded:
            return None
        hit = self._words.get(folded)
        if hit is not None:
            return KeywordMatch(action=hit[0], language=hit[1], keyword=hit[2])
        parts = folded.split(None, 1)
        if len(parts) < 2:
            return None
        hit = self._words.get(strip_edges(parts[0]))
        if hit is None:
            return None
        action, language, keyword = hit
        if action in WITH_ARGUMENT:
            argument = " ".join(parts[1].split())[:MAX_ARGUMENT_CHARS]
            return KeywordMatch(action, language, keyword, argument)
        if action is KeywordAction.OPTOUT and self.first_word_optout:
            return KeywordMatch(action, language, keyword)
        return None


class _Values(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill_reply(template: str, values: Mapping[str, str]) -> str:
    """Fill {placeholders}; unknown ones stay as written and a broken template is sent as is."""
    try:
        return template.format_map(_Values(values))
    except (ValueError, IndexError, AttributeError, KeyError):
        logger.warning("reply template %r cannot be filled; sent as written", template)
        return template


def resolve_group(
    query: str, groups: Sequence[GroupRow], *, prefer: Iterable[int] = ()
) -> list[GroupRow]:
    """Groups a JOIN/LEAVE argument names: `club:ict`, `club ict`, or `ict` alone."""
    q = " ".join(strip_edges(query.casefold()).replace(":", " : ").split()).replace(" : ", ":")
    if not q:
        return []
    if ":" in q:
        return [g for g in groups if g.label == q]
    found = [g for g in groups if g.name == q]
    if not found and " " in q:
        label = q.replace(" ", ":", 1).replace(" ", "")
        found = [g for g in groups if g.label == label]
    preferred = set(prefer)
    narrowed = [g for g in found if g.id in preferred]
    return narrowed if len(found) > 1 and len(narrowed) == 1 else found
