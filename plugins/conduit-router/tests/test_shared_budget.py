"""The spending limit's state in Redis: the same arithmetic as BudgetPacer, one state for
every router (worker or host) sharing the store, and routing that goes on when Redis is down."""

from __future__ import annotations

import random

import pytest
from conduit_router import Objective, Query, Router
from conduit_router.budget import BudgetPacer
from conduit_router.shared_budget import SharedBudget
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS

from conduit.storage import create_state_store

pytestmark = pytest.mark.anyio


def _state(pacer: BudgetPacer) -> tuple[float, ...]:
    return (pacer.price, pacer.decisions, pacer._max_mean, pacer._spent, pacer._priciest, pacer.settled)  # noqa: SLF001


async def test_the_lua_update_is_the_pacers_arithmetic(private_redis) -> None:
    store = create_state_store(private_redis.url)
    local = BudgetPacer(Objective(cost_budget=0.4))
    shared = SharedBudget(BudgetPacer(Objective(cost_budget=0.4)), store, "test:budget")
    rng = random.Random(3)
    try:
        for i in range(300):
            cost, max_cost = rng.uniform(0.0001, 0.01), rng.uniform(0.01, 0.03)
            local.record(cost, max_cost)
            await shared.record(cost, max_cost)
            if i % 3 == 0:
                actual = cost * rng.uniform(0.5, 3.0)
                local.settle(cost, actual, max_cost, same_model=i % 2 == 0)
                await shared.settle(cost, actual, max_cost, same_model=i % 2 == 0)
            assert _state(shared.pacer) == pytest.approx(_state(local), rel=1e-12), i
        assert local.price != pytest.approx(BudgetPacer(Objective(cost_budget=0.4)).price)  # it did move
    finally:
        await store.close()


async def test_two_routers_on_one_redis_pace_one_budget(private_redis) -> None:
    def worker() -> Router:
        return Router(MODELS, embedder="hash", seed=1, state=private_redis.url, objective="cost_budget=0.3",
                      history="none")

    first, second = worker(), worker()
    try:
        for i in range(30):
            await first.route(Query(text=f"prove that {i} squared is non-negative"))
        for i in range(20):
            await second.route(Query(text=f"write a haiku about the number {i}"))
        # The second router's pacer carries on from the first's fifty decisions, not from zero.
        assert second.budget.decisions == 50 and second.stats()["budget"]["decisions"] == 50
        await first.route(Query(text="one more"))
        assert first.budget.decisions == 51  # and the first sees the second's twenty
    finally:
        await first.aclose()
        await second.aclose()


async def test_without_redis_the_pacer_goes_on_in_this_process(private_redis, caplog) -> None:
    router = Router(MODELS, embedder="hash", seed=1, state=private_redis.url, objective="cost_budget=0.3",
                    history="none")
    try:
        await router.route(Query(text="before the outage"))
        private_redis.stop()
        decisions = router.budget.decisions
        await router.route(Query(text="during the outage"))
        assert router.budget.decisions == decisions + 1
        assert "unavailable" in caplog.text
    finally:
        await router.aclose()
