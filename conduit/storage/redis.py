"""The Redis state store, on redis-py's asyncio client (Conduit's ``redis`` extra).

Shared by every worker and host that points at the same Redis. The sliding window and
the counter-with-expiry are one Lua script each, run with EVALSHA (redis-py reloads a
script the server forgot after a restart), so they are atomic across processes. Window
timestamps come from the Redis server's clock, so hosts with skewed clocks agree.

Connections are opened lazily and re-opened by the client after a failure; connect and
socket timeouts default to one second so a dead Redis costs a request little. Every
back-end failure raises :class:`~conduit.storage.base.StoreUnavailableError`.

:meth:`RedisStateStore.acquire` is pipelined automatically: the acquires that arrive while
one round trip is in flight go out together in the next one (one pipeline, each still its
own atomic script run, in arrival order). A lone acquire goes out at once, so an idle
server waits for nothing; under load one round trip carries many requests, which cuts the
client's CPU per acquire about threefold (``bench/storage``).

A redis-py asyncio client belongs to the event loop it is first used on: create the
store where it is used (at app start-up, once per worker process).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from conduit.storage.base import (
    AcquireResult,
    StoreError,
    StoreUnavailableError,
    Value,
    check_ttl,
    check_window_args,
    encode_value,
)

__all__ = ["ACQUIRE_SCRIPT", "INCR_SCRIPT", "RedisStateStore"]

T = TypeVar("T")

# KEYS[1]: the window's sorted set (score = admission time in microseconds)
# ARGV[1]: limit  ARGV[2]: window in microseconds  ARGV[3]: a unique member for this request
ACQUIRE_SCRIPT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  count = count + 1
  allowed = 1
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
local newest = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
local retry = 0
if allowed == 0 then retry = oldest + window - now end
return {allowed, count, retry, newest + window - now}
"""

