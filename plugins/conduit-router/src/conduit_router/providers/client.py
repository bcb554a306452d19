"""The discipline every provider call goes through, on httpx.

For each call: validate (done by the caller, :func:`validate_chat`), look in the LRU+TTL
cache, take tokens from the provider's and the model's bucket (waiting), send with retries
(tenacity: exponential backoff with jitter, honouring ``Retry-After`` on 429/503; only
429, 408, 5xx, timeouts and dropped connections are retried), record metrics (duration,
outcome, tokens, availability, the answer's length in characters and completion tokens),
and store the answer in the cache. Streaming calls retry
until the response starts; once text has been sent on, a failure ends the stream.

Subclasses (OpenAI-compatible, Anthropic, Gemini) only say how to build the request and
read the answer and the stream events.
"""

from __future__ import annotations

import abc
import email.utils
import logging
import math
import os
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import tenacity
from tenacity.wait import wait_base

from conduit_router.models import Usage
from conduit_router.providers.base import (
    ChatRequest,
    ChatResult,
    ProviderError,
    ProviderNotConfigured,
    ProviderTimeout,
    RateLimited,
)
from conduit_router.providers.cache import ResponseCache, cache_key
from conduit_router.providers.ratelimit import RateLimits, RateLimitWaitTooLong

__all__ = ["LengthStats", "ProviderClient", "ProviderMetrics", "StreamChunk", "parse_retry_after"]

logger = logging.getLogger("conduit.router.providers")

_RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date), else None."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


