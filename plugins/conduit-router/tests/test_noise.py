"""The feedback's noise is learned: right-or-wrong answers leave it as configured, graded
answers (a judge's score) that vary less narrow the posteriors, and the router learns faster.

The workload is conduit_router.simulation's synthetic one (see test_learning.py); with
``graded`` its feedback is the true quality plus Gaussian noise instead of a Bernoulli draw.
Seeds are fixed, so these are exact replays."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from conduit.storage import RedisStateStore
from conduit.storage.testing import unique_prefix
from conduit_router import BanditConfig, Query, Router
from conduit_router.bandit import NOISE_PRIOR_ANSWERS, learned_noise
from conduit_router.posteriors import ModelStats
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS
from conduit_router.simulation import Environment, run_router
from conduit_router.simulation import synthetic_environment as make_env

pytestmark = pytest.mark.anyio

STEPS = 600


def _env(seed: int, graded: float | None) -> Environment:
    return replace(make_env(seed), graded=graded)


async def test_right_or_wrong_answers_leave_the_noise_as_configured() -> None:
    router = Router(MODELS, embedder="hash", seed=0)
    await run_router(router, _env(0, None), STEPS)
    # A right-or-wrong answer spreads by 0.3-0.5 around its model's quality: never less than
    # the configured 0.3, so the learner is exactly the one without the estimate.
    assert router.sampler.noise == router.config.noise == 0.3
    assert router.stats()["feedback_noise"] == 0.3
    fixed = Router(MODELS, embedder="hash", seed=0, config=BanditConfig(learn_noise=False))
    assert (await run_router(fixed, _env(0, None), STEPS)).chosen == (await run_router(
        Router(MODELS, embedder="hash", seed=0), _env(0, None), STEPS)).chosen


async def test_graded_answers_lower_the_noise_and_the_router_learns_faster() -> None:
    late = {"learned": 0.0, "fixed": 0.0}
    for seed in (0, 1, 2):
        learned = Router(MODELS, embedder="hash", seed=seed)
        fixed = Router(MODELS, embedder="hash", seed=seed, config=BanditConfig(learn_noise=False))
        for name, router in (("learned", learned), ("fixed", fixed)):
            report = await run_router(router, _env(seed, 0.1), STEPS)
            late[name] += sum(report.regret[STEPS // 2:])
        # Scores spread by 0.1 (a little less where [0, 1] clips them); the estimate sits a
        # little above it, at most the configured 0.3.
        assert 0.09 < learned.sampler.noise < 0.15
        assert learned.stats()["feedback_noise"] == round(learned.sampler.noise, 4)
        assert fixed.sampler.noise == 0.3
    # Narrower posteriors settle the choice sooner: the late regret is well under half.
    assert late["learned"] < 0.5 * late["fixed"]
    # The spreads are what narrowed (the means are the same formula): under half as wide.
    x = np.asarray((await learned.analyzer.analyze("What is the capital of Peru?")).context)
    names = [m.name for m in MODELS]
    means, stds = learned.sampler.predict(x, names)
    posts = learned.sampler._posteriors
    assert all(sd < 0.5 * math.sqrt(float(x @ posts[n].inv @ x)) * 0.3 for n, sd in zip(names, stds))
    assert means == pytest.approx([float(x @ posts[n].mean) for n in names], abs=1e-12)


async def test_the_estimate_is_the_answers_errors_against_their_predictions() -> None:
    # Each full-weight answer adds its squared error against the quality predicted before it,
    # over 1 + v (the prediction's variance over σ²): their ratio estimates σ².
    router = Router(MODELS, embedder="hash", seed=5)
    env = _env(5, 0.05)
    errors = worth = 0.0
    for _ in range(150):
        text, domain = env.sample()
        d = await router.route(Query(text=text))
        x = np.asarray(d.features.context)
        stats = router.backend.cached()
        router.sampler.posteriors(router.models, stats, x.shape[0])
        means, stds = router.sampler.predict(x, [d.selected_model])
        y = env.feedback(d.selected_model, domain)
        errors += (y - means[0]) ** 2
        worth += 1 + (stds[0] / router.sampler.noise) ** 2
        await router.feedback(d.query_id, quality=y)
    cached = router.backend.cached()
    assert sum(s.ee for s in cached.values()) == pytest.approx(errors, rel=1e-9)
    assert sum(s.ev for s in cached.values()) == pytest.approx(worth, rel=1e-9)
    prior = NOISE_PRIOR_ANSWERS * 0.3 ** 2
    dof = NOISE_PRIOR_ANSWERS + worth
    expected = math.sqrt((prior + errors) / dof / (1 - 2 * math.sqrt(2 / dof)))
    assert learned_noise(cached.values(), router.config) == pytest.approx(expected, rel=1e-9)
    assert router.sampler.noise == pytest.approx(expected, rel=1e-9) and expected < 0.2
    # Off, or with no answers, it is the configured noise.
    assert learned_noise(cached.values(), BanditConfig(learn_noise=False)) == 0.3
    assert learned_noise([None, ModelStats.empty(3)], router.config) == 0.3


async def test_answers_that_merely_arrived_do_not_lower_the_noise() -> None:
    # An answer that arrived is evidence of weight 0.25 (reward 1): it says nothing of how
    # much answers vary, and a run of them must not narrow the posteriors.
    router = Router(MODELS, embedder="hash", seed=5)
    for i in range(300):
        d = await router.route(Query(text=f"What is the capital of country number {i}?"))
        await router.observe(d.selected_model, d.features.context, 1.0, weight=0.25)
    assert all(s.ee == 0 and s.ev == 0 for s in router.backend.cached().values())
    assert router.sampler.noise == 0.3


def test_learn_noise_must_be_a_bool_and_scores_a_positive_spread() -> None:
    with pytest.raises(ValueError, match="learn_noise"):
        BanditConfig(learn_noise="yes")  # type: ignore[arg-type]
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="graded"):
            _env(0, bad)


async def test_with_redis_every_worker_learns_the_same_noise(redis_url: str) -> None:
    prefix = unique_prefix("router-noise")
    stores = [RedisStateStore.from_url(redis_url, prefix=prefix) for _ in range(2)]
    try:
        one, two = (Router(MODELS, state=store, embedder="hash", seed=3) for store in stores)
        env = _env(3, 0.05)
        for _ in range(120):
            text, domain = env.sample()
            d = await one.route(Query(text=text))
            await one.feedback(d.query_id, quality=env.feedback(d.selected_model, domain))
        await two.refresh()  # reads what the first worker's answers left in Redis
        await two.route(Query(text="What is the capital of Peru?"))
        assert one.sampler.noise < 0.2
        assert two.sampler.noise == pytest.approx(one.sampler.noise, rel=1e-9)
    finally:
        await stores[0].clear()
        for store in stores:
            await store.close()
