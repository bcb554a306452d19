"""Fixtures for the state-store conformance suite: one ``store`` per back-end.

The Redis store runs against a real Redis on 127.0.0.1:6379 (started when none
answers: ``conduit.testing``'s ``redis_url`` fixture); each test gets a unique key
prefix and its keys are deleted afterwards. The memory store runs on a fake clock, so its expiry tests take no time; ``advance``
moves that clock, or really sleeps for Redis, whose clock is the server's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
import pytest

from conduit.storage import MemoryStateStore, StateStore
from conduit.storage.testing import unique_prefix


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"  # redis-py's asyncio client needs asyncio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    name: str
    store: StateStore
    advance: Callable[[float], Awaitable[None]]
    make: Callable[[str], StateStore]  # another store on the same back-end, with this prefix


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    prefix = unique_prefix("conformance")
    made: list[StateStore] = []
    if request.param == "memory":
        clock = FakeClock()

        async def advance(seconds: float) -> None:
            clock.now += seconds

        def make(p: str) -> StateStore:
            return MemoryStateStore(prefix=p, clock=clock)

    else:
        from conduit.storage.redis import RedisStateStore

        url = request.getfixturevalue("redis_url")

        async def advance(seconds: float) -> None:
            await anyio.sleep(seconds)

        def make(p: str) -> StateStore:
            store = RedisStateStore.from_url(url, prefix=p)
            made.append(store)
            return store

    store = make(prefix)
    try:
        yield Backend(request.param, store, advance, make)
    finally:
        for extra in made:
            await extra.clear()
        for extra in made:
            await extra.close()


@pytest.fixture
def store(backend: Backend) -> StateStore:
    return backend.store
