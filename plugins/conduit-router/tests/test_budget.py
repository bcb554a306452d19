"""A spending limit (``Objective(cost_budget=b)``): the router learns the price of cost that
keeps its spending at ``b`` times what the priciest model would cost, and within it picks
for quality. Parsing and errors, the pacer on its own, and learning on the simulated workload."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from conduit_router import Objective, Query, QueryConstraints, Router
from conduit_router.bandit import BanditConfig, ThompsonSampler
from conduit_router.budget import BudgetPacer
from conduit_router.features import DOMAINS, domain_slice
from conduit_router.models import ModelSpec
from conduit_router.posteriors import ModelStats, apply_update
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS
from conduit_router.simulation import (
    SYNTHETIC_QUALITY,
    Environment,
    run_router,
    run_static,
)
from conduit_router.simulation import synthetic_environment as make_env

from conduit import Conduit
from conduit.framework.errors import ConfigurationError
from conduit.testing import TestClient

pytestmark = pytest.mark.anyio


def test_parsed_from_strings_and_mappings_beside_the_weights() -> None:
    alone = Objective.parse("cost_budget=0.45")
    assert (alone.quality, alone.cost, alone.latency, alone.cost_budget) == (1.0, 0.0, 0.0, 0.45)
    assert alone.rule == "cost_budget" and alone.to_dict()["cost_budget"] == 0.45
    weighted = Objective.parse({"quality": 0.9, "cost": 0.05, "latency": 0.05, "cost_budget": 0.5})
    assert weighted.rule == "cost_budget" and math.isclose(weighted.cost, 0.05)
    assert Objective.parse("balanced").rule == "weighted" and "cost_budget" not in Objective().to_dict()
    priced = weighted.priced(0.5)  # cost at half the quality weight; the latency weight kept
    assert priced.rule == "weighted" and math.isclose(priced.cost / priced.quality, 0.5)
    assert math.isclose(priced.latency / priced.quality, 0.05 / 0.9)


@pytest.mark.parametrize("value, message", [
    ("cost_budget=0", r"cost_budget must be a number in \(0, 1\], the share of what the priciest model would cost"),
    ("cost_budget=1.5", r"cost_budget must be a number in \(0, 1\]"),
    ({"cost_budget": "half"}, r"cost_budget must be a number in \(0, 1\]"),
    ({"cost_budget": float("nan")}, r"cost_budget must be a number in \(0, 1\]"),
    ({"cost_budget": True}, r"cost_budget must be a number in \(0, 1\]"),
    ("cost_budget=0.5,quality_target=0.9", "cost_budget and quality_target exclude each other"),
    ("cost_budget=x", "cost_budget is not a number"),
])
def test_bad_budgets_are_refused_with_the_reason(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Objective.parse(value)


def test_the_price_rises_while_spending_is_over_the_budget_and_falls_while_under() -> None:
    pacer = BudgetPacer(Objective(0.8, 0.2, 0.0, cost_budget=0.5))
    assert math.isclose(pacer.price, 0.25)  # starts at cost / quality
    assert math.isclose(pacer.current().cost / pacer.current().quality, 0.25)
    prices = []
    for _ in range(20):
        pacer.record(1.0, 1.0)  # every decision takes the priciest model: twice the budget
        prices.append(pacer.price)
    assert all(b > a for a, b in itertools.pairwise(prices))
    assert math.isclose(pacer.current().cost / pacer.current().quality, pacer.price)
    for _ in range(20):
        pacer.record(0.01, 1.0)
    assert pacer.price < prices[-1]
    for _ in range(10_000):
        pacer.record(0.0, 1.0)
    assert pacer.price == BudgetPacer.MIN_PRICE  # nothing spent: cost is as good as free, never negative
    for _ in range(100_000):
        pacer.record(1.0, 1.0)
    assert pacer.price == BudgetPacer.MAX_PRICE
    report = pacer.to_dict()
    assert report["cost_budget"] == 0.5 and report["decisions"] == 110_040
    assert report["recent_spend_share"] == 1.0


def test_decisions_without_prices_are_not_paced() -> None:
    pacer = BudgetPacer(Objective.parse("cost_budget=0.3"))
    assert pacer.price == BudgetPacer.DEFAULT_START and pacer.to_dict()["recent_spend_share"] is None
    pacer.record(0.0, 0.0)
    pacer.record(float("nan"), 1.0)
    assert pacer.decisions == 0 and pacer.price == BudgetPacer.DEFAULT_START
    with pytest.raises(ValueError, match="needs an objective with a cost_budget"):
        BudgetPacer(Objective())


def test_actual_costs_replace_the_estimates() -> None:
    on_budget = BudgetPacer(Objective.parse("cost_budget=0.5"))
    settled = BudgetPacer(Objective.parse("cost_budget=0.5"))
    settled.settle(0.5, 1.0, 1.0)  # before any decision: nothing to correct
    assert settled.price == on_budget.price
    prices = []
    for _ in range(50):
        on_budget.record(0.5, 1.0)  # by the estimates, every decision spends exactly the budget
        settled.record(0.5, 1.0)
        settled.settle(0.5, 1.0, 1.0, same_model=False)  # but it cost twice that; the priciest estimate stands
        prices.append(settled.price)
    assert math.isclose(on_budget.price, BudgetPacer(Objective.parse("cost_budget=0.5")).price)
    assert all(b > a for a, b in itertools.pairwise(prices))
    assert settled.spend_share is not None and settled.spend_share > 0.9

    scaled = BudgetPacer(Objective.parse("cost_budget=0.5"))
    for _ in range(50):  # answers twice as long as estimated: the priciest model's would have been too
        scaled.record(0.5, 1.0)
        scaled.settle(0.5, 1.0, 1.0)
    assert math.isclose(scaled.price, on_budget.price) and math.isclose(scaled.spend_share, 0.5)
    before = scaled.price
    for bad in [(float("nan"), 1.0, 1.0), (0.5, -1.0, 1.0), (0.5, 1.0, 0.0), (0.5, float("inf"), 1.0)]:
        scaled.settle(*bad)
    assert scaled.price == before


async def _spend_and_quality(budget: float, seed: int, steps: int = 1500, *, env: Any = make_env,
                             costs: bool = True, config: BanditConfig | None = None) -> tuple[float, float, Router]:
    router = Router(MODELS, embedder="hash", seed=seed, objective=Objective(0.9, 0.1, 0.0, cost_budget=budget),
                    config=config)
    window = (await run_router(router, env(seed), steps, costs=costs)).window(steps // 2)
    priciest = run_static(env(seed), "strongest", steps).window(steps // 2)  # "large" is the priciest too
    return window["cost"] / priciest["cost"], window["quality"], router


def _long_answers(seed: int) -> Environment:
    """The synthetic workload with answers to code, math and reasoning 3x longer than usual:
    the router's estimates of those costs run low."""
    return Environment(list(MODELS), {m: dict(q) for m, q in SYNTHETIC_QUALITY.items()}, seed=seed,
                       output_tokens={"code": 1200, "math": 900, "reasoning": 1200, "creative": 350, "factual": 100,
                                      "conversation": 60})


