"""What only the memory store promises: thread safety, bounded memory, close."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc

import pytest

from conduit.storage import MemoryStateStore, StoreError

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_threads_with_their_own_event_loops_share_one_exact_limit() -> None:
    store = MemoryStateStore()
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        async def run() -> list[bool]:
            return [(await store.acquire("shared", 100, 60)).allowed for _ in range(25)]

        results = asyncio.run(run())
        with lock:
            allowed.extend(results)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 200
    assert allowed.count(True) == 100


async def test_expired_keys_are_swept_without_being_touched() -> None:
    clock = Clock()
    store = MemoryStateStore(clock=clock, sweep_interval=1.0)
    for i in range(500):
        await store.set(f"v{i}", i, ttl=5)
        await store.acquire(f"w{i}", 3, 5)
        await store.incr(f"n{i}", ttl=5)
    await store.set("forever", "x")
    assert len(store) == 1501
    clock.now += 6
    await store.ping()
    assert len(store) == 1
    assert await store.get("forever") == b"x"


async def test_memory_stays_flat_while_one_key_is_refreshed_with_a_long_ttl() -> None:
    clock = Clock()
    store = MemoryStateStore(clock=clock, sweep_interval=0.5)

    async def refresh(n: int) -> None:
        for _ in range(n):
            clock.now += 0.001
            await store.set("cached", "answer", ttl=3600)
            await store.incr("hits", ttl=3600)

    await refresh(2_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await refresh(40_000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(store) == 2
    assert grown < 150_000  # 40k stale expiry entries would be several MB


async def test_closed_store_refuses_further_use() -> None:
    store = MemoryStateStore()
    await store.set("k", "v")
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.get("k")
