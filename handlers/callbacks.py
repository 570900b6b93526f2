"""Gateway callbacks: Africa's Talking delivery reports (and inbound SMS), behind a path secret."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, unquote_to_bytes

from aiohttp import web

from bot.inbound.service import scrub, scrub_id
from bot.server import CORE
from gateway.africastalking.callbacks import parse_delivery_report, parse_inbound
from handlers.http import read_form, secret_matches

logger = logging.getLogger(__name__)


def _check_secret(request: web.Request) -> None:
    at = request.app[CORE].config.gateways.africastalking
    given = request.match_info.get("secret", "")
    if at is None or not secret_matches(given, at.callback_secret):
        raise web.HTTPNotFound(text="not found")


async def at_delivery(request: web.Request) -> web.Response:
    """POST /callbacks/africastalking/{secret}/delivery: record a delivery report once."""
    _check_secret(request)
    form = await read_form(request)
    report = parse_delivery_report(form)
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


async def at_inbound(request: web.Request) -> web.Response:
    """POST /callbacks/africastalking/{secret}/inbound: store an incoming SMS, then answer 200."""
    _check_secret(request)
    form = await read_sms_form(request)
    sms = parse_inbound(form)
    result = await request.app[CORE].inbound.handle(sms)
    if result.duplicate:
        logger.info("inbound %s: duplicate callback ignored", sms.provider_id)
    duplicate = "true" if result.duplicate else "false"  # a fixed shape: no JSON encoder needed
    body = f'{{"ok": true, "id": {int(result.id)}, "duplicate": {duplicate}}}'
    return web.Response(text=body, content_type="application/json")


def add_callback_routes(app: web.Application) -> None:
    """Register the gateway callback routes."""
    app.router.add_post("/callbacks/africastalking/{secret}/delivery", at_delivery)
    app.router.add_post("/callbacks/africastalking/{secret}/inbound", at_inbound)
