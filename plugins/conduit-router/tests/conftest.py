"""Shared fixtures: anyio on asyncio, the provider stand-in, a simulated workload (a real Redis:
``conduit.testing``'s ``redis_url`` and ``private_redis``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conduit_router.standin import StandIn


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
