"""Provider clients against the local stand-in: the OpenAI, Anthropic and Gemini wire
formats, retries that honour Retry-After, timeouts, validation, caching, rate limits, streams."""

from __future__ import annotations

from email.utils import formatdate

import anyio
import httpx
import pytest
from conduit_router.providers import (
    AnthropicClient,
    GeminiClient,
    HuggingFaceClient,
    InvalidChatRequest,
    OpenAIClient,
    ProviderError,
    ProviderNotConfigured,
    ProviderTimeout,
    RateLimited,
    ResponseCache,
    parse_retry_after,
    validate_chat,
)
from conduit_router.providers.ratelimit import TokenBucket
from conduit_router.standin import Fault, StandIn

pytestmark = pytest.mark.anyio


def clients(standin: StandIn, **options: object) -> list:
    options = {"api_key": "test-key", "backoff_base": 0.01, "cache": None, **options}
    return [OpenAIClient(base_url=standin.openai_url, **options), AnthropicClient(base_url=standin.url, **options),
            GeminiClient(base_url=standin.gemini_url, **options)]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["openai", "anthropic", "gemini"])
async def test_each_wire_format_answers_and_streams_the_same_text(fresh_standin: StandIn, index: int) -> None:
    client = clients(fresh_standin)[index]
    request = validate_chat("model-x", [{"role": "system", "content": "be brief"},
                                        {"role": "user", "content": "hello there"}], 0.5, 64)
    result = await client.chat(request)
    assert result.text == "[model-x] This is the stand-in's answer to: be brief hello there"
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    chunks = [c async for c in client.stream(validate_chat("model-x", request.message_list(), 0.5, 64, stream=True))]
    assert "".join(c.text for c in chunks) == result.text
    assert len([c for c in chunks if c.text]) > 5  # really streamed, word by word
    assert chunks[-1].usage is not None or any(c.usage for c in chunks)
    await client.aclose()


async def test_429_with_retry_after_is_waited_for_then_retried(fresh_standin: StandIn) -> None:
    client = clients(fresh_standin)[0]  # its own backoff would be 0.01-0.02 s
    fresh_standin.inject("m", Fault.rate_limit(retry_after=0.6))
    result = await client.chat(validate_chat("m", "hi"))
    assert result.attempts == 2 and client.metrics.retries == 1
    # The wait it chose: the asked 0.6 s plus at most 0.11 s of jitter (0.1 x 0.6 + 0.05).
    assert 0.6 <= client.metrics.retry_wait_s <= 0.71
    await client.aclose()


async def test_a_retry_after_longer_than_the_limit_is_not_waited_for(fresh_standin: StandIn) -> None:
    client = clients(fresh_standin, max_retry_after=5.0)[0]
    fresh_standin.inject("m", Fault.rate_limit(retry_after=120))
    with pytest.raises(RateLimited) as info:
        await client.chat(validate_chat("m", "hi"))
    assert info.value.retry_after == 120 and len(fresh_standin.seen("m")) == 1
    await client.aclose()


@pytest.mark.parametrize("index", [0, 1, 2], ids=["openai", "anthropic", "gemini"])
async def test_server_errors_are_retried_with_backoff(fresh_standin: StandIn, index: int) -> None:
    client = clients(fresh_standin, max_retries=3)[index]
    fresh_standin.inject("m", Fault.server_error(500), Fault.server_error(503))
    result = await client.chat(validate_chat("m", "hi"))
    assert result.attempts == 3 and len(fresh_standin.seen("m")) == 3
    # Exponential backoff from backoff_base=0.01: 0.01 then 0.02, each plus up to 0.01 of jitter.
    assert 0.03 <= client.metrics.retry_wait_s <= 0.05
    await client.aclose()


async def test_retries_stop_after_max_retries(fresh_standin: StandIn) -> None:
    client = clients(fresh_standin, max_retries=2)[0]
    fresh_standin.set_default("m", Fault.server_error(502))
    with pytest.raises(ProviderError) as info:
        await client.chat(validate_chat("m", "hi"))
    assert info.value.kind == "server_error" and info.value.status == 502
    assert len(fresh_standin.seen("m")) == 3
    assert client.metrics.errors == {"server_error": 1} and client.metrics.available is False
    await client.aclose()


async def test_a_slow_answer_times_out_at_the_clients_timeout(fresh_standin: StandIn) -> None:
    client = clients(fresh_standin, timeout=0.3, max_retries=0)[1]
    fresh_standin.inject("m", Fault.timeout(2.0))  # answers after 2 s: a client that waited would get it
    with pytest.raises(ProviderTimeout, match=r"no answer within 0\.3s"):
        await client.chat(validate_chat("m", "hi"))
    await client.aclose()


async def test_a_stream_that_stalls_times_out_mid_answer(fresh_standin: StandIn) -> None:
    client = clients(fresh_standin, timeout=0.25, max_retries=0)[0]
    fresh_standin.inject("m", Fault.slow_stream(chunk_delay=1.0))
    chunks = []
    with pytest.raises(ProviderTimeout):
        async for chunk in client.stream(validate_chat("m", "hi", stream=True)):
            chunks.append(chunk)
    assert chunks  # the start arrived before the stall
    await client.aclose()


