"""Parsing `/sms …` text into a Command: the verbs, the audience, the message and options."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from bot.views import BroadcastKind
from handlers.chat.send_time import parse_when, takes_clock
from handlers.chat.tokens import CommandSyntaxError, Token, strip_prefix, tokenize

__all__ = ["Command", "parse_command", "parse_when"]

VERBS = (
    "help",
    "status",
    "list",
    "cancel",
    "groups",
    "reply",
    "resend",
    "test",
    "approve",
    "reject",
)
ID_VERBS = ("cancel", "resend", "approve", "reject")
OPTIONS = ("at", "sender", "kind")
KINDS = tuple(BroadcastKind)
EXAMPLE = '/sms club:ict "Meeting moved to 5pm"'

_LABEL = re.compile(r"^-?[a-z0-9][a-z0-9_-]*:[a-z0-9][a-z0-9_.-]*$", re.IGNORECASE)
_DIGITISH = re.compile(r"^[+(]?[\d()\-.]+$")
_ID = re.compile(r"^(?:#|b)?(\d{1,9})$", re.IGNORECASE)
_SENDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .-]{0,10}$")
_DASHES = ("--", "—", "–")


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command; verb is `send` for a broadcast, else one of VERBS (or `reply_hint`)."""

    verb: str
    broadcast_id: int | None = None
    audience: str = ""
    message: str = ""
    number: str = ""
    at: str | None = None
    sender: str | None = None
    kind: str = BroadcastKind.ALERT


def parse_command(text: str) -> Command:
    """Parse the text after `/sms` (a leading `/sms` is ignored)."""
    body = strip_prefix(text)
    tokens = tokenize(body)
    if not tokens:
        return Command("help")
    head = tokens[0]
    word = "" if head.quoted else head.text.lower()
    if word in VERBS:
        return _verb(word, tokens[1:], body=body)
    return _compose(tokens, body)


def _broadcast_id(verb: str, tokens: list[Token], *, required: bool) -> int | None:
    if not tokens:
        if required:
            raise CommandSyntaxError(
                f"say which broadcast: /sms {verb} 12 (see /sms list for numbers)"
            )
        return None
    match = _ID.match(tokens[0].text.strip())
    if not match or tokens[0].quoted:
        raise CommandSyntaxError(
            f"{tokens[0].text!r} is not a broadcast number: write /sms {verb} 12"
        )
    if len(tokens) > 1:
        raise CommandSyntaxError(f"only one broadcast number, e.g. /sms {verb} {match.group(1)}")
    return int(match.group(1))


def _text_of(tokens: list[Token], body: str) -> str:
    """The message: one quoted string as written, or the raw rest of the line."""
    if not tokens:
        return ""
    if tokens[0].quoted:
        if len(tokens) > 1:
            raise CommandSyntaxError("put the whole message inside one pair of quotes")
        return tokens[0].text
    return body[tokens[0].start : tokens[-1].end]


def _verb(verb: str, rest: list[Token], *, body: str) -> Command:
    if verb in ("help", "list", "groups"):
        return Command(verb)
    if verb == "status":
        return Command(verb, broadcast_id=_broadcast_id(verb, rest, required=False))
    if verb in ID_VERBS:
        return Command(verb, broadcast_id=_broadcast_id(verb, rest, required=True))
    if verb == "test":
        return Command(verb, message=_text_of(rest, body).strip())
    # reply <number> <text>: a number written with spaces is several digit tokens.
    k = 0
    while k < len(rest) and not rest[k].quoted and _DIGITISH.match(rest[k].text):
        k += 1
    if k == 0:
        raise CommandSyntaxError('say who to reply to: /sms reply +254712345678 "Thanks, noted"')
    number = " ".join(t.text for t in rest[:k])
    message = _text_of(rest[k:], body).strip()
    if not message:
        raise CommandSyntaxError(
            f'add the text after the number: /sms reply {number} "Thanks, noted"'
        )
    return Command(verb, number=number, message=message)


def _options(tokens: list[Token]) -> tuple[dict[str, str], list[Token], list[Token], int]:
    """Pull out --at/--sender/--kind (phones turn -- into —): options, other tokens, used ones,
    and where the --at value ends in the text (-1 without --at)."""
    opts: dict[str, str] = {}
    rest: list[Token] = []
    used: list[Token] = []
    at_end = -1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        dash = next((d for d in _DASHES if tok.text.startswith(d)), None)
        name, _, value = tok.text[len(dash) :].partition("=") if dash else ("", "", "")
        name = name.lower()
        if tok.quoted or not dash or not name or (dash != "--" and name not in OPTIONS):
            rest.append(tok)
            i += 1
            continue
        if name not in OPTIONS:
            close = difflib.get_close_matches(name, OPTIONS, n=1, cutoff=0.6)
            hint = f"did you mean --{close[0]}?" if close else "use --at, --sender or --kind"
            raise CommandSyntaxError(f"unknown option --{name} — {hint}")
        used.append(tok)
        quoted = False
        if not value:
            if i + 1 >= len(tokens):
                raise CommandSyntaxError(f"--{name} needs a value, e.g. {_OPTION_EXAMPLES[name]}")
            i += 1
            value, quoted = tokens[i].text, tokens[i].quoted
            used.append(tokens[i])
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if name == "at" and not quoted and takes_clock(value, nxt):
            assert nxt is not None
            value = f"{value} {nxt.text}"  # --at tomorrow 07:00, --at 2026-12-01 07:00
            used.append(nxt)
            i += 1
        opts[name] = value.strip()
        if name == "at":
            at_end = tokens[i].end
        i += 1
    return opts, rest, used, at_end


