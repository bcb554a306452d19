"""Seed 002's ``api_wrapper``: ``ChatbotWrapper`` and ``get_metrics_collector``.

The seed's chatbot wrapper calls one provider model per request with input validation,
retries (honouring ``Retry-After``), token-bucket rate limits, an LRU + TTL response cache
and metrics. conduit-router's provider clients do all of that; this module is the seed's
synchronous API over them::

    wrapper = ChatbotWrapper(openai_api_key="sk-...")
    response = wrapper.chat(model="gpt-4o-mini", messages="Hello, how are you?", max_tokens=100)
    print(response.text)
    stats = get_metrics_collector().get_stats()

The provider is chosen from the model's name (the router's catalogue, then its prefix:
``gpt-``/``o1``… OpenAI, ``claude`` Anthropic, ``gemini`` Google), each with its usual key
and base-URL variables (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``…) unless given here. The
seed's variables configure the clients (``MAX_RETRIES``, ``INITIAL_RETRY_DELAY``,
``MAX_RETRY_DELAY``, ``CACHE_ENABLED``, ``CACHE_TTL``, ``CACHE_MAX_SIZE``,
``DEFAULT_RATE_LIMIT``, with the seed's defaults), and each ``enable_*`` flag turns its
feature off for this wrapper. ``chat`` blocks the calling thread (the calls run on an event
loop of the wrapper's own); in async code use ``await wrapper.achat(...)``.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from conduit_router.providers import (
    PROVIDER_CLASSES,
    ChatRequest,
    ChatResult,
    ProviderClient,
    ProviderError,
    ResponseCache,
    validate_chat,
)

__all__ = ["ChatbotWrapper", "MetricsCollector", "get_metrics_collector"]

logger = logging.getLogger("conduit.router")

#: The seed's defaults for its variables (seed 002, "Configuration").
SEED_DEFAULTS = {"router_max_retries": 3, "router_retry_initial_delay": 1.0, "router_retry_max_delay": 60.0,
                 "router_cache": True, "router_cache_ttl": 3600.0, "router_cache_max_size": 1000,
                 "router_rate_limit": 10.0}
_PREFIXES = (("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("chatgpt", "openai"),
             ("claude", "anthropic"), ("gemini", "google"))


class MetricsCollector:
    """What the wrappers of this process did: requests, errors, latency, tokens, response lengths."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: dict[str, int] = {}
            self._errors: dict[str, int] = {}
            self._cache_hits: dict[str, int] = {}
            self._duration_ms: dict[str, float] = {}
            self._tokens: dict[str, int] = {}
            self._chars: dict[str, int] = {}
            self._unavailable: set[str] = set()

    def record(self, provider: str, model: str, seconds: float, result: ChatResult | None,
               error: ProviderError | None = None) -> None:
        key = f"{provider}:{model}"
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            self._duration_ms[key] = self._duration_ms.get(key, 0.0) + seconds * 1000
            if error is not None:
                self._errors[key] = self._errors.get(key, 0) + 1
                self._unavailable.add(provider)
                return
            self._unavailable.discard(provider)
            assert result is not None
            if result.cached:
                self._cache_hits[key] = self._cache_hits.get(key, 0) + 1
            self._tokens[key] = self._tokens.get(key, 0) + result.usage.total_tokens
            self._chars[key] = self._chars.get(key, 0) + len(result.text)

    def get_stats(self) -> dict[str, Any]:
        """Counts per ``provider:model``: ``request_counts``, ``error_counts``, ``cache_hits``,
        ``average_duration_ms``, ``total_tokens``, ``response_chars``; ``unavailable_providers``
        lists the providers whose last call failed."""
        with self._lock:
            return {
                "request_counts": dict(self._requests),
                "error_counts": dict(self._errors),
                "cache_hits": dict(self._cache_hits),
                "average_duration_ms": {k: round(v / self._requests[k], 2) for k, v in self._duration_ms.items()},
                "total_tokens": dict(self._tokens),
                "response_chars": dict(self._chars),
                "unavailable_providers": sorted(self._unavailable),
            }


_COLLECTOR = MetricsCollector()


def get_metrics_collector() -> MetricsCollector:
    """The process's collector, shared by every :class:`ChatbotWrapper` with metrics on."""
    return _COLLECTOR


