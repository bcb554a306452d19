"""The change detector (conduit_router.posteriors.DriftTest): a risk-adjusted Bernoulli CUSUM.

Stationary outcomes must rarely raise an alarm, skewed ones (a model right 90% of the time)
included; a halved accuracy must raise one within tens of the model's observations."""

from __future__ import annotations

import numpy as np
import pytest
from conduit_router import BanditConfig, ModelSpec, Router
from conduit_router.posteriors import DriftTest, LocalPosteriors, ModelStats, apply_update

X = np.ones(1)


def run(test: DriftTest, expected: float, true: float, steps: int, seed: int) -> list[int]:
    """Feed ``steps`` right-or-wrong outcomes (right with probability ``true``) predicted at
    ``expected``; return the steps at which the detector fired."""
    stats = ModelStats.empty(1)
    rng = np.random.default_rng(seed)
    fired = []
    for step, right in enumerate(rng.random(steps) < true):
        before = stats.dr
        apply_update(stats, X, float(right), 1.0, 1.0, None, 1.0, expected, test)
        if stats.dr > before:
            fired.append(step)
    return fired


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.7, 0.9, 0.97])
def test_each_step_drifts_down_while_outcomes_agree_and_up_after_a_change(p: float) -> None:
    test = DriftTest()
    right, wrong = test.evidence(p, 1.0), test.evidence(p, 0.0)
    # Expected step under the prediction: minus a Kullback-Leibler divergence, for both sums.
    assert p * right[0] + (1 - p) * wrong[0] < 0
    assert p * right[1] + (1 - p) * wrong[1] < 0
    # ... and positive once the odds of a right answer fell (or rose) by the test's factor.
    low = p / (p + (1 - p) * test.odds)
    high = p * test.odds / (p * test.odds + 1 - p)
    assert low * right[0] + (1 - low) * wrong[0] > 0
    assert high * right[1] + (1 - high) * wrong[1] > 0


def test_graded_feedback_enters_linearly() -> None:
    test = DriftTest()
    for i in (0, 1):
        assert test.evidence(0.6, 0.25)[i] == pytest.approx(0.25 * test.evidence(0.6, 1.0)[i] + 0.75 * test.evidence(0.6, 0.0)[i])


def test_stationary_skewed_outcomes_rarely_raise_an_alarm() -> None:
    # A model right 90% of the time, predicted exactly or slightly too high (as a model the
    # sampler picks often is): the standardised-residual detector this replaced fired about
    # every 1,400 and 400 observations here; this one every ~14,000 and ~2,000.
    assert len(run(DriftTest(), 0.9, 0.9, 20_000, seed=0)) <= 4
    assert len(run(DriftTest(), 0.9, 0.87, 20_000, seed=1)) <= 20


@pytest.mark.parametrize("before, after", [(0.7, 0.35), (0.54, 0.27), (0.9, 0.6), (0.3, 0.7)])
def test_a_large_change_is_caught_within_tens_of_observations(before: float, after: float) -> None:
    delays = []
    for seed in range(20):
        fired = run(DriftTest(), before, after, 400, seed)
        assert fired, f"no alarm in 400 observations (seed {seed})"
        delays.append(fired[0] + 1)
    assert float(np.median(delays)) <= 60, delays


def test_an_alarm_keeps_only_recent_evidence_and_restarts_the_sums() -> None:
    stats = ModelStats.empty(1)
    test = DriftTest(keep=5.0)
    for i in range(100):  # right four times in five, as predicted
        apply_update(stats, X, float(i % 5 != 0), 1.0, 1.0, None, 1.0, 0.8, test)
    assert stats.dr == 0 and stats.n == 100
    while stats.dr == 0:
        apply_update(stats, X, 0.0, 1.0, 1.0, None, 1.0, 0.8, test)
    assert stats.n < 5 + 1 + 1e-9  # `keep` observations' worth, then this one
    assert stats.dn == [0.0] and stats.up == [0.0]


def test_threshold_zero_turns_it_off() -> None:
    assert run(DriftTest(threshold=0.0), 0.9, 0.1, 500, seed=0) == []


@pytest.mark.parametrize("kwargs", [{"odds": 1.0}, {"odds": 0.5}, {"odds": float("inf")}, {"threshold": -1.0},
                                    {"keep": 0.0}])
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="drift test"):
        DriftTest(**kwargs)
    name, value = next(iter(kwargs.items()))
    with pytest.raises(ValueError, match="drift test"):
        BanditConfig(**{f"drift_{name}": value})


@pytest.mark.anyio
async def test_a_drop_on_one_kind_of_query_is_caught_though_the_model_does_well_on_the_others() -> None:
    # A model that answers four code queries for each maths one fails on maths only, while its
    # code answers come out a little better than predicted: in one pair of sums over all its
    # answers the code evidence cancels the maths drop; per kind of query it is caught.
    router = Router([ModelSpec("m", "p", 1.0, 1.0, quality_prior=0.9)], embedder="hash", seed=0)
    code = await router.analyzer.analyze("Write a Python function that parses a CSV file and returns the rows")
    maths = await router.analyzer.analyze("Solve the equation 3x^2 - 5x + 1 = 0 for x")
    assert (code.domain, maths.domain) == ("code", "math")
    rng = np.random.default_rng(1)

    async def rounds(n: int, code_right: float, maths_right: float) -> None:
        for _ in range(n):
            for _ in range(4):
                await router.observe("m", code.context, float(rng.random() < code_right))
            await router.observe("m", maths.context, float(rng.random() < maths_right))

    await rounds(300, 0.9, 0.9)
    assert router.stats()["models"]["m"]["drifts"] == 0
    await rounds(60, 0.93, 0.5)
    assert router.stats()["models"]["m"]["drifts"] >= 1


def test_each_kind_of_query_keeps_its_own_sums_and_an_alarm_restarts_them_all() -> None:
    stats = ModelStats.empty(1)
    test = DriftTest()
    for _ in range(5):  # wrong where 0.9 was predicted, on kind 2: only its "down" sum grows
        apply_update(stats, X, 0.0, 1.0, 1.0, None, 1.0, 0.9, test, cell=2)
    assert stats.dn[:2] == [0.0, 0.0] and stats.dn[2] > 0 and stats.up == [0.0, 0.0, 0.0]
    for _ in range(20):  # the same on kind 0 reaches the threshold on its own sum
        apply_update(stats, X, 0.0, 1.0, 1.0, None, 1.0, 0.9, test, cell=0)
        if stats.dr:
            break
    assert stats.dr == 1 and stats.dn == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("cell", [-1, 64, 1.5, "math", True])
@pytest.mark.anyio
async def test_a_cell_outside_the_detectors_range_is_refused(cell: object) -> None:
    with pytest.raises(ValueError, match="cell"):
        await LocalPosteriors(1, drift=DriftTest()).update("m", X, 1.0, 1.0, None, 0.9, cell)  # type: ignore[arg-type]


def test_sums_stored_by_an_earlier_version_restart() -> None:
    data = ModelStats.empty(2).to_json()
    data.update({"dn": 3.5, "up": 0.25})  # one pair over every kind of query, before cells
    del data["dnc"], data["upc"]
    stats = ModelStats.from_json(data)
    assert stats.dn == [] and stats.up == []
    apply_update(stats, np.ones(2), 0.0, 1.0, 1.0, None, 1.0, 0.9, DriftTest(), cell=1)
    assert stats.dn[0] == 0.0 and stats.dn[1] > 0 and stats.dr == 0
