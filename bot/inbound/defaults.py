"""Default inbound keywords and reply texts, in English and Swahili, merged with config."""

from __future__ import annotations

from types import MappingProxyType

from bot.config.schema import Reader
from bot.config.types import KeywordsConfig
from storage.states import KeywordAction

ACTIONS = tuple(KeywordAction)

DEFAULT_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        KeywordAction.OPTOUT: (
            "STOP",
            "STOPALL",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "REVOKE",
            "OPTOUT",
        ),
        KeywordAction.OPTIN: ("START", "YES", "UNSTOP"),
        KeywordAction.HELP: ("HELP", "INFO"),
        KeywordAction.JOIN: ("JOIN",),
        KeywordAction.LEAVE: ("LEAVE",),
    },
    "sw": {
        KeywordAction.OPTOUT: ("ACHA", "SITISHA"),
        KeywordAction.OPTIN: ("ANZA",),
        KeywordAction.HELP: ("MSAADA", "SAIDIA"),
        KeywordAction.JOIN: ("JIUNGE",),
        KeywordAction.LEAVE: ("TOKA",),
    },
}

# Keys of [keywords] that are settings, not language tables.
SETTINGS = ("first_word_optout", "max_auto_replies_per_hour", "help_contact", "replies")

REPLY_KEYS = (
    "optout",
    "optin",
    "help",
    "joined",
    "already_member",
    "left",
    "not_member",
    "no_such_group",
    "ambiguous_group",
    "join_usage",
    "leave_usage",
    "ambiguous_leave",
)

DEFAULT_REPLIES: dict[str, dict[str, str]] = {
    "en": {
        "optout": "You will no longer get SMS from {org}. Reply START to subscribe again.",
        "optin": "Welcome back. You will get SMS from {org} again. Reply STOP to opt out.",
        "help": "{org} SMS alerts. Help: {contact}. Reply STOP to opt out, JOIN <group> to join.",
        "joined": "You have joined {group}. Reply LEAVE {name} to leave.",
        "already_member": "You are already in {group}.",
        "left": "You have left {group}.",
        "not_member": "You are not in {group}. Your groups: {groups}",
        "no_such_group": "No group {query}. Groups you can join: {groups}",
        "ambiguous_group": "Which one? {groups}. Reply JOIN with the full name.",
        "join_usage": "Reply JOIN <group>. Groups you can join: {groups}",
        "leave_usage": "Reply LEAVE <group>. Your groups: {groups}",
        "ambiguous_leave": "Which one? {groups}. Reply LEAVE with the full name.",
    },
    "sw": {
        "optout": "Hutapokea tena SMS kutoka {org}. Tuma ANZA kujiunga tena.",
        "optin": "Karibu tena. Utapokea SMS kutoka {org}. Tuma ACHA kusitisha.",
        "help": "Huduma ya SMS ya {org}. Msaada: {contact}. Tuma ACHA kusitisha.",
        "joined": "Umejiunga na {group}. Tuma TOKA {name} kuondoka.",
        "already_member": "Tayari uko kwenye {group}.",
        "left": "Umeondoka kwenye {group}.",
        "not_member": "Hauko kwenye {group}. Vikundi vyako: {groups}",
        "no_such_group": "Hakuna kikundi {query}. Vikundi unavyoweza kujiunga: {groups}",
        "ambiguous_group": "Kipi? {groups}. Tuma JIUNGE na jina kamili.",
        "join_usage": "Tuma JIUNGE <kikundi>. Vikundi: {groups}",
        "leave_usage": "Tuma TOKA <kikundi>. Vikundi vyako: {groups}",
        "ambiguous_leave": "Kipi? {groups}. Tuma TOKA na jina kamili.",
    },
}


def build_keywords(k: Reader | None) -> KeywordsConfig:
    """Merge [keywords] and [keywords.<lang>] / [keywords.replies.<lang>] over the defaults."""
    words = {lang: dict(table) for lang, table in DEFAULT_WORDS.items()}
    replies = {lang: dict(table) for lang, table in DEFAULT_REPLIES.items()}
    first_word = False
    per_hour = 5
    help_contact = ""
    if k is not None:
        first_word = k.flag("first_word_optout", False)
        per_hour = k.integer("max_auto_replies_per_hour", 5, minimum=1)
        help_contact = k.text("help_contact", "", nonempty=False)
        replies_r = k.table("replies")
        for lang in k.keys():
            if lang in SETTINGS:
                continue
            table = k.table(lang)
            if table is None:
                continue
            lang_words = words.setdefault(lang, {a: () for a in ACTIONS})
            for action in table.keys():
                if action not in ACTIONS:
                    table.raw(action)
                    table.problem(action, f"unknown action; use one of {', '.join(ACTIONS)}")
                    continue
                values = table.strings(action, [])
                lang_words[action] = tuple(v.strip().upper() for v in values if v.strip())
        if replies_r is not None:
            for lang in replies_r.keys():
                table = replies_r.table(lang)
                if table is None:
                    continue
                lang_replies = replies.setdefault(lang, dict(DEFAULT_REPLIES["en"]))
                for key in table.keys():
                    if key not in REPLY_KEYS:
                        table.raw(key)
                        table.problem(key, f"unknown reply; use one of {', '.join(REPLY_KEYS)}")
                        continue
                    lang_replies[key] = table.text(key)
    return KeywordsConfig(
        languages=MappingProxyType({lang: MappingProxyType(w) for lang, w in words.items()}),
        replies=MappingProxyType({lang: MappingProxyType(r) for lang, r in replies.items()}),
        first_word_optout=first_word,
        max_auto_replies_per_hour=per_hour,
        help_contact=help_contact,
    )
