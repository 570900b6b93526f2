"""The keyword matcher and group-name resolution: the whole matrix, in English and Swahili."""

from __future__ import annotations

import logging

import pytest

from bot.config.schema import Reader
from bot.config.types import KeywordsConfig
from bot.inbound.defaults import DEFAULT_WORDS, build_keywords
from bot.inbound.keywords import KeywordMatcher, fill_reply, normalise, resolve_group, strip_edges
from storage.inbound import GroupRow

logger = logging.getLogger(__name__)

DEFAULTS = KeywordMatcher(build_keywords(None))


def keywords(table: dict[str, object]) -> KeywordsConfig:
    problems: list[str] = []
    config = build_keywords(Reader(table, problems, "keywords"))
    assert problems == []
    return config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # opt-out: the whole message, whatever the case, punctuation or emoji around it
        ("STOP", ("optout", "en", "")),
        ("Stop", ("optout", "en", "")),
        ("STOP.", ("optout", "en", "")),
        (" stop! ", ("optout", "en", "")),
        ("Stop🙏", ("optout", "en", "")),
        ("🙏 stop 🙏", ("optout", "en", "")),
        ("\tStOp\n", ("optout", "en", "")),
        ('"stop"', ("optout", "en", "")),
        ("ＳＴＯＰ", ("optout", "en", "")),  # full-width letters (NFKC)
        ("stopall", ("optout", "en", "")),
        ("Unsubscribe", ("optout", "en", "")),
        ("cancel", ("optout", "en", "")),
        ("END", ("optout", "en", "")),
        ("quit!!", ("optout", "en", "")),
        ("revoke", ("optout", "en", "")),
        ("OptOut", ("optout", "en", "")),
        ("acha", ("optout", "sw", "")),
        ("ACHA.", ("optout", "sw", "")),
        ("Sitisha 🙏", ("optout", "sw", "")),
        # opt-in
        ("START", ("optin", "en", "")),
        ("yes", ("optin", "en", "")),
        ("Unstop", ("optin", "en", "")),
        ("anza", ("optin", "sw", "")),
        ("Anza!", ("optin", "sw", "")),
        # help, with or without words after it
        ("HELP", ("help", "en", "")),
        ("help?", ("help", "en", "")),
        ("Info", ("help", "en", "")),
        ("help me please", ("help", "en", "me please")),
        ("msaada", ("help", "sw", "")),
        ("Saidia tafadhali", ("help", "sw", "tafadhali")),
        # join / leave with a group
        ("JOIN ICT", ("join", "en", "ict")),
        ("join club:ict", ("join", "en", "club:ict")),
        ("Join, ICT!", ("join", "en", "ict")),
        ("join   club   ict", ("join", "en", "club ict")),
        ("JOIN", ("join", "en", "")),
        ("Leave chess", ("leave", "en", "chess")),
        ("jiunge ict", ("join", "sw", "ict")),
        ("JIUNGE club:chess", ("join", "sw", "club:chess")),
        ("toka chess", ("leave", "sw", "chess")),
        ("Toka", ("leave", "sw", "")),
    ],
)
def test_keyword_matrix(text: str, expected: tuple[str, str, str]) -> None:
    m = DEFAULTS.match(text)
    assert m is not None, text
    assert (m.action, m.language, m.argument) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "🙏🙏",
        "...",
        "STOP texting me please",
        "please stop",
        "stop stop",
        "S T O P",
        "stopp",
        "START now",
        "acha kunitumia",
        "anza tena",
        "Hello CS101, when is the exam?",
        "Habari! Nimepata 👍",
        "JOIN:ict",
        "yes I will attend",
    ],
)
def test_not_keywords(text: str) -> None:
    assert DEFAULTS.match(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP texting me please", ("optout", "en")),
        ("Stop, I'm not a student", ("optout", "en")),
        ("acha kunitumia ujumbe", ("optout", "sw")),
        ("START now", None),  # first-word matching is for opting out only
        ("please stop", None),
    ],
)
def test_first_word_optout_switch(text: str, expected: tuple[str, str] | None) -> None:
    matcher = KeywordMatcher(keywords({"first_word_optout": True}))
    m = matcher.match(text)
    assert (None if m is None else (m.action, m.language)) == expected


def test_configured_words_replace_a_language_and_add_one() -> None:
    config = keywords(
        {
            "en": {"optout": ["STOP", "Opt Out"]},
            "fr": {"optout": ["ARRET"], "help": ["AIDE"]},
            "help_contact": "0700 000000",
        }
    )
    matcher = KeywordMatcher(config)
    assert matcher.match("unsubscribe") is None  # replaced, not extended
    hit = matcher.match("opt out!")
    assert hit is not None and hit.action == "optout"
    hit = matcher.match("arret")
    assert hit is not None and (hit.action, hit.language) == ("optout", "fr")
    assert config.help_contact == "0700 000000"
    assert "fr" not in config.replies  # the responder answers fr keywords in English


def test_every_default_word_matches_its_own_action() -> None:
    for language, table in DEFAULT_WORDS.items():
        for action, words in table.items():
            for word in words:
                m = DEFAULTS.match(word.lower() + ".")
                assert m is not None and (m.action, m.language) == (action, language), word


@pytest.mark.parametrize(
    ("text", "stripped"),
    [(" stop! ", "stop"), ("Stop🙏", "Stop"), ("¡hola!", "hola"), ("👍🏽", ""), ("a.b", "a.b")],
)
def test_strip_edges(text: str, stripped: str) -> None:
    assert strip_edges(text) == stripped


def test_normalise_case_folds() -> None:
    assert normalise(" ÉCOLE! ") == "école"


GROUPS = [
    GroupRow(1, "club:ict", "club", "ict"),
    GroupRow(2, "club:chess", "club", "chess"),
    GroupRow(3, "society:chess", "society", "chess"),
    GroupRow(4, "club:ai-ml", "club", "ai-ml"),
]


@pytest.mark.parametrize(
    ("query", "labels"),
    [
        ("ict", ["club:ict"]),
        ("ICT", ["club:ict"]),
        ("club:ict", ["club:ict"]),
        ("Club : ICT", ["club:ict"]),
        ("club ict", ["club:ict"]),
        ("ict.", ["club:ict"]),
        ("ai-ml", ["club:ai-ml"]),
        ("chess", ["club:chess", "society:chess"]),  # ambiguous: the reply asks which
        ("society:chess", ["society:chess"]),
        ("drama", []),
        ("dept:ict", []),
        ("", []),
    ],
)
def test_resolve_group(query: str, labels: list[str]) -> None:
    assert [g.label for g in resolve_group(query, GROUPS)] == labels


def test_resolve_group_prefers_the_members_own_group() -> None:
    assert [g.label for g in resolve_group("chess", GROUPS, prefer=[3])] == ["society:chess"]
    assert len(resolve_group("chess", GROUPS, prefer=[2, 3])) == 2


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("Hi {org}", "Hi Uni"),
        ("{unknown} stays", "{unknown} stays"),
        ("broken {", "broken {"),
        ("{0} positional", "{0} positional"),
    ],
)
def test_render_never_fails(template: str, text: str) -> None:
    assert fill_reply(template, {"org": "Uni"}) == text
