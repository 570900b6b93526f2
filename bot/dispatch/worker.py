"""The dispatch worker: claims outbox batches, sends them through the router, settles results."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from bot.broadcasts.service import BroadcastService
from bot.clock import Clock
from bot.config.types import Config
from bot.dispatch.claims import Claims
from bot.dispatch.journal_applier import JournalApplier
from bot.dispatch.ratelimit import GatewayLimiter
from bot.dispatch.routing import Router
from bot.dispatch.settle import Settler
from bot.notify import Notifier
from gateway.base import (
    Gateway,
    GatewayAmbiguousError,
    GatewayError,
    OutgoingMessage,
    RecipientResult,
)
from storage import outbox
from storage.db import Database
from storage.outbox import Claimed
from storage.states import OutboxState

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class Dispatcher:
    """One lane per gateway slot; each lane has at most one batch in flight."""

    def __init__(
        self,
        db: Database,
        config: Config,
        *,
        gateways: Mapping[str, Gateway],
        broadcasts: BroadcastService,
        notifier: Notifier,
        clock: Clock,
        new_id: Callable[[], str],
        rng: random.Random | None = None,
    ):
        self.db = db
        self.config = config
        self.gateways = dict(gateways)
        self.clock = clock
        self.new_id = new_id
        self.router = Router(config.gateways.primary, config.gateways.fallback, clock=clock)
        self.settler = Settler(
            db,
            config,
            broadcasts=broadcasts,
            notifier=notifier,
            clock=clock,
            rng=rng or random.Random(),
        )
        self.notifier = notifier
        self.limiters = {
            name: GatewayLimiter(
                messages_per_second=limit.messages_per_second,
                requests_per_second=limit.requests_per_second,
                clock=clock.monotonic,
            )
            for name, limit in config.gateways.rate_limits.items()
        }
        # A batch is never larger than its gateway's message burst, so the wait before it
        # leaves stays short (its rows are `sending` meanwhile) and the rate holds.
        caps = {name: int(lim.messages.burst) for name, lim in self.limiters.items()}
        self.claims = Claims(
            db, config, settler=self.settler, clock=clock, new_id=new_id, caps=caps
        )
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self.applier = JournalApplier(db, settler=self.settler, clock=clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._busy = 0  # lanes sending batches back to back
        self.batches_sent = 0

    def wake(self, *, urgent: bool = False) -> None:
        """Tell idle lanes that new rows are ready (urgent: a reply or one-to-one message)."""
        if urgent:
            self._urgent.set()
        self._wake.set()

    async def recover(self) -> int:
        """Mark rows left in flight by a crash as `unknown`; call once before start()."""
        stamp = self.clock.now().isoformat()
        await self.settler.apply_journal()
        async with self.db.transaction() as tx:
            left = await outbox.recover_in_flight(tx, stamp=stamp)
        total = sum(n for _, _, n in left)
        for gateway, batch, n in left:
            logger.warning(
                "%d message(s) of batch %s on %s were in flight at the last stop; marked unknown "
                "(resend them on purpose with `smsops broadcasts resend`)",
                n,
                batch,
                gateway,
            )
        if total:
            await self.notifier.alert(
                f"{total} message(s) were in flight when smsops last stopped; they are marked "
                "unknown and were not re-sent. Check, then resend on purpose if needed."
            )
        return total

    def start(self) -> None:
        """Start one lane per gateway slot and a housekeeping task."""
        for name, gw in self.gateways.items():
            for slot in range(max(1, gw.concurrency)):
                task = asyncio.create_task(self._lane(name, gw), name=f"lane-{name}-{slot}")
                self._tasks.append(task)
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        applier = self.applier.run(lambda: self._stopping, lambda: self._busy > 0)
        self._tasks.append(asyncio.create_task(applier, name="journal-applier"))

    async def stop(self) -> None:
        """Let in-flight batches settle, then stop the lanes."""
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.flush_journal()

    async def _idle(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _lane(self, name: str, gw: Gateway) -> None:
        while not self._stopping:
            try:
                if not self.router.usable(name):
                    await self._idle()
                    continue
                sent = await self.run_once(name, gw)
                if not sent:
                    await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception:  # a lane must survive anything one batch does
                logger.exception("dispatch lane %s: unexpected error", name)
                await asyncio.sleep(1.0)

    async def flush_journal(self) -> None:
        """Write journaled batch outcomes to their rows, many batches in one transaction."""
        await self.applier.flush()

    async def run_once(self, name: str, gw: Gateway) -> bool:
        """Send batches on `name` back to back until none is ready; False if none was.

        While one request is in flight the next batch is reserved (`claimed`). When the answer
        comes, one small transaction journals it and names the reserved batch as the one
        leaving next; only then does that request leave. Outcomes reach the rows in grouped
        transactions off this path. So at most one batch per lane may be in flight, and a
        crash leaves at most that one batch `unknown`.
        """
        batch = await self.claims.claim(name, gw, state=OutboxState.SENDING)
        if batch is None:
            return False
        ahead: Claimed | None = None
        limiter = self.limiters.get(name)
        self._busy += 1
        try:
            while batch is not None:
                if not batch.ids:
                    batch, ahead = None, None
                    continue
                if limiter is not None:
                    await limiter.acquire(len(batch.ids))
                request = asyncio.create_task(self._request(gw, batch))
                if ahead is None and not self._stopping:
                    # in flight: write earlier outcomes and reserve the next batch, one commit
                    ahead = await self.claims.claim(
                        name, gw, state=OutboxState.CLAIMED, applier=self.applier
                    )
                    if ahead is not None and not ahead.ids:
                        ahead = None
                results = await request
                if results is None:  # the request failed; settled already
                    batch = None
                    continue
                self.router.succeeded(name)
                self.batches_sent += 1
                if ahead is None or self._stopping or not self.router.usable(name):
                    await self.flush_journal()
                    await self.settler.results(batch, results, gateway=name)
                    batch = None
                    continue
                batch = await self._journal_and_promote(name, batch, results, ahead)
                ahead = None
        finally:
            self._busy -= 1
            if ahead is not None:
                await self.claims.release(ahead)
        self.wake()
        return True

    async def _journal_and_promote(
        self,
        name: str,
        batch: Claimed,
        results: list[RecipientResult],
        ahead: Claimed,
    ) -> Claimed | None:
        """The critical path between two requests: journal the answer, clear the next batch."""
        plan = self.settler.plan(batch, results)
        urgent = self._urgent.is_set()
        self._urgent.clear()
        # a reply or one-to-one message jumps the reserved bulk batch
        following = await self.claims.promote(name, batch, plan, ahead, urgent=urgent)
        self.applier.add((name, batch, plan, following.batch_id if following else None))
        return following

    async def _request(self, gw: Gateway, batch: Claimed) -> list[RecipientResult] | None:
        """Send one batch; on failure settle it here and return None."""
        name = gw.name
        message = OutgoingMessage(
            text=batch.text, recipients=batch.phones, sender_id=batch.sender_id, keys=batch.ids
        )
        try:
            return await gw.send(message)
        except GatewayAmbiguousError as exc:
            self.router.failed(name, retry_after=exc.retry_after)
            await self.settler.unknown(batch, f"{name}: {exc}")
        except GatewayError as exc:
            self.router.failed(name, retry_after=exc.retry_after)
            await self.settler.request_failed(
                batch, exc, gateway=name, has_fallback=self.router.has_fallback_for(name)
            )
        except asyncio.CancelledError:
            # Shutting down mid-request: the request may have left. Never resend blindly.
            await asyncio.shield(self.settler.unknown(batch, f"{name}: stopped mid-request"))
            raise
        except Exception as exc:
            logger.exception("gateway %s raised unexpectedly", name)
            self.router.failed(name, retry_after=None)
            await self.settler.unknown(batch, f"{name}: {type(exc).__name__}: {exc}")
        return None

    async def _housekeeping(self) -> None:
        while not self._stopping:
            try:
                await self.settler.broadcasts.expire_due()
                await self.settler.finish_done()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("housekeeping failed")
            await asyncio.sleep(5.0)

    def health(self) -> dict[str, Any]:
        """Router state for /healthz."""
        return self.router.health()
