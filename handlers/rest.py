"""The REST API under /api/v1: bearer-token auth, thin calls into the core, JSON errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bot.broadcasts.service import Decision, Outcome
from bot.errors import UserError
from bot.server import CORE
from bot.validate import check_text
from bot.views import BroadcastKind
from handlers.http import bearer_person, field, json_error, read_json
from handlers.openapi import openapi_document
from storage import SQLITE_INT_LIMIT

MAX_IDS = 1000


def _broadcast_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:  # not "²"
        raise web.HTTPNotFound(text=f"no broadcast {raw}")
    return int(raw)


def parse_send_at(value: str, zone: Any) -> datetime:
    """An ISO 8601 time; without an offset it is read in the organisation's zone."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"send_at: not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> Any:
    """A text field of a JSON body; unpaired surrogates are refused naming the character."""
    value = field(body, name, str, required=required)
    if value is not None:
        check_text(value, name=name)
    return value


async def send_sms(request: web.Request) -> web.Response:
    """POST /api/v1/sms/send {to, message} → {id}."""
    person = bearer_person(request)
    body = await read_json(request)
    core = request.app[CORE]
    message = field(body, "message", str)  # the core checks the text itself
    row_id = await core.messaging.send_one(_text(body, "to"), message, person=person)
    return web.json_response({"id": row_id}, status=202)


async def create_broadcast(request: web.Request) -> web.Response:
    """POST /api/v1/broadcasts {audience, message, send_at?, kind?, sender_id?}."""
    person = bearer_person(request)
    body = await read_json(request)
    core = request.app[CORE]
    send_at = _text(body, "send_at", required=False)
    view = await core.broadcasts.compose(
        audience=_text(body, "audience"),
        message=field(body, "message", str),  # the core checks the text itself
        requester=person,
        kind=_text(body, "kind", required=False) or BroadcastKind.ALERT,
        send_at=parse_send_at(send_at, core.config.timezone) if send_at else None,
        sender_id=_text(body, "sender_id", required=False),
    )
    return web.json_response(view.as_json(), status=201)


async def get_broadcast(request: web.Request) -> web.Response:
    """GET /api/v1/broadcasts/{id} → state, counts and cost."""
    bearer_person(request)
    view = await request.app[CORE].broadcasts.view(_broadcast_id(request))
    return web.json_response(view.as_json())


async def approve_broadcast(request: web.Request) -> web.Response:
    """POST /api/v1/broadcasts/{id}/approve."""
    person = bearer_person(request)
    decision = await request.app[CORE].broadcasts.approve(_broadcast_id(request), person=person)
    return _decision(decision)


async def cancel_broadcast(request: web.Request) -> web.Response:
    """POST /api/v1/broadcasts/{id}/cancel."""
    person = bearer_person(request)
    decision = await request.app[CORE].broadcasts.cancel(_broadcast_id(request), person=person)
    return _decision(decision)


def _decision(decision: Decision) -> web.Response:
    if decision.outcome is Outcome.REFUSED:
        status = 403 if decision.forbidden else 409
        return json_error(
            status, "forbidden" if decision.forbidden else "conflict", decision.message
        )
    return web.json_response(
        {**decision.view.as_json(), "outcome": decision.outcome, "detail": decision.message}
    )


async def retry_sms(request: web.Request) -> web.Response:
    """POST /api/v1/sms/retry {id}: queue a failed or unknown message again."""
    person = bearer_person(request)
    body = await read_json(request)
    row_id = field(body, "id", int)
    if abs(row_id) >= SQLITE_INT_LIMIT:  # SQLite's integers are 64-bit
        raise UserError("id: out of range")
    state = await request.app[CORE].messaging.retry(row_id, person=person)
    return web.json_response({"id": row_id, "state": state}, status=202)


async def delivery_status(request: web.Request) -> web.Response:
    """POST /api/v1/sms/delivery_report {ids} → the current statuses."""
    bearer_person(request)
    body = await read_json(request)
    ids = field(body, "ids", list)
    if len(ids) > MAX_IDS or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise UserError(f"ids: must be a list of at most {MAX_IDS} integers")
    if not all(abs(i) < SQLITE_INT_LIMIT for i in ids):  # SQLite's integers are 64-bit
        raise UserError("ids: out of range")
    return web.json_response({"messages": await request.app[CORE].messaging.statuses(ids)})


async def openapi(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json."""
    return web.json_response(openapi_document(request.app[CORE].config.server.public_url))


def add_rest_routes(app: web.Application) -> None:
    """Register the REST API."""
    r = app.router
    r.add_post("/api/v1/sms/send", send_sms)
    r.add_post("/api/v1/sms/retry", retry_sms)
    r.add_post("/api/v1/sms/delivery_report", delivery_status)
    r.add_post("/api/v1/broadcasts", create_broadcast)
    r.add_get("/api/v1/broadcasts/{id}", get_broadcast)
    r.add_post("/api/v1/broadcasts/{id}/approve", approve_broadcast)
    r.add_post("/api/v1/broadcasts/{id}/cancel", cancel_broadcast)
    r.add_get("/api/v1/openapi.json", openapi)
