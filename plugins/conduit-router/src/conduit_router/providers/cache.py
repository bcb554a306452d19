"""An LRU response cache with a time-to-live, in memory and optionally in the state store.

Keys hash everything that shapes an answer (provider, model, messages, temperature,
max_tokens). Only complete, non-streamed, successful answers are cached. The memory layer
is bounded by ``max_entries`` (least recently used goes first); the shared layer (Redis,
through the state store) lets workers reuse each other's answers and expires by itself.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from conduit.storage import MemoryStateStore, StoreError
from conduit_router.telemetry import record_cache

__all__ = ["ResponseCache", "cache_key"]


def cache_key(provider: str, model: str, messages: list[dict[str, Any]], temperature: float | None,
              max_tokens: int | None) -> str:
    payload = orjson.dumps([provider, model, messages, temperature, max_tokens], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=20).hexdigest()


class ResponseCache:
    """``get``/``put`` of JSON-able answers; ``max_entries`` in memory, ``ttl`` seconds everywhere."""

    def __init__(self, max_entries: int = 1000, ttl: float = 3600.0, *, store: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1 or ttl <= 0:
            raise ValueError("max_entries must be >= 1 and ttl > 0 seconds")
        self.max_entries = max_entries
        self.ttl = ttl
        self.store = None if store is None or isinstance(store, MemoryStateStore) else store
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def share(self, store: Any) -> None:
        """Keep answers in ``store`` too (the router's, when it is shared: Redis), unless this
        cache already has a store; an in-process store adds nothing to the memory layer."""
        if self.store is None and store is not None and not isinstance(store, MemoryStateStore):
            self.store = store

    async def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        now = self._clock()
        if entry is not None:
            if entry[0] > now:
                self._entries.move_to_end(key)
                self.hits += 1
                record_cache("response", True)
                return entry[1]
            del self._entries[key]
        if self.store is not None:
            try:
                raw = await self.store.get(f"router:response:{key}")
            except StoreError:
                raw = None
            if raw is not None:
                value = orjson.loads(raw)
                self._remember(key, value, now)
                self.hits += 1
                record_cache("response", True)
                return value
        self.misses += 1
        record_cache("response", False)
        return None

    def _remember(self, key: str, value: dict[str, Any], now: float) -> None:
        self._entries[key] = (now + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        self._remember(key, value, self._clock())
        if self.store is not None:
            try:
                await self.store.set(f"router:response:{key}", orjson.dumps(value), ttl=self.ttl)
            except StoreError:
                pass

    def stats(self) -> dict[str, Any]:
        return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses}
