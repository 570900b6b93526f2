"""Gateway callbacks: Africa's Talking delivery reports (and inbound SMS), behind a path secret."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.app import CORE
from gateway.africastalking_callbacks import parse_delivery_report
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


def add_callback_routes(app: web.Application) -> None:
    """Register the gateway callback routes."""
    app.router.add_post("/callbacks/africastalking/{secret}/delivery", at_delivery)
