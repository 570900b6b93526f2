"""Message templates: placeholders, greetings, footers, GSM 03.38 analysis and cost."""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config.types import DispatchConfig
from bot.errors import UserError
from bot.validate import check_text
from gateway.gsm import TextInfo, analyse

BUILTIN = ("name", "first_name", "phone", "greeting")
MAX_MESSAGE_CHARS = 1600


class TemplateError(UserError):
    """The message text has an unknown or malformed placeholder."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed message: literal text and placeholder names, in order."""

    source: str
    parts: tuple[tuple[str, str | None], ...]  # (literal, field or None)
    footer: str

    @property
    def fields(self) -> tuple[str, ...]:
        """The placeholder names used."""
        return tuple(dict.fromkeys(f for _, f in self.parts if f))

    @property
    def is_static(self) -> bool:
        """True when every recipient gets the same text."""
        return not any(f and f != "greeting" for _, f in self.parts)


def parse_template(text: str, *, valid: set[str], footer: str = "") -> Template:
    """Check placeholders against `valid`; literal braces are written {{ and }}."""
    check_text(text)
    if not text.strip():
        raise TemplateError("the message is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise TemplateError(f"the message is {len(text)} characters; the limit is 1600")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"bad placeholder: {exc}; write {{{{ and }}}} for literal braces"
        ) from None
    parts: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None))
            continue
        if spec or conversion or field not in valid:
            names = ", ".join("{" + v + "}" for v in sorted(valid))
            raise TemplateError(f"unknown placeholder {{{field}}}; valid ones: {names}")
        parts.append((literal, field))
    return Template(source=text, parts=tuple(parts), footer=footer)


def greeting(now_local: datetime, greetings: dict[str, str] | Any) -> str:
    """A time-of-day greeting, from config (morning/afternoon/evening) or sensible defaults."""
    key = "morning" if now_local.hour < 12 else "afternoon" if now_local.hour < 17 else "evening"
    seasonal = greetings.get(now_local.strftime("%m-%d")) if greetings else None
    if seasonal:
        return str(seasonal)
    defaults = {"morning": "Good morning", "afternoon": "Good afternoon", "evening": "Good evening"}
    return str((greetings or {}).get(key, defaults[key]))


def render_message(template: Template, values: dict[str, str], *, fallback: str) -> str:
    """Fill placeholders with values (never re-parsed), then add the footer."""
    out = []
    for literal, field in template.parts:
        out.append(literal)
        if field:
            value = values.get(field) or fallback
            out.append(value)
    text = "".join(out)
    if template.footer:
        text = f"{text}\n{template.footer}"
    return text


def contact_values(row: Any, *, greeting_text: str) -> dict[str, str]:
    """Placeholder values for one contact row (id, phone, name, first_name, extra)."""
    values = {k: str(v) for k, v in json.loads(row["extra"]).items()}
    values.update(
        name=row["name"], first_name=row["first_name"], phone=row["phone"], greeting=greeting_text
    )
    return values


@dataclass(slots=True)
class CostTally:
    """Segments and cost summed over rendered messages; remembers what forces UCS-2."""

    config: DispatchConfig
    messages: int = 0
    segments: int = 0
    max_segments: int = 0
    ucs2_messages: int = 0
    ucs2_chars: tuple[str, ...] = ()
    sample: str = ""
    sample_info: TextInfo | None = None

    def add(self, text: str, count: int = 1) -> TextInfo:
        """Count `count` recipients of `text`."""
        info = analyse(text)
        if not self.sample:
            self.sample, self.sample_info = text, info
        self.messages += count
        self.segments += info.segments * count
        self.max_segments = max(self.max_segments, info.segments)
        if info.encoding == "UCS-2":
            self.ucs2_messages += count
            if info.ucs2_chars:
                self.ucs2_chars = tuple(dict.fromkeys(self.ucs2_chars + tuple(info.ucs2_chars)))
        return info

    @property
    def cost(self) -> float:
        """Estimated cost at the configured price per segment."""
        return round(self.segments * self.config.price_per_segment, 2)
