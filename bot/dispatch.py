"""The dispatch worker: claims outbox batches, sends them through the router, settles results."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from bot.broadcasts import BroadcastService
from bot.clock import Clock
from bot.config_types import Config
from bot.notify import Notifier
from bot.ratelimit import GatewayLimiter
from bot.routing import Router
from bot.schedule import in_quiet_hours
from bot.settle import Settler
from gateway.base import Gateway, GatewayAmbiguousError, GatewayError, OutgoingMessage
from storage import outbox
from storage.db import Database
from storage.outbox import Claimed

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
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.batches_sent = 0

    def wake(self) -> None:
        """Tell idle lanes that new rows are ready."""
        self._wake.set()

    async def recover(self) -> int:
        """Mark rows left in flight by a crash as `unknown`; call once before start()."""
        stamp = self.clock.now().isoformat()
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
            for slot in range(max(1, int(getattr(gw, "concurrency", 1)))):
                task = asyncio.create_task(self._lane(name, gw), name=f"lane-{name}-{slot}")
                self._tasks.append(task)
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))

    async def stop(self) -> None:
        """Let in-flight batches settle, then stop the lanes."""
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

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

    async def run_once(self, name: str, gw: Gateway) -> bool:
        """Claim, send and settle one batch on gateway `name`; False when nothing was ready."""
        size = min(self.config.dispatch.batch_size, gw.max_recipients_per_request)
        limiter = self.limiters.get(name)
        now = self.clock.now()
        d = self.config.dispatch
        allow_promo = not in_quiet_hours(
            now, start=d.quiet_start, end=d.quiet_end, zone=self.config.timezone
        )
        async with self.db.transaction() as tx:
            batch = await outbox.claim(
                tx,
                now=now.timestamp(),
                gateway=name,
                batch_id=self.new_id(),
                limit=size,
                allow_promo=allow_promo,
                stamp=now.isoformat(),
            )
            if batch is not None and batch.broadcast_id is not None and batch.ids:
                await self.settler.mark_sending(tx, batch.broadcast_id, stamp=now.isoformat())
        if batch is None:
            return False
        if not batch.ids:  # every row in it had opted out
            await self.settler.after_batch(batch.broadcast_id)
            return True
        if limiter is not None:
            await limiter.acquire(len(batch.ids))
        await self._send(name, gw, batch)
        return True

    async def _send(self, name: str, gw: Gateway, batch: Claimed) -> None:
        message = OutgoingMessage(
            text=batch.text, recipients=batch.phones, sender_id=batch.sender_id, keys=batch.ids
        )
        try:
            results = await gw.send(message)
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
        else:
            self.router.succeeded(name)
            self.batches_sent += 1
            await self.settler.results(batch, results, gateway=name)
        self.wake()

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
