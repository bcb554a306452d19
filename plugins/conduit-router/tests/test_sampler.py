"""The sampler's work per decision: predictions for every candidate in one product, and the
posteriors re-fitted when feedback arrives, not by the decision after it."""

from __future__ import annotations

import math

import anyio
import numpy as np
import pytest
from conduit_router import Query, Router, bandit
from conduit_router.features import domain_cell
from conduit_router.models import DOMAINS
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS

from conduit.storage import RedisStateStore
from conduit.storage.testing import unique_prefix

pytestmark = pytest.mark.anyio

TEXTS = ["Solve for x: 3x + 3 = 12", "Write a Python function that reverses a list", "What is the capital of Peru?",
         "Explain why the sky is blue", "Prove that the square root of 2 is irrational"]


async def _taught(router: Router, rounds: int = 12) -> None:
    for i in range(rounds):
        d = await router.route(Query(text=TEXTS[i % len(TEXTS)]))
        await router.feedback(d.query_id, quality=float(i % 3 != 0), latency_ms=300.0 + i)


def _count_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = bandit.shared_effects

    def counting(posteriors, ridge):  # type: ignore[no-untyped-def]
        calls.append(len(posteriors))
        return original(posteriors, ridge)

    monkeypatch.setattr(bandit, "shared_effects", counting)
    return calls


async def test_the_stacked_prediction_is_each_posteriors_own() -> None:
    router = Router(MODELS, embedder="hash", seed=3)
    await _taught(router)
    stats = router.backend.cached()
    posts = router.sampler.posteriors(router.models, stats, router.analyzer.dimension)
    names = [m.name for m in reversed(router.models)][:3]  # a subset, in another order
    for text in TEXTS:
        x = np.asarray((await router.analyzer.analyze(text)).context)
        means, stds = router.sampler.predict(x, names)
        for name, mean, std in zip(names, means, stds):
            post = posts[name]  # the Gaussian prediction of one posterior: N(x·μ, σ² xᵀA⁻¹x)
            expected = (float(x @ post.mean), math.sqrt(float(x @ post.inv @ x)) * router.sampler.noise)
            assert mean == pytest.approx(expected[0], abs=1e-12)
            assert std == pytest.approx(expected[1], abs=1e-12)


async def test_feedback_refits_the_posteriors_so_the_next_decision_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    router = Router(MODELS, embedder="hash", seed=3)
    await _taught(router, rounds=3)
    fits = _count_fits(monkeypatch)
    d = await router.route(Query(text=TEXTS[0]))
    assert fits == []  # nothing changed since the last feedback
    await router.feedback(d.query_id, quality=0.0)
    assert fits == [len(MODELS)]  # fitted once, with the answer
    decision = await router.route(Query(text=TEXTS[1]))
    assert fits == [len(MODELS)]  # ...and not again by the decision that follows
    # The decision used the re-fitted posteriors: its expected quality is the refit's prediction.
    x = np.asarray(decision.features.context)
    post = router.sampler.posteriors(router.models, router.backend.cached(), x.shape[0])[decision.selected_model]
    assert decision.expected_quality == pytest.approx(min(max(float(x @ post.mean), 0.0), 1.0))


async def test_a_burst_of_answers_costs_one_fit_each_and_the_next_decision_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Each answer was fitted before as well (its predicted quality, for the change detector,
    # needs the posteriors of the statistics it updates): the fit after the update makes the
    # next answer's a no-op, so moving the fit out of the decision adds none.
    router = Router(MODELS, embedder="hash", seed=3)
    await _taught(router, rounds=3)
    fits = _count_fits(monkeypatch)
    decisions = [await router.route(Query(text=text)) for text in TEXTS]
    for d in decisions:
        await router.feedback(d.query_id, quality=1.0, latency_ms=500.0)
    assert fits == [len(MODELS)] * len(decisions)
    await router.route(Query(text=TEXTS[0]))
    assert fits == [len(MODELS)] * len(decisions)


async def test_with_redis_a_workers_own_feedback_refits_before_its_next_decision(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RedisStateStore.from_url(redis_url, prefix=unique_prefix("router-sampler"))
    try:
        router = Router(MODELS, state=store, embedder="hash", seed=3, refresh_interval=60.0)
        await _taught(router, rounds=3)
        fits = _count_fits(monkeypatch)
        d = await router.route(Query(text=TEXTS[2]))
        await router.feedback(d.query_id, quality=1.0)
        assert fits == [len(MODELS)]
        await router.route(Query(text=TEXTS[3]))
        assert fits == [len(MODELS)]
    finally:
        await store.clear()
        await store.close()


async def test_with_redis_what_other_workers_learned_is_fitted_by_the_read_not_a_decision(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RedisStateStore.from_url(redis_url, prefix=unique_prefix("router-sampler"))
    try:
        a = Router(MODELS, state=store, embedder="hash", seed=1)
        b = Router(MODELS, state=store, embedder="hash", seed=2, refresh_interval=0.05)
        await b.route(Query(text=TEXTS[0]))  # b's first read
        await _taught(a, rounds=3)
        await anyio.sleep(0.06)
        fits = _count_fits(monkeypatch)
        await b.route(Query(text=TEXTS[1]))  # decides on its stale copy, then starts the read
        assert fits == []
        with anyio.fail_after(5):
            await b.backend._refresh.wait()  # type: ignore[attr-defined]
        assert fits == [len(MODELS)]  # the read brought a's answers and fitted them
        assert sum(stats.u for stats in b.backend.cached().values()) == 3
        await b.route(Query(text=TEXTS[2]))
        assert fits == [len(MODELS)]  # ...so the next decision did not
    finally:
        await store.clear()
        await store.close()


async def test_the_domain_a_decision_passes_is_the_one_hot_of_its_context() -> None:
    # route() hands choose() the domain's index instead of reading it off the context again.
    router = Router(MODELS, embedder="hash")
    for text in TEXTS + ["Tell me a joke", "Write a poem about rain", "What causes tides?"]:
        features = await router.analyzer.analyze(text)
        assert DOMAINS.index(features.domain) == domain_cell(np.asarray(features.context))
