"""Feedback: explicit ratings update what the router believes, once per answer; implicit
signals (retries, empty or refused answers) count against the model that answered."""

from __future__ import annotations

import pytest
from conduit_router import (
    FeedbackConflictError,
    Query,
    QueryConstraints,
    Router,
    UnknownQueryError,
)
from conduit_router.feedback import answer_problem, explicit_reward
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS

pytestmark = pytest.mark.anyio


def only(model: str) -> QueryConstraints:
    return QueryConstraints(allowed_models=(model,))


def test_explicit_signals_map_to_a_reward_in_0_1() -> None:
    assert explicit_reward(quality=0.8) == 0.8
    assert explicit_reward(rating=1) == 0.0 and explicit_reward(rating=5) == 1.0 and explicit_reward(rating=4) == 0.75
    assert explicit_reward(success=True) == 1.0 and explicit_reward(success=False) == 0.0
    assert explicit_reward(quality=1.0, rating=1) == 0.5
    assert explicit_reward() is None


@pytest.mark.parametrize("kwargs, field", [
    ({"quality": 1.2}, "quality"), ({"quality": True}, "quality"), ({"rating": 0}, "rating"),
    ({"rating": 6}, "rating"), ({"success": "yes"}, "success"),
])
def test_explicit_signals_out_of_range_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        explicit_reward(**kwargs)


@pytest.mark.parametrize("text, problem", [
    ("", "empty"), ("   \n", "empty"), (None, "empty"),
    ("I'm sorry, but I can't help with that request.", "refused"),
    ("I cannot assist with that.", "refused"),
    ("As an AI language model, I cannot browse the internet.", "refused"),
    ("Sure! Here is the function you asked for.", None),
    ("I can't believe how elegant this proof is: ...", None),
])
def test_empty_and_refused_answers_are_recognised(text: str | None, problem: str | None) -> None:
    assert answer_problem(text) == problem


async def test_feedback_updates_the_models_posterior() -> None:
    router = Router(MODELS, embedder="hash", seed=1)
    before = router.estimated_quality("medium", "code")
    for _ in range(10):
        d = await router.route(Query(text="Write a Go function that parses a CSV file.", constraints=only("medium")))
        result = await router.feedback(d.query_id, rating=1, latency_ms=700, cost=0.001)
        assert result.model == "medium" and result.reward == 0.0 and result.latency_recorded and result.cost_recorded
    stats = router.stats()["models"]["medium"]
    assert stats["observations"] == 10
    assert stats["spend"] == pytest.approx(0.01)
    assert router.estimated_quality("medium", "code") < before - 0.3
    assert stats["expected_latency_ms"] < 900  # the prior was 900 ms; ten reports of 700 ms pull it down


async def test_quality_feedback_is_accepted_once_per_query() -> None:
    router = Router(MODELS, embedder="hash")
    d = await router.route("hello")
    await router.feedback(d.query_id, quality=1.0)
    with pytest.raises(FeedbackConflictError) as info:
        await router.feedback(d.query_id, rating=2)
    assert info.value.status_code == 409
    await router.feedback(d.query_id, latency_ms=450.0)  # timing may still be reported


async def test_feedback_for_an_unknown_query_is_a_404() -> None:
    router = Router(MODELS, embedder="hash")
    with pytest.raises(UnknownQueryError) as info:
        await router.feedback("no-such-query", quality=1.0)
    assert info.value.status_code == 404


@pytest.mark.parametrize("kwargs, message", [
    ({}, "at least one of"), ({"latency_ms": -5}, "latency_ms"), ({"cost": -1.0}, "cost"),
    ({"latency_ms": float("nan")}, "latency_ms"),
])
async def test_feedback_without_a_usable_signal_is_rejected(kwargs: dict, message: str) -> None:
    router = Router(MODELS, embedder="hash")
    d = await router.route("hello")
    with pytest.raises(ValueError, match=message):
        await router.feedback(d.query_id, **kwargs)


async def test_a_retry_from_the_same_user_counts_against_the_previous_answer() -> None:
    router = Router(MODELS, embedder="hash", seed=2)
    first = await router.route(Query(text="What is 2+2?", user_id="ada", constraints=only("small")))
    await router.route(Query(text="what is 2 + 2", user_id="ada", constraints=only("medium")))
    stats = router.stats()
    assert stats["models"]["small"]["observations"] == 1  # the first answer got an implicit 0
    assert stats["models"]["medium"]["observations"] == 0
    assert stats["feedback"]["implicit"] == 1
    # The retry was an implicit verdict; the user may still rate the answer once.
    await router.feedback(first.query_id, quality=1.0)
    with pytest.raises(FeedbackConflictError):
        await router.feedback(first.query_id, quality=1.0)


async def test_no_retry_across_users_different_questions_or_after_five_minutes() -> None:
    router = Router(MODELS, embedder="hash", seed=3)
    now = [1000.0]
    router.retry_detector.clock = lambda: now[0]
    await router.route(Query(text="What is 2+2?", user_id="ada"))
    await router.route(Query(text="What is 2+2?", user_id="bob"))  # someone else
    await router.route(Query(text="Write a haiku about autumn", user_id="ada"))  # another question
    now[0] += 301
    await router.route(Query(text="What is 2+2?", user_id="ada"))  # too late to be a retry
    assert router.stats()["feedback"]["implicit"] == 0


@pytest.mark.slow
async def test_paraphrased_retry_is_detected_with_the_minilm_embedder() -> None:
    router = Router(MODELS, seed=4)  # embedder "auto": MiniLM from conduit-onnx
    await router.route(Query(text="how do I reverse a list in python", user_id="ada", constraints=only("small")))
    await router.route(Query(text="how can I reverse a python list", user_id="ada", constraints=only("large")))
    await router.route(Query(text="what is the capital of France", user_id="ada", constraints=only("large")))
    assert router.stats()["models"]["small"]["observations"] == 1
    assert router.stats()["models"]["large"]["observations"] == 0
