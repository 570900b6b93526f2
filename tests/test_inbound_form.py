"""The ASCII fast path of the inbound form reader reads bodies exactly as parse_qsl does."""

from __future__ import annotations

import itertools
import random
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from bot.inbound.service import scrub, scrub_id
from handlers.callbacks import MAX_FORM_FIELDS, _ascii_form

PIECES = ["a", "id", "text", "=", "&", "+", "%", "%2", "%20", "%2B", "%FF", "%C3", "%A9", "%3D"]
PIECES += ["%26", "%E2%82%AC", "%ED%A0%80", "%F0%9F%98%80", "%00", ""]


def general(text: str) -> dict[str, str] | str:
    """The general path: parse_qsl with surrogateescape, then scrub (what non-ASCII bodies get)."""
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, errors="surrogateescape", max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:
        return "400"
    form: dict[str, str] = {}
    for raw_key, value in pairs:
        key = scrub(raw_key)
        if key in form:
            return "400"
        form[key] = scrub_id(value) if key == "id" else scrub(value)
    return form


def fast(text: str) -> dict[str, str] | str:
    try:
        return _ascii_form(text)
    except web.HTTPBadRequest:
        return "400"


def test_fast_path_matches_parse_qsl_on_tricky_bodies() -> None:
    rng = random.Random(7)
    bodies = ["".join(p) for p in itertools.product(PIECES, repeat=2)]
    bodies += ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14))) for _ in range(5000)]
    bodies += [
        "id=%ff&text=%ff",
        "id=%80&id=%81",
        "from=%2B254712&text=STOP&date=2026-11-20+09%3A15",
    ]
    for body in bodies:
        assert fast(body) == general(body), body


@pytest.mark.parametrize("fields", [MAX_FORM_FIELDS, MAX_FORM_FIELDS + 1])
def test_fast_path_keeps_the_field_limit(fields: int) -> None:
    body = "&".join(f"f{i}=x" for i in range(fields))
    assert fast(body) == general(body)
    assert (fast(body) == "400") == (fields > MAX_FORM_FIELDS)
