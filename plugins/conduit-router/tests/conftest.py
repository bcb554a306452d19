"""Shared fixtures: anyio on asyncio, a real Redis, the provider stand-in, a simulated workload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conduit_router.standin import StandIn

from conduit.storage.testing import private_redis, redis_url  # noqa: F401 - fixtures


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    """A running stand-in provider server (faults reset before each test that asks for it)."""
    with StandIn() as server:
        yield server


@pytest.fixture
def fresh_standin(standin: StandIn) -> StandIn:
    standin.reset()
    return standin
