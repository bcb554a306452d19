"""Token buckets that wait rather than fail: one per provider and one per model.

A call takes a token from its provider's bucket and from its model's bucket; when one is
empty the call sleeps until a token is due (never longer than ``max_wait``, after which
:class:`RateLimitWaitTooLong` is raised so the router can fall back to another model).
Buckets are per process: the providers enforce the real quota, these keep one worker
from blowing through it and turning bursts into 429s.

The per-model rate is one number for every model of the provider, or a mapping from model
name to rate (``"*"`` for the models it does not name); :func:`parse_model_rates` reads the
``gpt-4o=5,claude-sonnet-4-0=2`` form the ``router_model_rate_limits`` setting takes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio

__all__ = ["RateLimitWaitTooLong", "RateLimits", "TokenBucket", "parse_model_rates"]


def _rate(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{where}: the rate must be a number of requests per second, got {value!r}")
    try:
        rate = float(value)
    except ValueError:
        raise ValueError(f"{where}: the rate must be a number of requests per second, got {value!r}") from None
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"{where}: the rate must be a number > 0 (requests per second), got {value!r}")
    return rate


def parse_model_rates(value: str | Mapping[str, Any] | None) -> dict[str, float]:
    """Per-model rates (requests per second) from ``"gpt-4o=5,claude-sonnet-4-0=2"`` or a mapping.

    ``"*"`` names every model not listed. Raises ``ValueError`` saying which entry is wrong and
    what the form is; an empty string or None is no per-model limit (``{}``).
    """
    if value is None:
        return {}
    form = 'write model=rate pairs separated by commas, e.g. "gpt-4o=5,claude-sonnet-4-0=2" ("*=3" for the rest)'
    if isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, str):
        pairs = []
        for entry in (part.strip() for part in value.split(",")):
            if not entry:
                continue
            name, sep, rate = entry.partition("=")
            if not sep or not name.strip() or not rate.strip():
                raise ValueError(f"{entry!r} is not model=rate; {form}")
            pairs.append((name, rate.strip()))
    else:
        raise ValueError(f"expected a string or a table of model = rate, got {type(value).__name__}; {form}")
    rates: dict[str, float] = {}
    for name, rate in pairs:
        name = name.strip()
        if not name:
            raise ValueError(f"a model name is empty; {form}")
        if name in rates:
            raise ValueError(f"model {name!r} is given twice")
        rates[name] = _rate(f"model {name!r}", rate)
    return rates


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
    """The buckets of one provider: ``per_provider`` and ``per_model`` requests per second.

    ``per_model`` is one rate for each model, or a mapping of model name to rate (``"*"``:
    the models it does not name; a model it does not cover has no model bucket).
    """

    def __init__(self, provider: str, *, per_provider: float | None = None,
                 per_model: float | Mapping[str, float] | None = None,
                 burst: float | None = None, max_wait: float = 30.0) -> None:
        self.provider = provider
        self.per_model: float | dict[str, float] | None = (
            parse_model_rates(per_model) if isinstance(per_model, Mapping) else per_model)
        self.burst = burst
        self.max_wait = max_wait
        self.provider_bucket = TokenBucket(per_provider, burst, name=provider) if per_provider else None
        self._models: dict[str, TokenBucket] = {}

    def model_rate(self, model: str) -> float | None:
        """Requests per second allowed to ``model`` (None: no model bucket)."""
        if isinstance(self.per_model, dict):
            return self.per_model.get(model, self.per_model.get("*"))
        return self.per_model or None

    def bucket(self, model: str) -> TokenBucket | None:
        bucket = self._models.get(model)
        if bucket is None:
            rate = self.model_rate(model)
            if not rate:
                return None
            bucket = self._models[model] = TokenBucket(rate, self.burst, name=f"{self.provider}/{model}")
        return bucket

    def to_dict(self) -> dict[str, Any]:
        """The configured rates: ``{"provider": rate or None, "models": {name: rate}}``."""
        models = dict(self.per_model) if isinstance(self.per_model, dict) else (
            {"*": self.per_model} if self.per_model else {})
        return {"provider": self.provider_bucket.rate if self.provider_bucket else None, "models": models}

    async def acquire(self, model: str) -> float:
        """Take a token from the provider's and the model's bucket; the seconds waited."""
        waited = 0.0
        for bucket in (self.provider_bucket, self.bucket(model)):
            if bucket is not None:
                waited += await bucket.acquire(self.max_wait)
        return waited
