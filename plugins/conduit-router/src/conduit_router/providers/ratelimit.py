"""Token buckets that wait rather than fail: one per provider and one per model.

A call takes a token from its provider's bucket and from its model's bucket; when one is
empty the call sleeps until a token is due (never longer than ``max_wait``, after which
:class:`RateLimitWaitTooLong` is raised so the router can fall back to another model).
Buckets are per process: the providers enforce the real quota, these keep one worker
from blowing through it and turning bursts into 429s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

__all__ = ["RateLimitWaitTooLong", "RateLimits", "TokenBucket"]


class RateLimitWaitTooLong(Exception):
    """A token would only be available after ``max_wait`` seconds."""

    def __init__(self, name: str, wait: float) -> None:
        super().__init__(f"rate limit {name!r} would need a {wait:.1f}s wait")
        self.name = name
        self.wait = wait


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up (starts full)."""

    def __init__(self, rate: float, burst: float | None = None, *, name: str = "bucket",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 requests per second, got {rate!r}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.name = name
        self._clock = clock
        self._tokens = self.burst
        self._updated = clock()
        self.waited = 0.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def reserve(self) -> float:
        """Take a token now (possibly going into debt); the seconds to wait before using it."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def peek_wait(self) -> float:
        self._refill()
        return 0.0 if self._tokens >= 1 else (1.0 - self._tokens) / self.rate

    async def acquire(self, max_wait: float = float("inf")) -> float:
        """Wait for a token; returns the seconds waited."""
        if self.peek_wait() > max_wait:
            raise RateLimitWaitTooLong(self.name, self.peek_wait())
        wait = self.reserve()
        if wait > 0:
            self.waited += wait
            await anyio.sleep(wait)
        return wait


class RateLimits:
    """The buckets of one provider: ``per_provider`` and ``per_model`` requests per second."""

    def __init__(self, provider: str, *, per_provider: float | None = None, per_model: float | None = None,
                 burst: float | None = None, max_wait: float = 30.0) -> None:
        self.provider = provider
        self.per_model = per_model
        self.burst = burst
        self.max_wait = max_wait
        self.provider_bucket = TokenBucket(per_provider, burst, name=provider) if per_provider else None
        self._models: dict[str, TokenBucket] = {}

    def bucket(self, model: str) -> TokenBucket | None:
        if not self.per_model:
            return None
        bucket = self._models.get(model)
        if bucket is None:
            bucket = self._models[model] = TokenBucket(self.per_model, self.burst, name=f"{self.provider}/{model}")
        return bucket

    async def acquire(self, model: str) -> float:
        """Take a token from the provider's and the model's bucket; the seconds waited."""
        waited = 0.0
        for bucket in (self.provider_bucket, self.bucket(model)):
            if bucket is not None:
                waited += await bucket.acquire(self.max_wait)
        return waited