@dataclass(frozen=True)
class StreamChunk:
    """A piece of a streamed answer: text, and at the end usage and finish reason."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


class LengthStats:
    """Lengths of answers (characters, or tokens): the total, count, mean and largest since the
    client was made, and p50/p95 over the last ``window`` answers (a bounded sample, so a
    long-running server reports its recent traffic and its memory stays flat)."""

    def __init__(self, window: int = 1024) -> None:
        self.count = 0
        self.total = 0
        self.max = 0
        self._recent: deque[int] = deque(maxlen=window)

    def add(self, length: int) -> None:
        self.count += 1
        self.total += length
        self.max = max(self.max, length)
        self._recent.append(length)

    def percentile(self, p: float) -> int | None:
        """The nearest-rank ``p``-th percentile (0-100) of the recent answers; None before any."""
        if not self._recent:
            return None
        ordered = sorted(self._recent)
        return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "mean": round(self.total / self.count, 1) if self.count else None,
                "p50": self.percentile(50), "p95": self.percentile(95), "max": self.max if self.count else None}


class ProviderMetrics:
    """Counters for one provider client (exported by ``stats()`` and ``/metrics``).

    ``response_chars`` and ``response_tokens`` are the lengths of the answers the provider
    gave (streamed ones included; cache hits are not provider answers and are counted in
    ``cache_hits`` only). ``retry_wait_s`` is the seconds the client chose to wait before its
    retries (the ``Retry-After`` it honoured, or its backoff), ``rate_limit_waits`` the calls
    that waited for a token and ``rate_limit_wait_s`` how long the buckets made them wait:
    the waits it decided on, not measured ones.
    """

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits
        self.requests = 0
        self.successes = 0
        self.errors: dict[str, int] = {}
        self.retries = 0
        self.retry_wait_s = 0.0
        self.cache_hits = 0
        self.duration_ms = 0.0
        self.input_tokens = 0
        self.output_tokens = 0
        self.rate_limit_waits = 0
        self.rate_limit_wait_s = 0.0
        self.available = True
        self.last_error: str | None = None
        self.response_chars = LengthStats()
        self.response_tokens = LengthStats()

    def failed(self, exc: ProviderError) -> None:
        self.errors[exc.kind] = self.errors.get(exc.kind, 0) + 1
        self.available = False
        self.last_error = exc.kind

    def succeeded(self, result: ChatResult, *, chars: int | None = None) -> None:
        """Count an answer; ``chars`` is its length when ``result.text`` is not the whole of it
        (a streamed answer, whose text went to the caller piece by piece)."""
        self.successes += 1
        self.available = True
        self.duration_ms += result.latency_ms
        self.input_tokens += result.usage.input_tokens
        self.output_tokens += result.usage.output_tokens
        self.response_chars.add(len(result.text) if chars is None else chars)
        self.response_tokens.add(result.usage.output_tokens)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "successes": self.successes, "errors": dict(self.errors),
            "retries": self.retries, "retry_wait_s": round(self.retry_wait_s, 3), "cache_hits": self.cache_hits,
            "mean_duration_ms": round(self.duration_ms / self.successes, 1) if self.successes else None,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "response_length": {"answers": self.response_chars.count, "chars": self.response_chars.to_dict(),
                                "completion_tokens": self.response_tokens.to_dict()},
            "rate_limit_waits": self.rate_limit_waits, "rate_limit_wait_s": round(self.rate_limit_wait_s, 3),
            "rate_limits": self.limits.to_dict() if self.limits is not None else None,
            "available": self.available, "last_error": self.last_error,
        }


class _BackoffHonouringRetryAfter(wait_base):
    def __init__(self, base: float, maximum: float) -> None:
        self.base, self.maximum = base, maximum

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        asked = getattr(exc, "retry_after", None)
        if asked is not None:
            return asked + random.uniform(0, min(1.0, 0.1 * asked + 0.05))
        exp = self.base * 2 ** (retry_state.attempt_number - 1)
        return min(exp + random.uniform(0, self.base), self.maximum)


class ProviderClient(abc.ABC):
    """Base class of the provider clients (see the module docstring).

    ``api_key``/``base_url`` default to the provider's usual environment variables;
    ``timeout`` bounds a whole answer (and each gap between streamed chunks);
    ``max_retries`` retries after the first attempt; a ``Retry-After`` longer than
    ``max_retry_after`` is not waited for (the router falls back instead);
    ``rate_per_provider``/``rate_per_model`` are requests per second (None: no bucket);
    ``rate_per_model`` may be a mapping of model name to rate (``"*"``: the others);
    ``cache`` is a :class:`ResponseCache`, True for a default one, or None/False for none.
    """

    provider = "openai"
    key_env: tuple[str, ...] = ()
    base_url_env: str | None = None
    default_base_url = ""
    needs_key = True

    def __init__(
        self,
        *,
        name: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        max_retry_after: float = 30.0,
        rate_per_provider: float | None = None,
        rate_per_model: float | Mapping[str, float] | None = None,
        burst: float | None = None,
        cache: ResponseCache | bool | None = True,
        http: httpx.AsyncClient | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeout and connect_timeout must be > 0 seconds")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries!r}")
        self.name = name or self.provider
        self._api_key = api_key
        self._base_url = base_url
        self._environ = environ
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.limits = RateLimits(self.name, per_provider=rate_per_provider, per_model=rate_per_model, burst=burst)
        self.cache = ResponseCache() if cache is True else (None if cache is None or cache is False else cache)
        self._http = http
        self._owns_http = http is None
        self.metrics = ProviderMetrics(self.limits)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    # --- configuration -----------------------------------------------------------------------

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    @property
    def base_url(self) -> str:
        url = self._base_url or (self.environ.get(self.base_url_env) if self.base_url_env else None)
        return (url or self.default_base_url).rstrip("/")

    def api_key(self, model: str) -> str:
        key = self._api_key or next((self.environ[k] for k in self.key_env if self.environ.get(k)), None)
        if not key and self.needs_key:
            raise ProviderNotConfigured(
                self.name, model, f"no API key; set {' or '.join(self.key_env)} or pass api_key=")
        return key or ""

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
        return self._http

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    # --- what subclasses provide ---------------------------------------------------------------

    @abc.abstractmethod
    def build(self, request: ChatRequest, *, stream: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
        """URL, headers and JSON body for ``request``."""

    @abc.abstractmethod
    def parse(self, request: ChatRequest, data: Any) -> tuple[str, Usage, str | None]:
        """Text, usage and finish reason from a complete answer's JSON."""

    @abc.abstractmethod
    def parse_event(self, event: str | None, data: Any) -> StreamChunk | None:
        """One server-sent event of a streamed answer as a chunk (None to skip it)."""

    def error_message(self, data: Any) -> str:
        if isinstance(data, dict):
            err = data.get("error")
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                return err["message"][:300]
            if isinstance(err, str):
                return err[:300]
        return ""

    # --- errors --------------------------------------------------------------------------------

    def _http_error(self, model: str, response: httpx.Response) -> ProviderError:
        status = response.status_code
        try:
            detail = self.error_message(response.json())
        except ValueError:
            detail = ""
        message = f"HTTP {status}" + (f": {detail}" if detail else "")
        retry_after = parse_retry_after(response.headers)
        if status == 429:
            return RateLimited(self.name, model, message, status=status, retryable=True, retry_after=retry_after)
        if status in (401, 403):
            return ProviderNotConfigured(self.name, model, message + "; check the API key", status=status)
        return ProviderError(self.name, model, message, status=status, retryable=status in _RETRYABLE_STATUS,
                             retry_after=retry_after if status in (503, 529) else None)

    def _transport_error(self, model: str, exc: Exception) -> ProviderError:
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeout(self.name, model, f"no answer within {self.timeout:g}s ({type(exc).__name__})",
                                   retryable=True)
        return ProviderError(self.name, model, f"connection failed ({type(exc).__name__})", retryable=True)

    def _should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, ProviderError) or not exc.retryable:
            return False
        return exc.retry_after is None or exc.retry_after <= self.max_retry_after

    def _retrying(self) -> tenacity.AsyncRetrying:
        def count(retry_state: tenacity.RetryCallState) -> None:
            self.metrics.retries += 1
            self.metrics.retry_wait_s += retry_state.upcoming_sleep  # what the wait strategy chose

        return tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=_BackoffHonouringRetryAfter(self.backoff_base, self.backoff_max),
            retry=tenacity.retry_if_exception(self._should_retry),
            before_sleep=count,
            reraise=True,
        )

    async def _limit(self, model: str) -> None:
        try:
            waited = await self.limits.acquire(model)
        except RateLimitWaitTooLong as exc:
            raise RateLimited(self.name, model, f"local rate limit: {exc}", retryable=False,
                              retry_after=exc.wait) from None
        if waited > 0:
            self.metrics.rate_limit_waits += 1
            self.metrics.rate_limit_wait_s += waited

    # --- complete answers ----------------------------------------------------------------------

    async def chat(self, request: ChatRequest, *, use_cache: bool = True) -> ChatResult:
        """The answer to ``request`` (see the module docstring for what happens on the way)."""
        key = None
        if self.cache is not None and use_cache:
            key = cache_key(self.name, request.model, request.message_list(), request.temperature, request.max_tokens)
            hit = await self.cache.get(key)
            if hit is not None:
                self.metrics.cache_hits += 1
                return ChatResult(hit["text"], hit["model"], self.name, Usage(*hit["usage"]), 0.0,
                                  hit.get("finish_reason"), cached=True, attempts=0)
        self.metrics.requests += 1
        attempts = 0
        try:
            async for attempt in self._retrying():
                with attempt:
                    attempts += 1
                    await self._limit(request.model)
                    result = await self._send(request)
        except ProviderError as exc:
            self.metrics.failed(exc)
            raise
        result = ChatResult(result.text, result.model, result.provider, result.usage, result.latency_ms,
                            result.finish_reason, attempts=attempts)
        self.metrics.succeeded(result)
        if key is not None and self.cache is not None and result.text.strip():
            await self.cache.put(key, result.to_cache())
        return result

    async def _send(self, request: ChatRequest) -> ChatResult:
        url, headers, body = self.build(request, stream=False)
        started = time.perf_counter()
        try:
            response = await self.http.post(url, headers=headers, content=orjson.dumps(body), timeout=self._timeout())
        except httpx.HTTPError as exc:
            raise self._transport_error(request.model, exc) from None
        if response.status_code >= 400:
            raise self._http_error(request.model, response)
        try:
            data = response.json()
            text, usage, finish = self.parse(request, data)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError(self.name, request.model, f"unreadable answer ({type(exc).__name__})",
                                status=response.status_code) from None
        latency = (time.perf_counter() - started) * 1000
        return ChatResult(text, request.model, self.name, usage, latency, finish)

    # --- streamed answers ----------------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        """Chunks of the answer as they arrive; retried until the response starts."""
        self.metrics.requests += 1
        started = time.perf_counter()
        url, headers, body = self.build(request, stream=True)
        input_tokens = output_tokens = chars = 0
        finish: str | None = None
        try:
            response = await self._open_stream(request, url, headers, body)
            try:
                async for event, data in _sse_events(response, request.model, self):
                    chunk = self.parse_event(event, data)
                    if chunk is None:
                        continue
                    if chunk.usage is not None:
                        input_tokens = chunk.usage.input_tokens or input_tokens
                        output_tokens = chunk.usage.output_tokens or output_tokens
                    finish = chunk.finish_reason or finish
                    chars += len(chunk.text)
                    yield chunk
            finally:
                await response.aclose()
        except ProviderError as exc:
            self.metrics.failed(exc)
            raise
        latency = (time.perf_counter() - started) * 1000
        self.metrics.succeeded(ChatResult("", request.model, self.name, Usage(input_tokens, output_tokens), latency,
                                          finish), chars=chars)

    async def _open_stream(self, request: ChatRequest, url: str, headers: dict[str, str],
                           body: dict[str, Any]) -> httpx.Response:
        async for attempt in self._retrying():
            with attempt:
                await self._limit(request.model)
                http_request = self.http.build_request("POST", url, headers=headers, content=orjson.dumps(body),
                                                       timeout=self._timeout())
                try:
                    response = await self.http.send(http_request, stream=True)
                except httpx.HTTPError as exc:
                    raise self._transport_error(request.model, exc) from None
                if response.status_code >= 400:
                    await response.aread()
                    await response.aclose()
                    raise self._http_error(request.model, response)
                return response
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


async def _sse_events(response: httpx.Response, model: str, client: ProviderClient) -> AsyncIterator[tuple[str | None, Any]]:
    """``(event name, decoded JSON data)`` for each server-sent event; stops at ``[DONE]``."""
    event: str | None = None
    data_lines: list[str] = []
    try:
        async for line in response.aiter_lines():
            if line.startswith(":"):
                continue
            if line == "":
                if data_lines:
                    payload = "\n".join(data_lines)
                    data_lines = []
                    if payload.strip() == "[DONE]":
                        return
                    try:
                        yield event, orjson.loads(payload)
                    except orjson.JSONDecodeError:
                        raise ProviderError(client.name, model, "unreadable stream event") from None
                event = None
                continue
            field_name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field_name == "event":
                event = value
            elif field_name == "data":
                data_lines.append(value)
        if data_lines and "\n".join(data_lines).strip() != "[DONE]":
            yield event, orjson.loads("\n".join(data_lines))
    except httpx.HTTPError as exc:
        raise client._transport_error(model, exc) from None
