"""Gateway callbacks: delivery reports and inbound SMS, behind a path secret, for every kind.

The routes come from gateway.kinds: a kind with callbacks gets
/callbacks/<kind>/{secret}/delivery and /inbound for the parsers it declares.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from aiohttp import web

from bot.inbound.service import scrub, scrub_id
from bot.server import CORE
from gateway.base import DeliveryReport, InboundSms
from gateway.contract import GatewayKind
from gateway.kinds import KINDS
from handlers.http import Handler, read_form, secret_matches

logger = logging.getLogger(__name__)


Form = Mapping[str, str]
Answer = Callable[[web.Request], Awaitable[web.Response]]


def behind_secret(kind: GatewayKind[Any], secret: Callable[[Any], str], answer: Answer) -> Handler:
    """A route that answers 404 unless the path holds the configured kind's secret."""

    async def route(request: web.Request) -> web.Response:
        settings = request.app[CORE].config.gateways.settings(kind)
        given = request.match_info.get("secret", "")
        if settings is None or not secret_matches(given, secret(settings)):
            raise web.HTTPNotFound(text="not found")
        return await answer(request)

    return route


async def record_delivery(
    request: web.Request, *, parse: Callable[[Form], DeliveryReport]
) -> web.Response:
    """POST /callbacks/<kind>/{secret}/delivery: record a delivery report once."""
    form = await read_form(request)
    report = parse(form)
    outcome = await request.app[CORE].delivery.apply(report)
    logger.info("delivery report %s: %s (%s)", report.provider_id, report.provider_status, outcome)
    return web.json_response({"ok": True, "result": outcome})


MAX_FORM_FIELDS = 50


async def read_sms_form(request: web.Request) -> dict[str, str]:
    """A urlencoded form read as UTF-8; bytes that are not UTF-8 become U+FFFD, not a refusal.

    An SMS with one garbled character is still a message someone sent: it is kept. In `id`
    (the key a retried callback is recognised by) they are written as escapes instead, so two
    ids that differ only there stay two messages.
    """
    if request.content_type != "application/x-www-form-urlencoded":
        try:
            pairs = list((await read_form(request)).items())
        except LookupError:  # an unknown charset named by a multipart part
            raise web.HTTPBadRequest(text="unknown character set in the form") from None
    else:
        body = await request.read()
        if body.isascii():  # what gateways send: percent-encoded, so read on the fast path
            return _ascii_form(body.decode("ascii"))
        try:
            pairs = parse_qsl(
                body.decode("utf-8", "surrogateescape"),
                keep_blank_values=True,
                errors="surrogateescape",
                max_num_fields=MAX_FORM_FIELDS,
            )
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"unreadable form: {exc}") from None
    form: dict[str, str] = {}
    for raw_key, value in pairs:
        _put(form, scrub(raw_key), value)
    return form


def _put(form: dict[str, str], key: str, value: str) -> None:
    if key in form:
        raise web.HTTPBadRequest(text=f"field {key}: given more than once")
    form[key] = scrub_id(value) if key == "id" else scrub(value)


def _unquote(part: str) -> tuple[str, bool]:
    """One ASCII form key or value decoded (as parse_qsl does); True if it may need scrubbing."""
    part = part.replace("+", " ")
    if "%" not in part:
        return part, False
    raw = unquote_to_bytes(part)
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape"), True


def _ascii_form(text: str) -> dict[str, str]:
    """An ASCII urlencoded body read like parse_qsl(keep_blank_values=True, surrogateescape)."""
    if text.count("&") >= MAX_FORM_FIELDS:
        raise web.HTTPBadRequest(text="unreadable form: Max number of fields exceeded")
    form: dict[str, str] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key, bad_key = _unquote(raw_key)
        value, bad_value = _unquote(raw_value)
        if bad_key or bad_value or key in form:
            _put(form, scrub(key), value)
        else:
            form[key] = value
    return form


async def store_inbound(
    request: web.Request, *, parse: Callable[[Form], InboundSms]
) -> web.Response:
    """POST /callbacks/<kind>/{secret}/inbound: store an incoming SMS, then answer 200."""
    form = await read_sms_form(request)
    sms = parse(form)
    result = await request.app[CORE].inbound.handle(sms)
    if result.duplicate:
        logger.info("inbound %s: duplicate callback ignored", sms.provider_id)
    duplicate = "true" if result.duplicate else "false"  # a fixed shape: no JSON encoder needed
    body = f'{{"ok": true, "id": {int(result.id)}, "duplicate": {duplicate}}}'
    return web.Response(text=body, content_type="application/json")


def add_callback_routes(app: web.Application) -> None:
    """Register each gateway kind's callback routes, one per parser it declares."""
    for kind in KINDS:
        callbacks = kind.callbacks
        if callbacks is None:
            continue
        base = f"/callbacks/{kind.name}/{{secret}}"
        if callbacks.delivery is not None:
            answer = partial(record_delivery, parse=callbacks.delivery)
            app.router.add_post(f"{base}/delivery", behind_secret(kind, callbacks.secret, answer))
        if callbacks.inbound is not None:
            answer = partial(store_inbound, parse=callbacks.inbound)
            app.router.add_post(f"{base}/inbound", behind_secret(kind, callbacks.secret, answer))
