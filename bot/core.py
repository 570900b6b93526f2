"""The core's services wired together, for the server and for CLI commands alike."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass

from bot.broadcasts.service import BroadcastService
from bot.clock import Clock, new_token
from bot.config.types import Config
from bot.contacts.addressbook import AddressBook
from bot.contacts.phones import PhoneNormaliser
from bot.dispatch.delivery import DeliveryService
from bot.dispatch.worker import Dispatcher
from bot.inbound.service import InboundService
from bot.messaging import Messaging
from bot.notify import FanOut
from gateway.base import Gateway
from storage.db import Database

logger = logging.getLogger(__name__)


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


def build_core(
    config: Config,
    db: Database,
    *,
    gateways: Mapping[str, Gateway],
    clock: Clock | None = None,
    notifier: FanOut | None = None,
    rng: random.Random | None = None,
) -> Core:
    """Wire the services; nothing starts until dispatcher.start()."""
    clock = clock or Clock()
    notifier = notifier or FanOut()
    phones = PhoneNormaliser(config.default_region)
    holder: list[Dispatcher] = []

    def wake() -> None:
        if holder:
            holder[0].wake()

    def wake_urgent() -> None:
        if holder:
            holder[0].wake(urgent=True)

    broadcasts = BroadcastService(
        db, config, phones=phones, clock=clock, notifier=notifier, wake=wake
    )
    dispatcher = Dispatcher(
        db,
        config,
        gateways=gateways,
        broadcasts=broadcasts,
        notifier=notifier,
        clock=clock,
        new_id=new_token,
        rng=rng,
    )
    holder.append(dispatcher)
    delivery = DeliveryService(db, clock=clock, on_change=dispatcher.settler.progress)
    return Core(
        config=config,
        db=db,
        clock=clock,
        phones=phones,
        notifier=notifier,
        book=AddressBook(db, phones, clock=clock),
        broadcasts=broadcasts,
        messaging=Messaging(db, config, phones=phones, clock=clock, wake=wake_urgent),
        delivery=delivery,
        dispatcher=dispatcher,
        inbound=InboundService(
            db, config, phones=phones, clock=clock, notifier=notifier, wake=wake_urgent
        ),
    )
