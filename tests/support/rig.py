"""One rig for whole-broadcast tests: a core on a seeded database, its dispatcher running."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from bot.clock import Clock
from bot.config.types import Config
from bot.core import Core, open_core
from bot.notify import FanOut
from bot.views import BroadcastView
from gateway.base import Gateway
from tests.support import db
from tests.support.base import CONTACTS_CSV, seed_contacts
from tests.support.recorder import Recorder

S = TypeVar("S")

#: The outbox columns a broadcast's audit reads.
AUDIT_COLUMNS = ("phone", "state", "attempts", "provider_id", "error")


async def approved_broadcast(
    core: Core, audience: str, message: str, *, recipients: int | None = None
) -> int:
    """Compose as the registrar (to `recipients` people, if given), approve as the dean."""
    people = core.config.people
    view = await core.broadcasts.compose(
        audience=audience, message=message, requester=people["registrar"]
    )
    if recipients is not None:
        assert view.recipients == recipients
    decision = await core.broadcasts.approve(view.id, person=people["dean"])
    assert decision.outcome == "approved", decision.message
    return view.id


async def wait_state(core: Core, bid: int, *states: str, within: float = 20.0) -> BroadcastView:
    """Wait until the broadcast is in one of `states`."""
    async with asyncio.timeout(within):
        while (view := await core.broadcasts.view(bid)).state not in states:
            await asyncio.sleep(0.02)
    return view


@dataclass
class Rig(Generic[S]):
    """A running core, what it told staff, and the gateway side the test drives (`side`).

    `side` is a fake Africa's Talking server, or a modem pool and its fake dongles.
    `message` and `recipients` are what `broadcast()` sends and expects by default.
    """

    core: Core
    side: S
    recorder: Recorder
    clock: Clock
    message: str = "Exam at 9"
    recipients: int | None = None

    async def broadcast(self, audience: str = "club:ict", message: str | None = None) -> int:
        """Compose as the registrar and approve as the dean; return the broadcast's id."""
        return await approved_broadcast(
            self.core, audience, message or self.message, recipients=self.recipients
        )

    async def wait_state(self, bid: int, *states: str, within: float = 20.0) -> BroadcastView:
        """Wait until the broadcast is in one of `states`."""
        return await wait_state(self.core, bid, *states, within=within)

    async def wait_done(self, bid: int, within: float = 20.0) -> BroadcastView:
        """Wait until the broadcast is done."""
        return await wait_state(self.core, bid, "done", within=within)

    async def outbox(self, bid: int) -> list[dict[str, Any]]:
        """The broadcast's outbox rows (AUDIT_COLUMNS), in id order."""
        return await db.outbox_rows(self.core.db, *AUDIT_COLUMNS, broadcast_id=bid)


@asynccontextmanager
async def open_rig(
    config: Config,
    side: S,
    *,
    gateways: Mapping[str, Gateway],
    tmp_path: Path,
    contacts: Sequence[str] = (CONTACTS_CSV,),
    clock: Clock | None = None,
    rng: random.Random | None = None,
    message: str = "Exam at 9",
    recipients: int | None = None,
) -> AsyncIterator[Rig[S]]:
    """A rig on the config's database, `contacts` imported, its dispatcher started."""
    clock = clock or Clock()
    recorder = Recorder(clock)
    notifier = FanOut([recorder])
    async with open_core(
        config, gateways=dict(gateways), clock=clock, notifier=notifier, rng=rng
    ) as core:
        for csv_text in contacts:
            await seed_contacts(core, tmp_path, csv_text)
        core.dispatcher.start()
        try:
            yield Rig(core, side, recorder, clock, message, recipients)
        finally:
            await core.dispatcher.stop()