@pytest.mark.parametrize("seed", [0, 1])
async def test_reported_costs_keep_spending_at_the_budget_when_estimates_run_low(seed: int) -> None:
    estimated, _, _ = await _spend_and_quality(0.5, seed, env=_long_answers, costs=False)
    reported, _, router = await _spend_and_quality(0.5, seed, env=_long_answers)
    assert estimated > 0.55, estimated  # paced on its estimates alone it overspends
    assert 0.47 < reported < 0.53, reported
    assert router.budget is not None and abs(router.budget.spend_share - 0.5) < 0.05


@pytest.mark.parametrize("seed", [0, 1])
async def test_nearly_deterministic_choices_keep_spending_at_the_budget(seed: int) -> None:
    # Exploration tempered as evidence grows: each model answers mostly the queries it wins.
    # Its answers' lengths, counted per answer, made the flagship (the budget's reference)
    # look wordier than it is, and the limit overspent by as much (docs/router.md).
    # (Under a budget the default paced_exploration_floor tempers the same way; this setting
    # made the earlier router temper too, so the test shows the overspend there.)
    config = BanditConfig(exploration_floor=0.3)
    reported, _, _ = await _spend_and_quality(0.5, seed, env=_long_answers, config=config)
    assert 0.47 < reported < 0.53, reported


