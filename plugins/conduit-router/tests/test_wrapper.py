"""Seed 002's ChatbotWrapper over the provider clients, against the stand-in provider."""

from __future__ import annotations

import pytest
from conduit_router.providers import InvalidChatRequest, ProviderError
from conduit_router.standin import Fault, StandIn
from conduit_router.wrapper import ChatbotWrapper, get_metrics_collector


@pytest.fixture
def wrapper(fresh_standin: StandIn) -> ChatbotWrapper:
    get_metrics_collector().reset()
    with ChatbotWrapper(openai_api_key="sk-test", base_urls={"openai": fresh_standin.openai_url}) as w:
        yield w


def test_chat_answers_and_a_repeated_question_comes_from_the_cache(wrapper: ChatbotWrapper) -> None:
    first = wrapper.chat(model="gpt-4o-mini", messages="Hello, how are you?", temperature=0.7, max_tokens=100)
    again = wrapper.chat(model="gpt-4o-mini", messages="Hello, how are you?", temperature=0.7, max_tokens=100)
    assert (first.cached, again.cached, again.text) == (False, True, first.text)
    stats = get_metrics_collector().get_stats()
    assert stats["request_counts"] == {"openai:gpt-4o-mini": 2} and stats["cache_hits"] == {"openai:gpt-4o-mini": 1}


def test_caching_off_calls_the_provider_every_time(fresh_standin: StandIn) -> None:
    with ChatbotWrapper(openai_api_key="sk-test", base_urls={"openai": fresh_standin.openai_url},
                        enable_caching=False) as wrapper:
        answers = [wrapper.chat(model="gpt-4o-mini", messages="same question") for _ in range(2)]
    assert [a.cached for a in answers] == [False, False]


def test_a_failing_provider_is_retried_then_counted_as_an_error(fresh_standin: StandIn, wrapper: ChatbotWrapper) -> None:
    fresh_standin.inject("gpt-4o", Fault("error", status=503))  # one failure: the retry answers
    assert wrapper.chat(model="gpt-4o", messages="retry me").text
    fresh_standin.inject("gpt-4o", *[Fault("error", status=400)] * 5)  # not retried: a client error
    with pytest.raises(ProviderError):
        wrapper.chat(model="gpt-4o", messages="fail me")
    stats = get_metrics_collector().get_stats()
    assert stats["request_counts"]["openai:gpt-4o"] == 2 and stats["error_counts"] == {"openai:gpt-4o": 1}
    assert stats["unavailable_providers"] == ["openai"]


def test_bad_input_is_refused_before_any_call(wrapper: ChatbotWrapper) -> None:
    with pytest.raises(InvalidChatRequest, match="temperature"):
        wrapper.chat(model="gpt-4o-mini", messages="hi", temperature=5)
    assert get_metrics_collector().get_stats()["request_counts"] == {}


def test_the_provider_comes_from_the_catalogue_then_the_name() -> None:
    wrapper = ChatbotWrapper()
    assert [wrapper.provider_for(m) for m in ("gpt-4o", "claude-3-5-haiku-latest", "claude-x", "gemini-2.0-flash",
                                              "o3-mini", "some-local-model")] == \
        ["openai", "anthropic", "anthropic", "google", "openai", "openai"]


@pytest.mark.anyio
async def test_achat_runs_on_the_callers_loop(fresh_standin: StandIn) -> None:
    wrapper = ChatbotWrapper(openai_api_key="sk-test", base_urls={"openai": fresh_standin.openai_url})
    answer = await wrapper.achat(model="gpt-4o-mini", messages=[{"role": "user", "content": "async hello"}])
    assert answer.text
    for client in wrapper._clients.values():  # noqa: SLF001 - the clients were opened on this loop
        await client.aclose()
