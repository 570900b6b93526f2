"""What every service of the core is built on, handed to each as one object."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config.types import Config
from bot.contacts.phones import PhoneNormaliser
from bot.notify import Notifier
from storage.db import Database


@dataclass(frozen=True, slots=True)
class Deps:
    """The one database, the config, the number normaliser, the clock and the notifier."""

    db: Database
    config: Config
    phones: PhoneNormaliser
    clock: Clock
    notifier: Notifier


class Service:
    """A service of the core: reads its dependencies as attributes."""

    def __init__(self, deps: Deps) -> None:
        self.db = deps.db
        self.config = deps.config
        self.phones = deps.phones
        self.clock = deps.clock
        self.notifier = deps.notifier
