"""Assembly of the one aiohttp application: store, session, gateways, core, and routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from bot import __version__
from bot.clock import Clock
from bot.config.types import Config
from bot.core import Core, GatewayHooks, open_core
from bot.edges import Mount
from bot.logs import redact_everywhere
from bot.notify import FanOut
from gateway.base import Gateway, InboundSink, InboundSms, ReportSink
from gateway.contract import Wiring
from gateway.kinds import KINDS
from gateway.modem.config import build_pool
from gateway.modem.pool import MemoryLedger, ModemPoolGateway, UsageLedger
from gateway.modem.spec import ModemSettings
from storage import lease
from storage.db import Database
from storage.modem_usage import SqlUsageLedger

logger = logging.getLogger(__name__)

CORE = web.AppKey("core", Core)
CONFIG = web.AppKey("config", Config)
SESSION = web.AppKey("session", aiohttp.ClientSession)
GATEWAYS = web.AppKey("gateways", dict)
CLOCK = web.AppKey("clock", Clock)
NOTIFIER = web.AppKey("notifier", FanOut)
ON_CORE = web.AppKey("on_core", list)
STOP = web.AppKey("stop", asyncio.Event)  # set to stop the server (a signal, or the lease lost)


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
    app[STOP] = asyncio.Event()
    app.cleanup_ctx.append(_resources)
    app.router.add_get("/healthz", healthz)
    mount(app, config)
    return app


def build_gateways(
    config: Config,
    session: aiohttp.ClientSession,
    *,
    on_report: ReportSink | None,
    on_inbound: InboundSink | None = None,
    ledger: UsageLedger | None = None,
    now: Callable[[], datetime] | None = None,
) -> dict[str, Gateway]:
    """The routed gateways (primary and fallback), each built by its kind (gateway.kinds)."""
    wiring = Wiring(
        session=session,
        on_report=on_report,
        on_inbound=on_inbound or _inbound_unwired,
        ledger=ledger or MemoryLedger(),
        zone=config.timezone,
        now=now or Clock().now,
    )
    wanted = {config.gateways.primary, config.gateways.fallback} - {None}
    gateways: dict[str, Gateway] = {}
    for kind in KINDS:
        settings = config.gateways.settings(kind)
        if kind.name in wanted and settings is not None:
            gateways[kind.name] = kind.build(settings, wiring)
    return gateways


def build_modem_pool(
    config: Config,
    *,
    on_inbound: InboundSink,
    on_report: ReportSink | None,
    ledger: UsageLedger,
    now: Callable[[], datetime],
    settings: ModemSettings | None = None,
) -> ModemPoolGateway:
    """The 'modem' gateway alone, e.g. with a test's `settings`."""
    return build_pool(
        config.gateways.modems,
        on_inbound=on_inbound,
        on_report=on_report,
        ledger=ledger,
        zone=config.timezone,
        now=now,
        settings=settings,
    )


async def _inbound_unwired(sms: InboundSms) -> None:
    raise RuntimeError(f"no inbound handler; {sms.provider_id} stays on the modem")


async def _resources(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    app[SESSION] = session

    def served(hooks: GatewayHooks) -> dict[str, Gateway]:
        return build_gateways(
            config,
            session,
            on_report=hooks.on_report,
            on_inbound=hooks.on_inbound,
            ledger=SqlUsageLedger(hooks.db),
            now=hooks.clock.now,
        )

    expiry = config.server.lease_expiry_seconds
    try:
        # The lease is taken before anything acts on the rows: a second server stops there.
        async with (
            open_core(config, gateways=served, clock=app[CLOCK], notifier=app[NOTIFIER]) as core,
            _leased(core.db, expiry=expiry, stop=app[STOP]),
        ):
            app[GATEWAYS] = core.gateways
            app[CORE] = core
            for hook in app[ON_CORE]:
                await hook(app, core)
            await core.dispatcher.recover()
            for gw in core.gateways.values():
                await gw.start()  # e.g. the modem pool opens its ports
            core.dispatcher.start()
            logger.info(
                "database %s open; gateways: %s", config.database_path, ", ".join(core.gateways)
            )
            try:
                yield
            finally:
                await core.dispatcher.stop()
                for gw in core.gateways.values():
                    await gw.close()
        logger.info("database closed")
    finally:
        await session.close()


@contextlib.asynccontextmanager
async def _leased(db: Database, *, expiry: float, stop: asyncio.Event) -> AsyncIterator[None]:
    """Hold the database's instance lease (storage.lease.LeaseHeld if another server does)."""
    now = datetime.now(UTC)
    me = lease.Holder(
        host=socket.gethostname(),
        pid=os.getpid(),
        instance=secrets.token_hex(8),
        since=now,
        renewed_at=now,
    )
    previous = await lease.take(db, me, expiry=timedelta(seconds=expiry), gone=holder_gone)
    if previous is not None:
        logger.warning(
            "took over the lease of pid %d on %s (last renewed %s)",
            previous.pid,
            previous.host,
            previous.renewed_at.isoformat(timespec="seconds"),
        )
    renewer = asyncio.create_task(_renew(db, me.instance, interval=expiry / 3, stop=stop))
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        await lease.release(db, me.instance)


async def _renew(db: Database, instance: str, *, interval: float, stop: asyncio.Event) -> None:
    while True:
        await asyncio.sleep(interval)
        if await lease.renew(db, instance, now=datetime.now(UTC)) is lease.Renewal.LOST:
            logger.error("instance lease lost to another server: stopping")
            stop.set()
            return


def holder_gone(holder: lease.Holder) -> bool:
    """Whether a lease's holder is known dead: on this host, its process no longer runs."""
    if holder.host != socket.gethostname():
        return False
    if holder.pid == os.getpid():  # not us (another instance id): a predecessor whose pid we got
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


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
