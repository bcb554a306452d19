"""Constraints filter the candidates before sampling, and say why a model was dropped."""

from __future__ import annotations

import pytest
from conduit_router import (
    ModelSpec,
    NoEligibleModelError,
    Query,
    QueryConstraints,
    Router,
)
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS

pytestmark = pytest.mark.anyio

TEXT = "Write a Python function that merges two sorted arrays, with unit tests."


async def picks(router: Router, constraints: QueryConstraints, n: int = 30) -> set[str]:
    return {(await router.route(Query(text=TEXT, constraints=constraints))).selected_model for _ in range(n)}


async def test_allowed_models_limits_the_choice() -> None:
    router = Router(MODELS, embedder="hash", seed=1)
    assert await picks(router, QueryConstraints(allowed_models=("small", "large"))) <= {"small", "large"}
    decision = await router.route(Query(text=TEXT, constraints=QueryConstraints(allowed_models=("medium",))))
    assert decision.selected_model == "medium"
    assert decision.excluded == {"small": "not in allowed_models", "large": "not in allowed_models"}


async def test_allowed_models_naming_an_unknown_model_is_an_error() -> None:
    router = Router(MODELS, embedder="hash")
    with pytest.raises(ValueError, match="unknown model.*gpt-9"):
        await router.route(Query(text=TEXT, constraints=QueryConstraints(allowed_models=("gpt-9",))))


async def test_max_cost_drops_models_whose_estimated_cost_is_higher() -> None:
    router = Router(MODELS, embedder="hash", seed=2, objective="quality")
    only_large = await router.route(Query(text=TEXT, constraints=QueryConstraints(allowed_models=("large",))))
    large_cost = only_large.estimated_cost
    assert "large" in await picks(router, QueryConstraints(max_cost=large_cost))
    chosen = await picks(router, QueryConstraints(max_cost=large_cost * 0.5))
    assert "large" not in chosen
    decision = await router.route(Query(text=TEXT, constraints=QueryConstraints(max_cost=large_cost * 0.5)))
    assert decision.estimated_cost <= large_cost * 0.5
    assert "max_cost" in decision.excluded["large"]


async def test_max_latency_uses_the_learned_latency() -> None:
    router = Router(MODELS, embedder="hash", seed=3)
    assert "large" in await picks(router, QueryConstraints(max_latency_ms=5000), n=60)
    # The premium model turns out slow: after a few reports its predicted latency passes 3 s.
    for _ in range(6):
        d = await router.route(Query(text=TEXT, constraints=QueryConstraints(allowed_models=("large",))))
        await router.feedback(d.query_id, latency_ms=9000)
    decision = await router.route(Query(text=TEXT, constraints=QueryConstraints(max_latency_ms=3000)))
    assert "predicted latency" in decision.excluded["large"]
    assert decision.selected_model != "large"


async def test_min_quality_uses_the_posterior_mean() -> None:
    router = Router(MODELS, embedder="hash", seed=4)
    decision = await router.route(Query(text=TEXT, constraints=QueryConstraints(min_quality=0.8)))
    assert decision.selected_model == "large"  # priors: small 0.6, medium 0.75, large 0.9
    assert set(decision.excluded) == {"small", "medium"}


async def test_no_eligible_model_is_a_422_naming_each_reason() -> None:
    router = Router(MODELS, embedder="hash")
    with pytest.raises(NoEligibleModelError) as info:
        await router.route(Query(text=TEXT, constraints=QueryConstraints(max_cost=1e-9)))
    assert info.value.status_code == 422
    assert set(info.value.excluded) == {"small", "medium", "large"}
    assert "max_cost" in info.value.detail


async def test_a_query_too_long_for_a_models_context_is_not_sent_to_it() -> None:
    models = [ModelSpec("tiny-context", "openai", 0.1, 0.1, max_context=100), ModelSpec("big", "openai", 1, 1)]
    router = Router(models, embedder="hash")
    decision = await router.route(Query(text="word " * 400))
    assert decision.selected_model == "big"
    assert "context is 100" in decision.excluded["tiny-context"]
