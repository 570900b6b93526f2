"""Assembly of the one aiohttp application: store, session, gateways, core, and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from bot import __version__
from bot.clock import Clock
from bot.config.types import Config
from bot.core import Core, build_core
from bot.edges import Mount
from bot.logs import redact_everywhere
from bot.notify import FanOut
from gateway.africastalking.sender import AfricasTalkingGateway, build_ssl_context
from gateway.base import DeliveryReport, Gateway, InboundSms
from gateway.modem.intake import InboundSink
from gateway.modem.pool import MemoryLedger, ModemPoolGateway, UsageLedger
from gateway.modem.spec import ModemSettings
from gateway.simulator.gateway import SimulatorGateway
from storage import open_database
from storage.modem_usage import SqlUsageLedger

logger = logging.getLogger(__name__)

CORE = web.AppKey("core", Core)
CONFIG = web.AppKey("config", Config)
SESSION = web.AppKey("session", aiohttp.ClientSession)
GATEWAYS = web.AppKey("gateways", dict)
CLOCK = web.AppKey("clock", Clock)
NOTIFIER = web.AppKey("notifier", FanOut)
ON_CORE = web.AppKey("on_core", list)


def build_app(
    config: Config,
    *,
    mount: Mount,
    clock: Clock | None = None,
    notifier: FanOut | None = None,
) -> web.Application:
    """Create the app: resources open on start-up, close on clean-up; `mount` adds the routes."""
    redact_everywhere(config.secrets())  # whatever logs a request path or URL, and wherever
    app = web.Application(client_max_size=config.server.max_body_bytes)
    app[CONFIG] = config
    app[CLOCK] = clock or Clock()
    app[NOTIFIER] = notifier or FanOut()
    app[ON_CORE] = []
    app.cleanup_ctx.append(_resources)
    app.router.add_get("/healthz", healthz)
    mount(app, config)
    return app


def build_gateways(
    config: Config,
    session: aiohttp.ClientSession,
    *,
    on_report: Any,
    on_inbound: InboundSink | None = None,
    ledger: UsageLedger | None = None,
    now: Callable[[], datetime] | None = None,
) -> dict[str, Gateway]:
    """The routed gateways (primary and fallback), built from config."""
    gateways: dict[str, Gateway] = {}
    wanted = {config.gateways.primary, config.gateways.fallback} - {None}
    g = config.gateways
    if "simulator" in wanted and g.simulator is not None:
        gateways["simulator"] = SimulatorGateway(
            delivery_delay_seconds=g.simulator.delivery_delay_seconds,
            delivery_status=g.simulator.delivery_status,
            on_report=on_report,
        )
    if "africastalking" in wanted and g.africastalking is not None:
        at = g.africastalking
        gateways["africastalking"] = AfricasTalkingGateway(
            session=session,
            username=at.username,
            api_key=at.api_key,
            sender_id=at.sender_id,
            base_url=at.base_url,
            enqueue=at.enqueue,
            timeout_seconds=at.timeout_seconds,
            ssl=build_ssl_context(ca_bundle=at.ca_bundle, verify=not at.insecure_skip_tls_verify),
        )
    if "modem" in wanted and g.modems:
        gateways["modem"] = build_modem_pool(
            config,
            on_inbound=on_inbound or _inbound_unwired,
            on_report=on_report,
            ledger=ledger or MemoryLedger(),
            now=now or Clock().now,
        )
    return gateways


def build_modem_pool(
    config: Config,
    *,
    on_inbound: InboundSink,
    on_report: Any,
    ledger: UsageLedger,
    now: Callable[[], datetime],
    settings: ModemSettings | None = None,
) -> ModemPoolGateway:
    """The 'modem' gateway: one driver per [gateways.modem.<id>] table."""
    return ModemPoolGateway.create(
        list(config.gateways.modems),
        settings=settings or ModemSettings(),
        on_inbound=on_inbound,
        on_report=on_report,
        ledger=ledger,
        zone=config.timezone,
        now=now,
    )


async def _inbound_unwired(sms: InboundSms) -> None:
    raise RuntimeError(f"no inbound handler; {sms.provider_id} stays on the modem")


def modem_inbound(holder: list[Core]) -> InboundSink:
    """The modem's on_inbound: the core's InboundService; unusable messages are logged, dropped."""
    from bot.contacts.phones import PhoneError
    from bot.errors import UserError

    async def on_inbound(sms: InboundSms) -> None:
        try:
            await holder[0].inbound.handle(sms)
        except (PhoneError, UserError) as exc:  # e.g. an operator's alphanumeric promo
            logger.warning(
                "modem SMS %s from %r not usable (%s); removed from the SIM: %r",
                sms.provider_id,
                sms.sender,
                exc,
                sms.text,
            )

    return on_inbound


async def _resources(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    db = await open_database(config.database)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    app[SESSION] = session
    holder: list[Core] = []

    async def on_report(report: DeliveryReport) -> None:
        await holder[0].delivery.apply(report)

    gateways = build_gateways(
        config,
        session,
        on_report=on_report,
        on_inbound=modem_inbound(holder),
        ledger=SqlUsageLedger(db),
        now=app[CLOCK].now,
    )
    app[GATEWAYS] = gateways
    core = build_core(config, db, gateways=gateways, clock=app[CLOCK], notifier=app[NOTIFIER])
    holder.append(core)
    app[CORE] = core
    for hook in app[ON_CORE]:
        await hook(app, core)
    await core.dispatcher.recover()
    for gw in gateways.values():
        start = getattr(gw, "start", None)
        if start is not None:  # e.g. the modem pool opens its ports
            await start()
    core.dispatcher.start()
    logger.info("database %s open; gateways: %s", config.database_path, ", ".join(gateways))
    try:
        yield
    finally:
        await core.dispatcher.stop()
        for gw in gateways.values():
            close = getattr(gw, "close", None)
            if close is not None:
                await close()
        await session.close()
        await db.close()
        logger.info("database closed")


async def healthz(request: web.Request) -> web.Response:
    """200 with version, database state and each gateway's state."""
    app = request.app
    core = app[CORE]
    db_ok = await core.db.ping()
    routes = core.dispatcher.health()
    gateways = {}
    for name, gw in app[GATEWAYS].items():
        gateways[name] = {**dict(gw.health()), **routes.get(name, {})}
    return web.json_response(
        {"version": __version__, "database": {"ok": db_ok}, "gateways": gateways},
        status=200 if db_ok else 503,
    )
