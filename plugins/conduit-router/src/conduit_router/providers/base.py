"""What every provider client shares: the request, the result, the errors, and validation.

:func:`validate_chat` checks a call before anything is sent (model, messages, temperature
0–2, max_tokens 1–100000) and raises :class:`InvalidChatRequest` (a ``ValueError``)
naming the field. Provider failures are :class:`ProviderError` with ``retryable`` and
``retry_after`` set from the response, so the retry policy and the router's fallback
decide from one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conduit_router.models import Usage

__all__ = [
    "MAX_TOKENS_LIMIT",
    "ChatRequest",
    "ChatResult",
    "InvalidChatRequest",
    "ProviderError",
    "ProviderNotConfigured",
    "ProviderTimeout",
    "RateLimited",
    "validate_chat",
]

MAX_TOKENS_LIMIT = 100_000
_ROLES = ("system", "user", "assistant", "tool", "developer")


class InvalidChatRequest(ValueError):
    """The call is malformed; nothing was sent. The message names the field."""


class ProviderError(Exception):
    """A provider call failed.

    ``status`` is the HTTP status (None for transport failures), ``retryable`` whether the
    same call may succeed later (429, 5xx, timeouts, dropped connections), ``retry_after``
    the seconds the provider asked us to wait (from ``Retry-After``), if any.
    """

    def __init__(self, provider: str, model: str, message: str, *, status: int | None = None,
                 retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(f"{provider}/{model}: {message}")
        self.provider = provider
        self.model = model
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after

    @property
    def kind(self) -> str:
        if isinstance(self, ProviderTimeout):
            return "timeout"
        if isinstance(self, RateLimited):
            return "rate_limited"
        if isinstance(self, ProviderNotConfigured):
            return "not_configured"
        if self.status is not None and self.status >= 500:
            return "server_error"
        if self.status is not None:
            return "client_error"
        return "connection_error"


class RateLimited(ProviderError):
    """429 Too Many Requests (``retry_after`` from the response when it said)."""


class ProviderTimeout(ProviderError):
    """No (complete) answer within the client's timeout."""


class ProviderNotConfigured(ProviderError):
    """No API key (or base URL) for this provider; the message names the variable to set."""


@dataclass(frozen=True)
class ChatRequest:
    """One validated chat call."""

    model: str
    messages: tuple[Mapping[str, Any], ...]
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = False

    def message_list(self) -> list[dict[str, Any]]:
        return [dict(m) for m in self.messages]

    def system_and_turns(self) -> tuple[str | None, list[dict[str, Any]]]:
        """System text (joined) and the other turns: the shape Anthropic and Gemini want."""
        system = [str(m["content"]) for m in self.messages if m["role"] in ("system", "developer")]
        turns = [dict(m) for m in self.messages if m["role"] not in ("system", "developer")]
        return ("\n\n".join(system) if system else None), turns

    def prompt_text(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages)


@dataclass(frozen=True)
class ChatResult:
    """A provider's answer."""

    text: str
    model: str
    provider: str
    usage: Usage
    latency_ms: float
    finish_reason: str | None = None
    cached: bool = False
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_cache(self) -> dict[str, Any]:
        return {"text": self.text, "model": self.model, "finish_reason": self.finish_reason,
                "usage": [self.usage.input_tokens, self.usage.output_tokens]}


def _content_ok(content: Any) -> bool:
    if isinstance(content, str):
        return True
    if isinstance(content, list):  # OpenAI content parts: [{"type": "text", "text": ...}]
        return all(isinstance(p, Mapping) and isinstance(p.get("text", ""), str) for p in content)
    return False


def flatten_content(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))


def validate_chat(
    model: Any,
    messages: Any,
    temperature: Any = None,
    max_tokens: Any = None,
    *,
    stream: bool = False,
) -> ChatRequest:
    """A :class:`ChatRequest`, or :class:`InvalidChatRequest` naming what to change."""
    if not isinstance(model, str) or not model.strip() or len(model) > 200:
        raise InvalidChatRequest("model must be a non-empty string of at most 200 characters")
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not isinstance(messages, Sequence) or isinstance(messages, (bytes, bytearray)) or not messages:
        raise InvalidChatRequest("messages must be a non-empty list of {role, content} objects")
    checked: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidChatRequest(f"messages[{i}] must be an object with role and content")
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidChatRequest(f"messages[{i}].role must be one of {', '.join(_ROLES)}; got {role!r}")
        content = message.get("content")
        if not _content_ok(content):
            raise InvalidChatRequest(f"messages[{i}].content must be a string (or a list of text parts)")
        checked.append({"role": role, "content": flatten_content(content)})
    if not any(m["role"] == "user" for m in checked):
        raise InvalidChatRequest("messages must contain at least one user message")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not math.isfinite(temperature) or not 0 <= temperature <= 2:
            raise InvalidChatRequest(f"temperature must be a number from 0 to 2, got {temperature!r}")
        temperature = float(temperature)
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
            raise InvalidChatRequest(f"max_tokens must be an integer from 1 to {MAX_TOKENS_LIMIT}, got {max_tokens!r}")
    return ChatRequest(model.strip(), tuple(checked), temperature, max_tokens, bool(stream))