_OPTION_EXAMPLES = {
    "at": '--at "2026-12-01 07:00"',
    "sender": "--sender UNIVERSITY",
    "kind": "--kind promo",
}


def _audience_like(tok: Token) -> bool:
    if tok.quoted:
        return False
    parts = [p for p in tok.text.split(",") if p]
    if not parts:
        return tok.text == ","
    return all(
        _LABEL.match(p) or p.lower() in ("all", "everyone") or _DIGITISH.match(p) for p in parts
    )


def _number_part(tok: Token) -> bool:
    return not tok.quoted and bool(_DIGITISH.match(tok.text.rstrip(",")))


def _audience_prefix(tokens: list[Token]) -> int:
    """How many leading tokens name the audience when the message is not quoted."""
    k = 0
    while k < len(tokens):
        tok = tokens[k]
        if _number_part(tok):
            # Digits count only as a phone number: a run with at least 7 digits in all.
            j = k
            while j < len(tokens) and _number_part(tokens[j]):
                j += 1
                if tokens[j - 1].text.endswith(","):
                    break  # a comma ends this number
            if sum(c.isdigit() for t in tokens[k:j] for c in t.text) < 7:
                break
            k = j
        elif _audience_like(tok):
            k += 1
        else:
            break
    return k


def _time_continues(opts: dict[str, str], at_end: int, words: list[Token], body: str) -> None:
    """A stray word right after the --at value is most likely more of the time: say to quote it."""
    nxt = next((t for t in words if t.start >= at_end), None) if at_end >= 0 else None
    if nxt is not None and not nxt.quoted and not body[at_end : nxt.start].strip():
        raise CommandSyntaxError(
            f"--at {opts['at']} {nxt.text}: put a time of more than one word in quotes, "
            'e.g. --at "tomorrow 07:00" or --at "2026-12-01 07:00"'
        )


def _compose(tokens: list[Token], body: str) -> Command:
    opts, rest, used, at_end = _options(tokens)
    quoted = next((i for i, t in enumerate(rest) if t.quoted), None)
    if quoted and all(_audience_like(t) for t in rest[:quoted]):
        audience, message, after = rest[:quoted], rest[quoted].text, rest[quoted + 1 :]
        if after:
            _time_continues(opts, at_end, after, body)
            raise CommandSyntaxError(
                f"text after the closing quote ({after[0].text!r}): put the whole message "
                "inside the quotes, and options like --at after it"
            )
    else:
        k = _audience_prefix(rest)
        audience, words = rest[:k], rest[k:]
        if not audience:
            raise CommandSyntaxError(_no_audience(rest[0] if rest else None))
        if not words:
            raise CommandSyntaxError(f"add the message after the audience, e.g. {EXAMPLE}")
        start, end = words[0].start, words[-1].end
        if any(start < t.start < end for t in used):
            _time_continues(opts, at_end, words, body)
            raise CommandSyntaxError(
                "put options like --at before or after the message, not inside it"
            )
        message = words[0].text if len(words) == 1 and words[0].quoted else body[start:end]
    if not message.strip():
        raise CommandSyntaxError(f"the message is empty: {EXAMPLE}")
    kind = opts.get("kind", BroadcastKind.ALERT).lower()
    if kind not in KINDS:
        raise CommandSyntaxError(f"--kind {kind}: use --kind promo or --kind alert")
    sender = opts.get("sender")
    if sender is not None and not _SENDER.match(sender):
        raise CommandSyntaxError(
            f"--sender {sender}: use 1-11 letters or digits, e.g. --sender UNIVERSITY"
        )
    return Command(
        "send",
        audience=" ".join(t.text for t in audience),
        message=message,
        at=opts.get("at"),
        sender=sender,
        kind=kind,
    )


def _no_audience(first: Token | None) -> str:
    if first is not None and not first.quoted and first.text.isalpha():
        word = first.text.lower()
        close = difflib.get_close_matches(word, VERBS, n=1, cutoff=0.7)
        if close:
            return f"unknown command {word} — did you mean /sms {close[0]}? (see /sms help)"
        return (
            f"{first.text!r} is not an audience: name a group like club:ict, all, or a number, "
            f"e.g. {EXAMPLE} (see /sms groups)"
        )
    return f"start with who to send to, e.g. {EXAMPLE}"
