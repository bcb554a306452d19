"""Router.complete and Router.stream against the stand-in: route, call, fall back past a
failing model, cool it down, and learn from what happened."""

from __future__ import annotations

import pytest
from conduit_router import (
    AllModelsFailedError,
    ModelSpec,
    Query,
    QueryConstraints,
    Router,
)
from conduit_router.providers import AnthropicClient, OpenAIClient, ProviderError
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS
from conduit_router.standin import Fault, StandIn

pytestmark = pytest.mark.anyio


def make_router(standin: StandIn, models: list[ModelSpec] | None = None, **options: object) -> Router:
    opts = {"api_key": "k", "timeout": 0.5, "max_retries": 1, "backoff_base": 0.01, "cache": None}
    providers = {"openai": OpenAIClient(base_url=standin.openai_url, **opts),
                 "anthropic": AnthropicClient(base_url=standin.url, **opts)}
    return Router(models or MODELS, embedder="hash", seed=1, providers=providers, **options)  # type: ignore[arg-type]


def prefer(*models: str) -> QueryConstraints:
    return QueryConstraints(allowed_models=models)


async def test_complete_routes_calls_and_records_implicit_feedback(fresh_standin: StandIn) -> None:
    router = make_router(fresh_standin)
    answer = await router.complete(Query(text="What is the capital of Kenya?"))
    assert answer.text.startswith(f"[{answer.model}] This is the stand-in's answer")
    assert answer.model == answer.decision.selected_model and answer.attempts == ((answer.model, "ok"),)
    assert answer.usage.input_tokens > 0 and answer.cost > 0 and answer.latency_ms > 0
    stats = router.stats()["models"][answer.model]
    assert stats["answers"] == 1 and stats["observations"] == 1 and stats["spend"] == pytest.approx(answer.cost)
    await router.feedback(answer.query_id, rating=5)  # the caller can still rate it
    assert router.stats()["models"][answer.model]["observations"] == 2
    await router.aclose()


async def test_under_a_budget_the_answers_actual_cost_is_what_counts(fresh_standin: StandIn) -> None:
    # Input and output priced in different proportions, so that the priciest model's cost at
    # the actual token counts is not the estimate scaled like the answer's.
    models = [ModelSpec("reader", "openai", 0.5, 1.0, quality_prior=0.7),
              ModelSpec("writer", "openai", 1.0, 40.0, quality_prior=0.8)]
    router = make_router(fresh_standin, models, objective="cost_budget=0.4")
    answer = await router.complete(Query(text="Explain how a hash map handles collisions.",
                                         constraints=prefer("reader")), max_tokens=200)
    assert router.budget is not None and router.budget.decisions == 1
    # The estimates made at decision time are replaced by the answer's cost and what the
    # priciest model would have charged for the same token counts.
    priciest = router.priciest_cost(answer.usage.input_tokens, answer.usage.output_tokens)
    assert router.budget.spend_share == pytest.approx(answer.cost / priciest)
    await router.feedback(answer.query_id, cost=answer.cost * 5)  # already settled: counted in spend only
    assert router.budget.spend_share == pytest.approx(answer.cost / priciest)
    await router.aclose()


async def test_a_timeout_falls_back_to_the_next_best_model(fresh_standin: StandIn) -> None:
    router = make_router(fresh_standin, policy="cheapest")  # small first, then the next best
    fresh_standin.set_default("small", Fault.timeout(3.0))
    answer = await router.complete(Query(text="hi there", constraints=prefer("small", "medium")), max_tokens=50)
    assert answer.model == "medium"
    assert answer.attempts == (("small", "timeout"), ("medium", "ok"))
    assert router.stats()["models"]["small"]["failures"] == 1
    assert router.stats()["models"]["small"]["observations"] == 1  # the timeout counted as quality 0
    await router.aclose()


async def test_a_failing_model_cools_down_and_is_not_routed_to(fresh_standin: StandIn) -> None:
    router = make_router(fresh_standin, policy="cheapest", breaker_failures=2, breaker_cooldown=60)
    fresh_standin.set_default("medium", Fault.server_error(500))
    for _ in range(2):
        answer = await router.complete(Query(text="Write a Go function that parses a CSV file.",
                                             constraints=prefer("medium", "large")))
        assert answer.model == "large"
    decision = await router.route(Query(text="hello", constraints=prefer("medium", "large")))
    assert decision.excluded == {"small": "not in allowed_models", "medium": "cooling down after failures"}
    assert router.stats()["models"]["medium"]["breaker"] == "open"
    seen = len(fresh_standin.seen("medium"))
    await router.complete(Query(text="hello", constraints=prefer("medium", "large")))
    assert len(fresh_standin.seen("medium")) == seen  # not even tried while cooling down
    await router.aclose()