def _stats(dim: int, accuracy: float, answers: int = 400) -> ModelStats:
    """A model right on ``accuracy`` of ``answers`` queries of one kind (a bias-only context)."""
    stats, x = ModelStats.empty(dim), np.eye(dim)[-1]
    for i in range(answers):
        apply_update(stats, x, 1.0 if i < accuracy * answers else 0.0, 1.0, 1.0, None, 1.0)
    return stats


def test_under_a_spending_limit_sampling_is_tempered_as_evidence_grows() -> None:
    # Two models close together, each with plenty of evidence: plain Thompson sampling still
    # gives the weaker one a fair share of the decisions; paced by a spending limit, its
    # spread is tempered towards paced_exploration_floor and it gets far fewer.
    dim, specs = 3, [ModelSpec("a", "openai", 1.0, 1.0), ModelSpec("b", "openai", 1.0, 1.0)]
    stats = {"a": _stats(dim, 0.70), "b": _stats(dim, 0.68)}
    x, objective = np.eye(dim)[-1], Objective(1.0, 0.0, 0.0)

    def weaker_share(paced: bool) -> float:
        sampler = ThompsonSampler(BanditConfig(), seed=0)
        picks = [sampler.choose(x, specs, {"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 1.0}, stats, objective, max_cost=1.0,
                                max_latency=1.0, paced=paced)[0].spec.name for _ in range(400)]
        return picks.count("b") / len(picks)

    assert weaker_share(paced=False) > 0.15
    assert weaker_share(paced=True) < weaker_share(paced=False) / 3


@pytest.mark.parametrize("value", [0, -0.1, 1.5, float("nan")])
def test_a_paced_exploration_floor_outside_0_1_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="paced_exploration_floor must be in"):
        BanditConfig(paced_exploration_floor=value)


async def test_a_decisions_cost_is_settled_once() -> None:
    router = Router(MODELS, embedder="hash", seed=0, objective="cost_budget=0.3")
    decision = await router.route(Query(text="Write a haiku about autumn"))
    assert router.budget is not None
    first = router.budget.price
    await router.feedback(decision.query_id, cost=10 * decision.estimated_cost + 0.01)
    second = router.budget.price
    assert second != first  # the answer cost ten times the estimate: the price moved
    await router.feedback(decision.query_id, cost=10 * decision.estimated_cost + 0.01)
    assert router.budget.price == second
    assert router.stats()["budget"]["settled"] == 1
    assert router.stats()["models"][decision.selected_model]["spend"] > 0


@pytest.mark.parametrize("seed", [0, 1])
async def test_spending_follows_the_budget_and_a_larger_budget_buys_quality(seed: int) -> None:
    tight_share, tight_quality, tight = await _spend_and_quality(0.15, seed)
    loose_share, loose_quality, loose = await _spend_and_quality(0.5, seed)
    assert 0.13 < tight_share < 0.17, tight_share
    assert 0.47 < loose_share < 0.53, loose_share
    assert loose_quality > tight_quality + 0.02
    assert tight.budget is not None and loose.budget is not None
    assert tight.budget.price > loose.budget.price  # a tighter budget: a dearer cost
    stats = tight.stats()
    assert stats["rule"] == "cost_budget" and stats["budget"]["decisions"] == 1500
    assert abs(stats["budget"]["recent_spend_share"] - 0.15) < 0.05


async def test_a_fixed_cost_weight_does_not_keep_to_a_budget_the_pacer_does() -> None:
    # The same starting weights without the budget spend whatever they lead to.
    fixed = Router(MODELS, embedder="hash", seed=4, objective=Objective(0.9, 0.1, 0.0))
    fixed_window = (await run_router(fixed, make_env(4), 1500)).window(750)
    share, _, _ = await _spend_and_quality(0.15, 4)
    priciest = run_static(make_env(4), "strongest", 1500).window(750)["cost"]
    assert fixed_window["cost"] / priciest > 0.25  # far over 0.15
    assert share < 0.19


async def test_a_query_target_still_decides_its_query_and_its_spend_counts() -> None:
    router = Router(MODELS, embedder="hash", seed=5, objective="cost_budget=0.5")
    decision = await router.route(Query(text="Solve for x: 3x + 5 = 20",
                                        constraints=QueryConstraints(min_relative_quality=0.9)))
    assert "within 90% of the best sampled quality" in decision.reasoning
    assert router.budget is not None and router.budget.decisions == 1
    assert router.stats()["decisions_with_quality_target"] == 1


