"""Token buckets for messages per second and requests per second, per gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)


class TokenBucket:
    """A bucket refilled at `rate` tokens per second, holding at most `burst`."""

    def __init__(self, rate: float, *, burst: float | None = None, clock: Callable[[], float]):
        self.rate = rate
        self.burst = max(burst if burst is not None else rate, 1.0)
        self.tokens = self.burst
        self.clock = clock
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def delay_for(self, n: float) -> float:
        """Seconds to wait before `n` tokens can be taken (0 when they can be now)."""
        self._refill()
        need = min(n, self.burst) - self.tokens
        return 0.0 if need <= 0 else need / self.rate

    async def take(self, n: float) -> None:
        """Wait for and take `n` tokens (a request larger than the burst takes the whole bucket)."""
        while (wait := self.delay_for(n)) > 0:
            await asyncio.sleep(wait)
        self.tokens -= min(n, self.burst) if n > self.burst else n

    def refund(self, n: float) -> None:
        """Give back tokens taken for work that did not happen."""
        self.tokens = min(self.burst, self.tokens + n)


class GatewayLimiter:
    """Both limits of one gateway."""

    def __init__(
        self, *, messages_per_second: float, requests_per_second: float, clock: Callable[[], float]
    ):
        self.messages = TokenBucket(messages_per_second, clock=clock)
        self.requests = TokenBucket(requests_per_second, clock=clock)

    async def acquire(self, messages: int) -> None:
        """Wait until one request carrying `messages` messages may go."""
        await self.requests.take(1)
        await self.messages.take(messages)
