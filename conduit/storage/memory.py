"""The in-process state store: the default when no Redis URL is configured.

One lock guards a dict, so every operation is atomic across asyncio tasks, threads and
event loops of one process (the critical sections never await or block). Expired keys
are dropped when touched and swept from a heap of expiry times at most once per
``sweep_interval``, so memory stays bounded by what is live. State is per process: with
``--workers N`` or several hosts use the Redis store instead.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from conduit.storage.base import (
    AcquireResult,
    StoreError,
    Value,
    check_ttl,
    check_window_args,
    encode_value,
)

__all__ = ["MemoryStateStore"]


class _Entry:
    __slots__ = ("expires_at", "value")

    def __init__(self, value: bytes | deque[float], expires_at: float | None) -> None:
        self.value = value
        self.expires_at = expires_at


class MemoryStateStore:
    """A :class:`~conduit.storage.base.StateStore` in this process's memory.

    ``prefix`` is prepended to every key (kept for parity with the Redis store);
    ``clock`` returns monotonic seconds and can be replaced in tests;
    ``sweep_interval`` bounds how often a sweep of expired keys may run.
    """

    def __init__(
        self,
        *,
        prefix: str = "",
        clock: Callable[[], float] = time.monotonic,
        sweep_interval: float = 1.0,
    ) -> None:
        self.prefix = prefix
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._lock = threading.Lock()
        self._data: dict[str, _Entry] = {}
        self._expiries: list[tuple[float, str]] = []
        self._next_sweep = clock() + sweep_interval
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryStateStore(prefix={self.prefix!r}, keys={len(self._data)})"

    def __len__(self) -> int:
        """Keys currently held, expired ones not yet swept included."""
        return len(self._data)

    # -- internals (call with the lock held) ---------------------------------------------

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._data.get(key)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= now:
            del self._data[key]
            return None
        return entry

    def _expire_at(self, key: str, entry: _Entry, when: float | None) -> None:
        # One heap item per key: a key re-armed later keeps its item, and the sweep
        # re-pushes it at its new time (a busy rate-limit key would otherwise push one
        # item per request).
        had = entry.expires_at
        entry.expires_at = when
        if when is not None and had is None:
            heapq.heappush(self._expiries, (when, key))

    def _maintain(self, now: float) -> None:
        if self._closed:
            raise StoreError("this MemoryStateStore was closed; create a new one")
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_interval
        heap = self._expiries
        while heap and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            entry = self._data.get(key)
            if entry is None or entry.expires_at is None:
                continue
            if entry.expires_at <= now:
                del self._data[key]
            elif entry.expires_at != when:
                heapq.heappush(heap, (entry.expires_at, key))  # re-armed since: check again then
        # Keys re-armed with later expiries leave stale heap items: rebuild when they dominate.
        if len(heap) > 2 * len(self._data) + 1024:
            self._expiries = [(e.expires_at, k) for k, e in self._data.items() if e.expires_at is not None]
            heapq.heapify(self._expiries)

    @contextmanager
    def _locked(self) -> Iterator[float]:
        """Hold the lock, sweep when due, and give the current time."""
        with self._lock:
            now = self._clock()
            self._maintain(now)
            yield now

    # -- the StateStore interface ----------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        with self._locked() as now:
            entry = self._live(self.prefix + key, now)
            if entry is None:
                return None
            if not isinstance(entry.value, bytes):
                raise StoreError(f"key {key!r} holds a rate-limit window, not a value")
            return entry.value

    async def set(self, key: str, value: Value, ttl: float | None = None) -> None:
        check_ttl(ttl)
        data = encode_value(value)
        with self._locked() as now:
            entry = _Entry(data, None)
            self._data[self.prefix + key] = entry
            self._expire_at(self.prefix + key, entry, None if ttl is None else now + ttl)

    async def delete(self, key: str) -> bool:
        with self._locked() as now:
            entry = self._live(self.prefix + key, now)
            if entry is None:
                return False
            del self._data[self.prefix + key]
            return True

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        check_ttl(ttl)
        full = self.prefix + key
        with self._locked() as now:
            entry = self._live(full, now)
            if entry is None:
                entry = _Entry(b"0", None)
                self._data[full] = entry
            if not isinstance(entry.value, bytes):
                raise StoreError(f"key {key!r} holds a rate-limit window, not a counter")
            try:
                current = int(entry.value)
            except ValueError:
                raise StoreError(f"key {key!r} holds a value that is not an integer") from None
            current += amount
            entry.value = str(current).encode("ascii")
            if ttl is not None and entry.expires_at is None:
                self._expire_at(full, entry, now + ttl)
            return current

    async def acquire(self, key: str, limit: int, window_seconds: float) -> AcquireResult:
        return self.acquire_nowait(key, limit, window_seconds)

    def acquire_nowait(self, key: str, limit: int, window_seconds: float) -> AcquireResult:
        """:meth:`acquire` without a coroutine: nothing here waits. The rate limiter calls it
        on every request when its store has it."""
        if limit.__class__ is not int or limit < 1 or not window_seconds > 0:
            check_window_args(limit, window_seconds)  # raises, naming the bad argument
        full = self.prefix + key
        with self._lock:  # the hot path of every rate-limited request: no context-manager frame
            now = self._clock()
            if self._closed or now >= self._next_sweep:
                self._maintain(now)
            entry = self._data.get(full)
            if entry is None or (entry.expires_at is not None and entry.expires_at <= now):
                entry = _Entry(deque(), None)  # absent or expired (an expired one is replaced)
                self._data[full] = entry
            stamps = entry.value
            if not isinstance(stamps, deque):
                raise StoreError(f"key {key!r} holds a value, not a rate-limit window")
            horizon = now - window_seconds
            while stamps and stamps[0] <= horizon:
                stamps.popleft()
            allowed = len(stamps) < limit
            if allowed:
                stamps.append(now)
                self._expire_at(full, entry, now + window_seconds)
            return AcquireResult(  # allowed, limit, remaining, retry_after, reset_after (positional: cheaper)
                allowed,
                limit,
                limit - len(stamps),
                0.0 if allowed else stamps[0] + window_seconds - now,
                stamps[-1] + window_seconds - now,
            )

    async def ping(self) -> bool:
        with self._locked():
            return True

    async def clear(self) -> int:
        with self._lock:
            doomed = [k for k in self._data if k.startswith(self.prefix)]
            for k in doomed:
                del self._data[k]
            if not self._data:
                self._expiries.clear()
            return len(doomed)

    async def close(self) -> None:
        with self._lock:
            self._data.clear()
            self._expiries.clear()
            self._closed = True