# KEYS[1]: the counter  ARGV[1]: amount  ARGV[2]: ttl in milliseconds (0: none)
INCR_SCRIPT = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 and redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return value
"""

_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
_CLIENT_ERRORS = (RedisError, *_UNAVAILABLE)  # what the client raises for Redis being down or refusing


@dataclass
class _Acquire:
    """One acquire waiting for the next pipeline."""

    key: str
    limit: int
    window_us: int
    member: str
    future: asyncio.Future[Any] = field(repr=False)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisStateStore:
    """A :class:`~conduit.storage.base.StateStore` on Redis.

    ``client`` is a ``redis.asyncio.Redis``; most code uses :meth:`from_url`. Every key
    is stored under ``prefix`` so several apps can share one Redis; :meth:`clear` only
    ever deletes keys under it.
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str = "conduit:", owns_client: bool = True) -> None:
        self.client = client
        self.prefix = prefix
        self._owns_client = owns_client
        self._acquire = client.register_script(ACQUIRE_SCRIPT)
        self._incr = client.register_script(INCR_SCRIPT)
        self._pending: list[_Acquire] = []  # acquires for the next round trip
        self._flusher: asyncio.Task[None] | None = None  # the task sending them, while one runs
        self.pipelined = 0  # acquires that shared a round trip with others (observability, tests)
        kwargs = client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        self._where = f"Redis at {where}"

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "conduit:",
        socket_timeout: float = 1.0,
        socket_connect_timeout: float = 1.0,
        retries: int = 2,
        health_check_interval: int = 30,
        max_connections: int = 64,
        pool_timeout: float = 5.0,
        **client_options: Any,
    ) -> RedisStateStore:
        """Connect lazily to ``url`` (``redis://``, ``rediss://`` or ``unix://``).

        A command that hits a broken connection is retried ``retries`` times with
        jittered backoff on a fresh connection before the error surfaces. A retried
        :meth:`acquire` whose first reply was lost may count its request twice, which
        errs towards limiting. Other keyword arguments go to ``redis.asyncio.from_url``.
        """
        # A blocking pool: past max_connections concurrent operations wait for a free
        # connection (up to pool_timeout) instead of failing with MaxConnectionsError.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries),
            health_check_interval=health_check_interval,
            **client_options,
        )
        return cls(aioredis.Redis.from_pool(pool), prefix=prefix)  # the client owns (and closes) the pool

    def __repr__(self) -> str:
        return f"RedisStateStore({self._where}, prefix={self.prefix!r})"

    def _error(self, op: str, exc: Exception) -> StoreError:
        """The store's error for a failure of the Redis client during ``op``."""
        if isinstance(exc, _UNAVAILABLE):
            error: StoreError = StoreUnavailableError(
                f"{self._where} is unavailable during {op} ({type(exc).__name__}: {exc}); "
                "check that Redis runs and CONDUIT_REDIS_URL points at it"
            )
        elif isinstance(exc, ResponseError):
            error = StoreError(f"Redis refused {op}: {exc}")
        else:
            error = StoreUnavailableError(f"{self._where} failed during {op} ({type(exc).__name__}: {exc})")
        error.__cause__ = exc
        return error

    async def _run(self, op: str, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except _CLIENT_ERRORS as exc:
            raise self._error(op, exc) from exc

    async def get(self, key: str) -> bytes | None:
        value = await self._run("get", self.client.get(self.prefix + key))
        return None if value is None else value if isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: Value, ttl: float | None = None) -> None:
        check_ttl(ttl)
        data = encode_value(value)
        px = None if ttl is None else max(1, round(ttl * 1000))
        await self._run("set", self.client.set(self.prefix + key, data, px=px))

    async def delete(self, key: str) -> bool:
        return bool(await self._run("delete", self.client.delete(self.prefix + key)))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        check_ttl(ttl)
        px = 0 if ttl is None else max(1, round(ttl * 1000))
        return int(await self._run("incr", self._incr(keys=[self.prefix + key], args=[int(amount), px])))

    async def acquire(self, key: str, limit: int, window_seconds: float) -> AcquireResult:
        check_window_args(limit, window_seconds)
        window_us = max(1, round(window_seconds * 1_000_000))
        loop = asyncio.get_running_loop()
        if self._flusher is not None and self._flusher.get_loop() is not loop:
            # Left over from an event loop that is gone (the store outlived it): start afresh.
            self._pending = [p for p in self._pending if p.future.get_loop() is loop]
            self._flusher = None
        item = _Acquire(self.prefix + key, limit, window_us, os.urandom(8).hex(), loop.create_future())
        self._pending.append(item)
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        allowed, count, retry_us, reset_us = await item.future
        return AcquireResult(
            allowed=bool(allowed),
            limit=limit,
            remaining=max(0, limit - int(count)),
            retry_after=max(0.0, int(retry_us) / 1_000_000),
            reset_after=max(0.0, int(reset_us) / 1_000_000),
        )

    async def _flush(self) -> None:
        """Send the pending acquires, one round trip at a time, until none is left."""
        batch: list[_Acquire] = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._send(batch)
                batch = []
        except BaseException as exc:  # cancelled (loop or store closing): nobody may wait forever
            self._fail(batch + self._pending, StoreUnavailableError(
                f"{self._where}: acquire abandoned ({type(exc).__name__})"))
            self._pending = []
            raise
        finally:
            self._flusher = None

    async def _send(self, batch: list[_Acquire]) -> None:
        """One round trip for ``batch``: the plain script call for a lone acquire (it reloads
        a forgotten script itself), else a pipeline; Redis errors go to the waiters."""
        if len(batch) == 1:
            results: list[Any] = [await self._script_or_error(batch[0])]
        else:
            pipe = self.client.pipeline(transaction=False)
            for item in batch:
                pipe.evalsha(self._acquire.sha, 1, item.key, item.limit, item.window_us, item.member)
            try:
                results = await pipe.execute(raise_on_error=False)
            except _CLIENT_ERRORS as exc:
                self._fail(batch, self._error("acquire", exc))
                return
            self.pipelined += len(batch)
        for item, result in zip(batch, results):
            if isinstance(result, NoScriptError):  # Redis restarted and forgot the script
                result = await self._script_or_error(item)
            if item.future.done():  # its request gave up waiting
                continue
            if isinstance(result, Exception):
                item.future.set_exception(result if isinstance(result, StoreError) else self._error("acquire", result))
            else:
                item.future.set_result(result)

    async def _script_or_error(self, item: _Acquire) -> Any:
        """The acquire script's answer for ``item``, or the store's error for its failure."""
        try:
            return await self._acquire(keys=[item.key], args=[item.limit, item.window_us, item.member])
        except _CLIENT_ERRORS as exc:
            return self._error("acquire", exc)

    @staticmethod
    def _fail(items: list[_Acquire], error: StoreError) -> None:
        for item in items:
            if not item.future.done():
                item.future.set_exception(error)

    async def ping(self) -> bool:
        return bool(await self._run("ping", self.client.ping()))

    async def clear(self) -> int:
        pattern = _glob_escape(self.prefix) + "*"

        async def _clear() -> int:
            removed = 0
            batch: list[bytes] = []
            async for key in self.client.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += await self.client.unlink(*batch)
                    batch.clear()
            if batch:
                removed += await self.client.unlink(*batch)
            return removed

        return await self._run("clear", _clear())

    async def close(self) -> None:
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            try:
                await asyncio.wait_for(asyncio.shield(flusher), timeout=5.0)  # let in-flight acquires answer
            except Exception:  # noqa: BLE001 - a timeout, or the flush failed
                flusher.cancel()
        if self._owns_client:
            await self.client.aclose()
