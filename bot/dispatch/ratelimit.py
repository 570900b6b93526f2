"""Token buckets for messages per second and requests per second, per gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """A bucket refilled at `rate` tokens per second, holding at most `burst`.

    Taking more tokens than the bucket holds leaves it in debt (negative); the taker waits
    until the debt is paid, so a batch larger than the burst is paced like single messages.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float],
        sleep: Sleep = asyncio.sleep,
    ):
        self.rate = rate
        self.burst = max(burst if burst is not None else rate, 1.0)
        self.tokens = self.burst
        self.clock = clock
        self.sleep = sleep
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now

    def charge(self, n: float) -> float:
        """Take `n` tokens now, going into debt if need be; return the seconds until it is paid."""
        self._refill()
        self.tokens -= n
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    async def take(self, n: float) -> None:
        """Take `n` tokens and wait until the bucket is out of debt."""
        wait = self.charge(n)
        if wait > 0:
            try:
                await self.sleep(wait)
            except asyncio.CancelledError:
                self.refund(n)
                raise

    def refund(self, n: float) -> None:
        """Give back tokens taken for work that did not happen."""
        self._refill()
        self.tokens = min(self.burst, self.tokens + n)


class GatewayLimiter:
    """Both limits of one gateway."""

    def __init__(
        self,
        *,
        messages_per_second: float,
        requests_per_second: float,
        clock: Callable[[], float],
        sleep: Sleep = asyncio.sleep,
    ):
        self.messages = TokenBucket(messages_per_second, clock=clock, sleep=sleep)
        self.requests = TokenBucket(requests_per_second, clock=clock, sleep=sleep)
        self.sleep = sleep

    async def acquire(self, messages: int) -> None:
        """Wait until one request carrying `messages` messages may go (the longer of the waits)."""
        wait = max(self.requests.charge(1), self.messages.charge(messages))
        if wait > 0:
            try:
                await self.sleep(wait)
            except asyncio.CancelledError:
                self.requests.refund(1)
                self.messages.refund(messages)
                raise
