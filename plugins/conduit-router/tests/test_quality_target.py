"""The quality-target rule (``Objective(quality_target=t)``, ``QueryConstraints(min_relative_quality=t)``):
the cheapest candidate whose sampled quality is within ``t`` of the best, still learned by
posterior sampling, over memory or Redis state alike."""

from __future__ import annotations

import math

import pytest
from conduit_router import Objective, Query, QueryConstraints, Router
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS
from conduit_router.simulation import lexicographic_better, run_router, run_static
from conduit_router.simulation import synthetic_environment as make_env

from conduit.storage import RedisStateStore
from conduit.storage.testing import unique_prefix

pytestmark = pytest.mark.anyio

TEXT = "Write a Python function that merges two sorted arrays, with unit tests."
# What the router is taught for TEXT: small is far worse, medium within 5% of large, large the best.
TAUGHT = {"small": 0.70, "medium": 0.88, "large": 0.90}


async def taught(router: Router, qualities: dict[str, float] = TAUGHT, n: int = 60) -> None:
    """A tight posterior: ``n`` observations (weight 20 each) of each model's quality on TEXT's context."""
    x = (await router.analyzer.analyze(TEXT)).context
    for _ in range(n):
        for model, quality in qualities.items():
            await router.observe(model, x, quality, weight=20.0)


async def test_picks_the_cheapest_model_within_the_target_of_the_best() -> None:
    router = Router(MODELS, embedder="hash", seed=1, objective="value")
    await taught(router)
    decision = await router.route(Query(text=TEXT))
    # 0.95 × 0.90 = 0.855: medium (0.88) is within, small (0.70) is not; medium is cheaper than large.
    assert decision.selected_model == "medium"
    assert decision.confidence > 0.8
    assert [a.model for a in decision.alternatives] == ["large", "small"]  # the rule's fallback, then by score
    assert "cheapest of 2 candidate(s) within 95% of the best sampled quality (best: large)" in decision.reasoning
    picks = {(await router.route(Query(text=TEXT))).selected_model for _ in range(30)}
    assert picks == {"medium"}


@pytest.mark.parametrize("target, expected", [(1.0, "large"), (0.95, "medium"), (0.75, "small")])
async def test_the_target_decides_how_far_below_the_best_a_model_may_be(target: float, expected: str) -> None:
    router = Router(MODELS, embedder="hash", seed=2, objective=Objective(0, 1, 0, quality_target=target))
    await taught(router)
    picks = [(await router.route(Query(text=TEXT))).selected_model for _ in range(40)]
    assert picks.count(expected) >= 36, picks


async def test_a_query_constraint_applies_the_rule_to_that_query_only() -> None:
    router = Router(MODELS, embedder="hash", seed=3, objective="quality")  # weighted: 0.9/0.07/0.03
    await taught(router, {"small": 0.70, "medium": 0.80, "large": 0.90})
    weighted = await router.route(Query(text=TEXT))
    assert weighted.selected_model == "large" and "within" not in weighted.reasoning
    relaxed = await router.route(Query(text=TEXT, constraints=QueryConstraints(min_relative_quality=0.85)))
    assert relaxed.selected_model == "medium"  # 0.80 >= 0.85 × 0.90, and cheaper
    assert "within 85% of the best" in relaxed.reasoning
    stats = router.stats()
    assert stats["rule"] == "weighted" and stats["decisions_with_quality_target"] == 1


async def test_stats_and_objective_report_the_target() -> None:
    router = Router(MODELS, embedder="hash", objective="quality_target=0.9")
    await router.route(Query(text=TEXT))
    stats = router.stats()
    assert stats["objective"] == {"quality": 0.0, "cost": 1.0, "latency": 0.0, "quality_target": 0.9}
    assert stats["rule"] == "quality_target" and stats["decisions_with_quality_target"] == 1
    assert Objective.parse("value").quality_target == 0.95
    assert Objective.parse({"quality_target": 0.9, "latency": 1, "cost": 0}).cheapness() == (0.0, 1.0)
    assert Objective().to_dict() == {"quality": 0.7, "cost": 0.2, "latency": 0.1}  # unchanged without a target


async def test_traffic_leaves_a_model_whose_quality_drops_under_the_target_rule() -> None:
    env = make_env(4)
    router = Router(MODELS, embedder="hash", seed=4, objective="value")
    report = await run_router(router, env, 600)
    share = report.window(400)["share"]
    victim = max(share, key=share.get)
    assert share[victim] > 0.3
    env.degrade(victim, {d: q * 0.5 for d, q in env.quality[victim].items()})
    report = await run_router(router, env, 400, report=report)
    assert report.share(victim, 800) < share[victim] / 4


async def test_a_model_only_probably_within_the_target_is_not_preferred_to_one_surely_within() -> None:
    # 0.95 × 0.90 = 0.855: medium (0.86) is within by half a point, about one posterior spread,
    # so it may well not be; the rule reaches the target first and saves money second.
    router = Router(MODELS, embedder="hash", seed=5, objective="value")
    await taught(router, {"small": 0.70, "medium": 0.86, "large": 0.90}, n=3)
    picks = [(await router.route(Query(text=TEXT))).selected_model for _ in range(40)]
    assert picks.count("large") >= 36, picks


async def test_on_the_simulation_it_beats_the_cheaper_static_rules_by_the_lexicographic_score() -> None:
    steps, late, seeds = 800, 400, (0, 1, 2)
    objective = Objective.parse("value")
    for seed in seeds:
        learned = (await run_router(Router(MODELS, embedder="hash", seed=seed, objective=objective), make_env(seed),
                                    steps)).window(late)
        rivals = {p: run_static(make_env(seed), p, steps, objective, strongest=s).window(late)
                  for p, s in (("cheapest", None), ("random", None), ("strongest", "medium"))}
        assert all(lexicographic_better(learned, rival) for rival in rivals.values()), (seed, learned, rivals)


BAD_TARGETS = [0, 0.0, -0.5, 1.5, math.nan, math.inf, "0.95", True, [0.9]]


@pytest.mark.parametrize("value", BAD_TARGETS)
def test_a_bad_target_is_a_value_error_naming_the_field(value: object) -> None:
    with pytest.raises(ValueError, match=r"objective.quality_target must be a number in \(0, 1\]"):
        Objective(quality_target=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"constraints.min_relative_quality must be a number in \(0, 1\]"):
        QueryConstraints(min_relative_quality=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quality_target"):
        Objective.parse({"quality_target": value})


@pytest.mark.parametrize("text, reason", [
    ("quality_target=0", r"must be a number in \(0, 1\]"),
    ("quality_target=1.01", r"must be a number in \(0, 1\]"),
    ("quality_target=nan", r"must be a number in \(0, 1\]"),
    ("quality_target=high", "quality_target is not a number"),
    ("target=0.9", "expected a preset"),
])
def test_a_bad_target_string_is_a_value_error(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Objective.parse(text)


async def test_routers_sharing_redis_apply_the_rule_to_what_the_others_learned(redis_url: str) -> None:
    store = RedisStateStore.from_url(redis_url, prefix=unique_prefix("router-target"))
    try:
        teacher = Router(MODELS, state=store, embedder="hash", seed=5)
        await taught(teacher)
        await teacher.backend.close()  # delivered
        worker = Router(MODELS, state=store, embedder="hash", seed=6, objective="value", refresh_interval=0.0)
        decision = await worker.route(Query(text=TEXT))
        assert decision.selected_model == "medium" and decision.confidence > 0.8
        assert worker.stats()["models"]["medium"]["observations"] == 60
    finally:
        await store.clear()
        await store.close()