class ChatbotWrapper:
    """The seed's wrapper: one provider model per call, with its production features."""

    def __init__(
        self,
        openai_api_key: str | None = None,
        anthropic_api_key: str | None = None,
        google_api_key: str | None = None,
        groq_api_key: str | None = None,
        *,
        enable_retry: bool = True,
        enable_rate_limiting: bool = True,
        enable_caching: bool = True,
        enable_validation: bool = True,
        enable_metrics: bool = True,
        base_urls: Mapping[str, str] | None = None,
        settings: Any = None,
    ) -> None:
        self._keys = {"openai": openai_api_key, "anthropic": anthropic_api_key, "google": google_api_key,
                      "groq": groq_api_key}
        self.enable_retry, self.enable_rate_limiting, self.enable_caching = enable_retry, enable_rate_limiting, enable_caching
        self.enable_validation, self.enable_metrics = enable_validation, enable_metrics
        self._base_urls = dict(base_urls or {})
        self._settings = settings if settings is not None else _seed_settings()
        self._loop = _Loop()
        self._clients = self._loop.clients
        self._lock = threading.Lock()
        # A wrapper nobody closes (the seed's example never does) closes when it is collected.
        weakref.finalize(self, self._loop.close)

    # --- the seed's API --------------------------------------------------------------------------

    def chat(self, model: str, messages: Any, temperature: float | None = None, max_tokens: int | None = None,
             *, use_cache: bool = True) -> ChatResult:
        """The model's answer (``.text``, ``.usage``, ``.cached``...). ``messages`` is a string
        (one user message) or OpenAI-style ``{role, content}`` messages. Raises
        ``InvalidChatRequest`` (a ValueError) for bad input and ``ProviderError`` when the
        provider fails after its retries."""
        return self._blocking().call(self._achat, model, messages, temperature, max_tokens, use_cache)

    async def achat(self, model: str, messages: Any, temperature: float | None = None,
                    max_tokens: int | None = None, *, use_cache: bool = True) -> ChatResult:
        """:meth:`chat` for async code, on the caller's event loop. A wrapper's connections
        belong to the loop that opened them: use one wrapper either from async code or with
        :meth:`chat`, not both."""
        return await self._achat(model, messages, temperature, max_tokens, use_cache)

    def close(self) -> None:
        """Close the provider connections and the wrapper's event loop."""
        self._loop.close()

    def __enter__(self) -> ChatbotWrapper:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def provider_for(self, model: str) -> str:
        """The provider that serves ``model``: the router's catalogue, else the name's prefix."""
        from conduit_router.catalogue import DEFAULT_MODELS

        for spec in DEFAULT_MODELS:
            if spec.name == model:
                return spec.provider
        lowered = model.lower()
        return next((provider for prefix, provider in _PREFIXES if lowered.startswith(prefix)), "openai")

    # --- the work -------------------------------------------------------------------------------

    async def _achat(self, model: str, messages: Any, temperature: float | None, max_tokens: int | None,
                     use_cache: bool) -> ChatResult:
        request = (validate_chat(model, messages, temperature, max_tokens) if self.enable_validation
                   else _unchecked(model, messages, temperature, max_tokens))
        client = self._client(self.provider_for(request.model))
        started = time.perf_counter()
        try:
            result = await client.chat(request, use_cache=use_cache and self.enable_caching)
        except ProviderError as exc:
            if self.enable_metrics:
                _COLLECTOR.record(client.name, request.model, time.perf_counter() - started, None, exc)
            raise
        if self.enable_metrics:
            _COLLECTOR.record(client.name, request.model, time.perf_counter() - started, result)
        return result

    def _client(self, provider: str) -> ProviderClient:
        with self._lock:
            client = self._clients.get(provider)
            if client is None:
                get = self._settings.get
                cache = (ResponseCache(max_entries=int(get("router_cache_max_size")), ttl=float(get("router_cache_ttl")))
                         if self.enable_caching and get("router_cache") else None)
                client = self._clients[provider] = PROVIDER_CLASSES[provider](
                    name=provider, api_key=self._keys.get(provider), base_url=self._base_urls.get(provider),
                    max_retries=int(get("router_max_retries")) if self.enable_retry else 0,
                    backoff_base=float(get("router_retry_initial_delay")),
                    backoff_max=float(get("router_retry_max_delay")),
                    rate_per_provider=(float(get("router_rate_limit")) if self.enable_rate_limiting
                                       and get("router_rate_limit") else None),
                    cache=cache,
                )
            return client

    def _blocking(self) -> Any:
        return self._loop.portal()


class _Loop:
    """The event loop a wrapper's blocking calls run on (a thread of its own), and its clients."""

    def __init__(self) -> None:
        self.clients: dict[str, ProviderClient] = {}
        self._lock = threading.Lock()
        self._cm: Any = None
        self._portal: Any = None

    def portal(self) -> Any:
        from anyio.from_thread import start_blocking_portal

        with self._lock:
            if self._portal is None:
                self._cm = start_blocking_portal()
                self._portal = self._cm.__enter__()
            return self._portal

    def close(self) -> None:
        with self._lock:
            portal, cm = self._portal, self._cm
            self._portal = self._cm = None
        clients = list(self.clients.values())
        self.clients.clear()
        if portal is None:
            return
        for client in clients:
            try:
                portal.call(client.aclose)
            except Exception:
                logger.debug("closing a provider client failed", exc_info=True)
        cm.__exit__(None, None, None)


def _seed_settings() -> Any:
    """The seed's variables (and Conduit's names for them), with the seed's defaults."""
    from conduit.config import load_settings
    from conduit_router.plugin import conduit_config_schema

    settings = load_settings()
    settings.extend(conduit_config_schema())
    for name, default in SEED_DEFAULTS.items():
        if settings.sources.get(name) == "default":
            settings.values[name] = default
    return settings


def _unchecked(model: str, messages: Any, temperature: float | None, max_tokens: int | None) -> ChatRequest:
    """A request as given (``enable_validation=False``): a string becomes one user message."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return ChatRequest(model, tuple(dict(m) for m in messages), temperature, max_tokens)
