"""The one assembly of the core's services, for the server, the CLI and tests alike."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.broadcasts.service import BroadcastService
from bot.clock import Clock, new_token
from bot.config.types import Config
from bot.contacts.addressbook import AddressBook
from bot.contacts.phones import PhoneNormaliser
from bot.deps import Deps
from bot.dispatch.delivery import DeliveryService
from bot.dispatch.settle import Settler
from bot.dispatch.worker import Dispatcher, Wakeup
from bot.inbound.service import InboundService
from bot.messaging import Messaging
from bot.notify import FanOut
from gateway.base import Gateway, InboundSink, ReportSink
from storage import open_database
from storage.db import Database


@dataclass(slots=True)
class Core:
    """Everything the front ends call."""

    config: Config
    db: Database
    clock: Clock
    phones: PhoneNormaliser
    notifier: FanOut
    book: AddressBook
    broadcasts: BroadcastService
    messaging: Messaging
    delivery: DeliveryService
    dispatcher: Dispatcher
    inbound: InboundService
    gateways: dict[str, Gateway] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GatewayHooks:
    """What the core hands a gateway factory: where reports and received SMS go, and more."""

    on_report: ReportSink  # the core's DeliveryService
    on_inbound: InboundSink  # the core's InboundService, for SMS a gateway receives itself
    db: Database
    clock: Clock


GatewayFactory = Callable[[GatewayHooks], Mapping[str, Gateway]]


def build_core(
    config: Config,
    db: Database,
    *,
    gateways: Mapping[str, Gateway] | GatewayFactory | None = None,
    clock: Clock | None = None,
    notifier: FanOut | None = None,
    rng: random.Random | None = None,
) -> Core:
    """Wire the services; nothing starts until dispatcher.start().

    `gateways` is a mapping of ready gateways, or a factory handed the core's sinks for the
    delivery reports and SMS that gateways receive by themselves; None: no gateways (the CLI,
    whose commands leave the sending to the running server).
    """
    clock = clock or Clock()
    notifier = notifier or FanOut()
    phones = PhoneNormaliser(config.default_region)
    wakeup = Wakeup()
    deps = Deps(db=db, config=config, phones=phones, clock=clock, notifier=notifier)
    broadcasts = BroadcastService(deps, wake=wakeup.bulk)
    settler = Settler(deps, broadcasts=broadcasts, rng=rng or random.Random())
    delivery = DeliveryService(db, clock=clock, on_change=settler.progress)
    inbound = InboundService(deps, wake=wakeup.priority)
    if callable(gateways):
        hooks = GatewayHooks(
            on_report=delivery.apply, on_inbound=inbound.handle_received, db=db, clock=clock
        )
        gateways = gateways(hooks)
    routed = dict(gateways or {})
    dispatcher = Dispatcher(deps, gateways=routed, settler=settler, wakeup=wakeup, new_id=new_token)
    return Core(
        config=config,
        db=db,
        clock=clock,
        phones=phones,
        notifier=notifier,
        book=AddressBook(db, phones, clock=clock),
        broadcasts=broadcasts,
        messaging=Messaging(deps, wake=wakeup.priority, broadcasts=broadcasts),
        delivery=delivery,
        dispatcher=dispatcher,
        inbound=inbound,
        gateways=routed,
    )


@asynccontextmanager
async def open_core(
    config: Config,
    *,
    gateways: Mapping[str, Gateway] | GatewayFactory | None = None,
    clock: Clock | None = None,
    notifier: FanOut | None = None,
    rng: random.Random | None = None,
) -> AsyncIterator[Core]:
    """The config's database opened (and migrated) and a core built on it; closed after.

    Nothing starts: the server recovers, starts the gateways and the dispatcher itself.
    """
    db = await open_database(config.database)
    try:
        yield build_core(config, db, gateways=gateways, clock=clock, notifier=notifier, rng=rng)
    finally:
        await db.close()