async def test_a_wrong_key_is_not_retried(fresh_standin: StandIn) -> None:
    strict = StandIn(api_key="the-right-key")
    with strict:
        client = OpenAIClient(base_url=strict.openai_url, api_key="wrong", cache=None)
        with pytest.raises(ProviderNotConfigured, match="401"):
            await client.chat(validate_chat("m", "hi"))
        assert len(strict.seen()) == 0  # refused before the model was involved
        await client.aclose()


async def test_hugging_face_takes_its_token_and_url_from_the_environment() -> None:
    """Seed 002's HuggingFaceClient: the OpenAI wire format at Hugging Face's router, keyed by
    HF_TOKEN (or HUGGINGFACE_API_KEY); HF_BASE_URL points it at an endpoint or a TGI server."""
    assert HuggingFaceClient(environ={}).base_url == "https://router.huggingface.co/v1"
    with pytest.raises(ProviderNotConfigured, match="HF_TOKEN or HUGGINGFACE_API_KEY"):
        await HuggingFaceClient(environ={}).chat(validate_chat("meta-llama/Llama-3.1-8B-Instruct", "hi"))
    strict = StandIn(api_key="hf_secret")
    with strict:
        for variable in ("HF_TOKEN", "HUGGINGFACE_API_KEY"):
            client = HuggingFaceClient(environ={variable: "hf_secret", "HF_BASE_URL": strict.openai_url}, cache=None)
            result = await client.chat(validate_chat("meta-llama/Llama-3.1-8B-Instruct:cerebras", "hi"))
            assert result.text == "[meta-llama/Llama-3.1-8B-Instruct:cerebras] This is the stand-in's answer to: hi"
            await client.aclose()
        assert len(strict.seen()) == 2


async def test_a_missing_key_names_the_environment_variable() -> None:
    client = AnthropicClient(environ={})
    with pytest.raises(ProviderNotConfigured, match="ANTHROPIC_API_KEY"):
        await client.chat(validate_chat("claude", "hi"))
    assert GeminiClient(environ={"GOOGLE_API_KEY": "g"}).api_key("m") == "g"


@pytest.mark.parametrize("args, message", [
    (("", "hi"), "model"),
    (("m", []), "messages"),
    (("m", [{"role": "wizard", "content": "hi"}]), "role"),
    (("m", [{"role": "user", "content": 5}]), "content"),
    (("m", [{"role": "system", "content": "hi"}]), "user message"),
    (("m", "hi", 2.5), "temperature"),
    (("m", "hi", -0.1), "temperature"),
    (("m", "hi", None, 0), "max_tokens"),
    (("m", "hi", None, 100_001), "max_tokens"),
    (("m", "hi", None, 1.5), "max_tokens"),
])
def test_invalid_calls_are_refused_before_sending(args: tuple, message: str) -> None:
    with pytest.raises(InvalidChatRequest, match=message):
        validate_chat(*args)


async def test_identical_calls_are_answered_from_the_cache_until_it_expires(fresh_standin: StandIn) -> None:
    now = [0.0]
    cache = ResponseCache(max_entries=2, ttl=60, clock=lambda: now[0])
    client = OpenAIClient(base_url=fresh_standin.openai_url, api_key="k", cache=cache)
    request = validate_chat("m", "what is 2+2?", 0.0)
    first = await client.chat(request)
    second = await client.chat(request)
    assert not first.cached and second.cached and second.text == first.text
    await client.chat(validate_chat("m", "what is 2+2?", 0.7))  # other parameters: another entry
    assert len(fresh_standin.seen("m")) == 2
    now[0] = 61
    assert not (await client.chat(request)).cached
    await client.chat(validate_chat("m", "a", 0.0))
    await client.chat(validate_chat("m", "b", 0.0))
    assert len(cache) == 2  # least recently used entries are dropped
    await client.aclose()


async def test_token_buckets_make_bursts_wait_instead_of_failing(fresh_standin: StandIn) -> None:
    async with httpx.AsyncClient() as http:  # made beforehand, so the three calls take their tokens together
        client = OpenAIClient(base_url=fresh_standin.openai_url, api_key="k", cache=None, rate_per_model=5.0,
                              burst=1, http=http)
        async with anyio.create_task_group() as burst:  # three calls at once against one saved token
            for i in range(3):
                burst.start_soon(client.chat, validate_chat("m", f"q{i}"))
    assert client.metrics.successes == 3 and client.metrics.errors == {}
    assert client.metrics.rate_limit_waits == 2  # one took the saved token, two waited for the next ones
    bucket = client.limits.bucket("m")
    assert bucket is not None and client.metrics.rate_limit_wait_s == bucket.waited  # the waits it decided on


def test_a_token_bucket_spaces_a_burst_at_its_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(5.0, burst=1, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.2, 0.4])  # at once: 1 now, then 1 per 0.2 s
    now[0] += 1.0  # the debt is repaid and one token saved up again, no more
    assert [bucket.reserve(), bucket.reserve()] == pytest.approx([0.0, 0.2])


def test_retry_after_is_read_from_seconds_milliseconds_and_dates() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    assert parse_retry_after({"retry-after": formatdate(1_000_030, usegmt=True)}, now=1_000_000) == 30.0
    assert parse_retry_after({"retry-after": "soon"}) is None
