"""Provider clients on httpx, each call validated, cached, rate-limited, retried and measured.

``default_clients()`` gives one client per provider name used in a catalogue
(``openai``, ``anthropic``, ``google``/``gemini``, ``groq``, ``huggingface``,
``openai-compatible``), each
reading its key and base URL from the usual environment variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conduit_router.providers.anthropic import AnthropicClient
from conduit_router.providers.base import (
    ChatRequest,
    ChatResult,
    InvalidChatRequest,
    ProviderError,
    ProviderNotConfigured,
    ProviderTimeout,
    RateLimited,
    validate_chat,
)
from conduit_router.providers.cache import ResponseCache
from conduit_router.providers.client import (
    ProviderClient,
    ProviderMetrics,
    StreamChunk,
    parse_retry_after,
)
from conduit_router.providers.gemini import GeminiClient
from conduit_router.providers.openai import (
    GroqClient,
    HuggingFaceClient,
    OpenAIClient,
    OpenAICompatibleClient,
)
from conduit_router.providers.ratelimit import RateLimits, TokenBucket

__all__ = [
    "PROVIDER_CLASSES",
    "AnthropicClient",
    "ChatRequest",
    "ChatResult",
    "GeminiClient",
    "GroqClient",
    "HuggingFaceClient",
    "InvalidChatRequest",
    "OpenAIClient",
    "OpenAICompatibleClient",
    "ProviderClient",
    "ProviderError",
    "ProviderMetrics",
    "ProviderNotConfigured",
    "ProviderTimeout",
    "RateLimited",
    "RateLimits",
    "ResponseCache",
    "StreamChunk",
    "TokenBucket",
    "check_clients",
    "default_clients",
    "parse_retry_after",
    "validate_chat",
]

PROVIDER_CLASSES: dict[str, type[ProviderClient]] = {
    "openai": OpenAIClient,
    "anthropic": AnthropicClient,
    "google": GeminiClient,
    "gemini": GeminiClient,
    "groq": GroqClient,
    "huggingface": HuggingFaceClient,
    "openai-compatible": OpenAICompatibleClient,
    "vllm": OpenAICompatibleClient,
    "ollama": OpenAICompatibleClient,
}


def default_clients(names: Any, **options: Any) -> dict[str, ProviderClient]:
    """A client for each provider name in ``names`` that has a known wire format."""
    clients: dict[str, ProviderClient] = {}
    for name in names:
        cls = PROVIDER_CLASSES.get(name)
        if cls is not None and name not in clients:
            clients[name] = cls(name=name, **options)
    return clients


def check_clients(clients: Mapping[str, Any]) -> dict[str, ProviderClient]:
    for name, client in clients.items():
        if not isinstance(client, ProviderClient):
            raise ValueError(f"providers[{name!r}] must be a ProviderClient (OpenAIClient, AnthropicClient, ...)")
    return dict(clients)