async def test_an_empty_answer_falls_through_and_a_refusal_counts_against_the_model(fresh_standin: StandIn) -> None:
    router = make_router(fresh_standin, policy="cheapest")
    fresh_standin.inject("small", Fault.empty())
    answer = await router.complete(Query(text="hi", constraints=prefer("small", "medium")))
    assert answer.model == "medium" and answer.attempts == (("small", "empty"), ("medium", "ok"))
    before = router.estimated_quality("large", "conversation")
    fresh_standin.inject("large", Fault.refuse())
    refused = await router.complete(Query(text="hi", constraints=prefer("large")))
    assert refused.text.startswith("I'm sorry")
    assert router.estimated_quality("large", "conversation") < before  # a refusal is a quality-0 answer
    await router.aclose()


async def test_when_every_model_fails_the_error_says_what_happened(fresh_standin: StandIn) -> None:
    router = make_router(fresh_standin)
    for model in ("small", "medium", "large"):
        fresh_standin.set_default(model, Fault.server_error(503))
    with pytest.raises(AllModelsFailedError) as info:
        await router.complete("hello")
    assert info.value.status_code == 503
    assert sorted(m for m, _ in info.value.attempts) == ["large", "medium", "small"]
    assert {o for _, o in info.value.attempts} == {"server_error"}
    await router.aclose()


async def test_without_api_keys_the_error_names_the_variables() -> None:
    router = Router(MODELS, embedder="hash", providers={"openai": OpenAIClient(environ={}),
                                                        "anthropic": AnthropicClient(environ={})})
    with pytest.raises(AllModelsFailedError) as info:
        await router.complete("hello")
    assert "OPENAI_API_KEY" in info.value.detail
    assert {o for _, o in info.value.attempts} == {"not_configured"}
    assert router.stats()["models"]["small"]["observations"] == 0  # not the model's fault
    await router.aclose()


async def test_invalid_call_options_are_rejected_before_routing(fresh_standin: StandIn) -> None:
    router = make_router(fresh_standin)
    with pytest.raises(ValueError, match="temperature"):
        await router.complete("hello", temperature=5)
    assert router.stats()["decisions"] == 0
    await router.aclose()


async def test_stream_yields_the_answer_and_learns_when_it_ends(fresh_standin: StandIn) -> None:
    router = make_router(fresh_standin, policy="cheapest")
    fresh_standin.inject("small", Fault.server_error(500), Fault.server_error(500))  # both attempts fail
    stream = await router.stream(Query(text="tell me a story", constraints=prefer("small", "large")))
    assert stream.model == "large"  # small failed before its first chunk: fallen back
    text = "".join([piece async for piece in stream])
    assert text.startswith("[large] This is the stand-in's answer")
    assert stream.completion is not None and stream.completion.text == text
    assert stream.completion.attempts == (("small", "server_error"), ("large", "ok"))
    assert router.stats()["models"]["large"]["answers"] == 1
    await router.aclose()


async def test_a_stream_cut_mid_answer_ends_with_the_error_and_counts_against_the_model(fresh_standin: StandIn) -> None:
    router = make_router(fresh_standin, policy="cheapest")
    fresh_standin.inject("small", Fault("drop_stream"))
    stream = await router.stream(Query(text="tell me a story", constraints=prefer("small")))
    pieces = []
    with pytest.raises(ProviderError) as info:
        async for piece in stream:
            pieces.append(piece)
    assert pieces == ["[small] "] and info.value.kind == "connection_error"
    assert stream.completion is None
    assert router.stats()["models"]["small"]["failures"] == 1
    await router.aclose()


async def test_two_routers_sharing_redis_reuse_each_others_cached_answers(fresh_standin: StandIn, private_redis) -> None:
    """Two workers (or hosts) on one Redis: an answer one of them paid for is the other's
    cache hit; without a shared store each would call the provider."""
    from conduit_router.providers import ResponseCache

    def worker() -> Router:
        opts = {"api_key": "k", "timeout": 0.5, "max_retries": 1, "backoff_base": 0.01}
        providers = {"openai": OpenAIClient(base_url=fresh_standin.openai_url, cache=ResponseCache(), **opts),
                     "anthropic": AnthropicClient(base_url=fresh_standin.url, cache=ResponseCache(), **opts)}
        return Router(MODELS, embedder="hash", seed=1, providers=providers, state=private_redis.url,
                      policy="cheapest")

    first, second = worker(), worker()
    try:
        query = "What is the capital of Kenya?"
        paid = await first.complete(Query(text=query), temperature=0.0)
        reused = await second.complete(Query(text=query), temperature=0.0)
        assert not paid.cached and reused.cached and reused.text == paid.text and reused.model == paid.model
        assert len(fresh_standin.seen(paid.model)) == 1  # one provider call for both workers
    finally:
        await first.aclose()
        await second.aclose()