def test_the_budget_comes_from_settings_and_shows_in_stats() -> None:
    app = Conduit(plugins=["router"], router_embedder="hash", router_objective="cost_budget=0.4",
                  router_history="none")
    with TestClient(app) as client:
        assert client.post("/v1/route", json={"text": "What is the capital of France?"}).status_code == 200
        stats = client.get("/v1/stats").json()
        assert stats["rule"] == "cost_budget" and stats["objective"]["cost_budget"] == 0.4
        assert stats["budget"]["decisions"] == 1 and stats["budget"]["cost_price"] > 0
        assert stats["budget"]["settled"] == 0  # routed only: no answer, no cost reported
    bad = Conduit(plugins=["router"], router_embedder="hash", router_objective="cost_budget=2", router_history="none")
    with pytest.raises(ConfigurationError, match=r"router_objective.*cost_budget must be a number in \(0, 1\]"):
        bad.prepare()


def _domain_stats(dim: int, answers: list[tuple[str, float]]) -> ModelStats:
    stats = ModelStats.empty(dim)
    for domain, quality in answers:
        apply_update(stats, _context(dim, domain), quality, 1.0, 1.0, None, 1.0)
    return stats


def _context(dim: int, domain: str) -> np.ndarray:
    x = np.zeros(dim)
    x[domain_slice(dim).start + DOMAINS.index(domain)] = 1.0
    x[-1] = 1.0
    return x


def test_under_a_spending_limit_a_model_with_few_answers_of_a_kind_is_still_tried() -> None:
    # The strong model answered two maths questions, both wrong (bad luck: it is strong
    # elsewhere); its maths estimate fell to ~0.3 against the cheap model's 0.74. Tempered,
    # it is almost never tried on maths again and its estimate never recovers; with fewer
    # than paced_domain_evidence maths answers, while maths has fewer than
    # paced_domain_window answers in all, it is sampled as widely as the prior allows.
    dim = 26
    specs = [ModelSpec("strong", "openai", 5.0, 20.0, quality_prior=0.85),
             ModelSpec("cheap", "openai", 0.1, 0.4, quality_prior=0.6)]
    cheap = _domain_stats(dim, [("math", float(i % 4 != 0)) for i in range(40)])

    def strong_share(config: BanditConfig, paced: bool, wrong: int = 2) -> tuple[float, float]:
        stats = {"strong": _domain_stats(dim, [("math", 0.0)] * wrong + [("factual", 1.0)] * 30), "cheap": cheap}
        sampler = ThompsonSampler(config, seed=0)
        scored = [sampler.choose(_context(dim, "math"), specs, {"strong": 0.0, "cheap": 0.0},
                                 {"strong": 1.0, "cheap": 1.0}, stats, Objective(1.0, 0.0, 0.0), max_cost=1.0,
                                 max_latency=1.0, paced=paced) for _ in range(1000)]
        strong = [s for ranked in scored for s in ranked if s.spec.name == "strong"]
        return sum(ranked[0].spec.name == "strong" for ranked in scored) / len(scored), strong[0].std_quality

    tried, reported = strong_share(BanditConfig(), paced=True)
    assert tried > 0.01
    untried, reported_off = strong_share(BanditConfig(paced_domain_evidence=0), paced=True)
    assert untried < tried / 5
    assert reported == reported_off  # the widening is in the sampling; the reported spread is the posterior's
    # Without a spending limit the setting does nothing (the same draws, the same picks).
    assert strong_share(BanditConfig(), paced=False) == strong_share(BanditConfig(paced_domain_evidence=0), paced=False)
    assert strong_share(BanditConfig(), paced=True, wrong=6)[0] < tried / 5  # six answers: evidence enough
    # Once the kind of query is well known (42 maths answers over both models), tempering decides again.
    assert strong_share(BanditConfig(paced_domain_window=42), paced=True) == (untried, reported)


@pytest.mark.parametrize("name", ["paced_domain_evidence", "paced_domain_window"])
@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), "6"])
def test_a_paced_domain_setting_that_is_not_a_count_is_refused(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a number of answers"):
        BanditConfig(**{name: value})  # type: ignore[arg-type]
