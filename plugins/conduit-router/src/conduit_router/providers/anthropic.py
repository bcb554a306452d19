"""Anthropic Messages API (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``)."""

from __future__ import annotations

from typing import Any

from conduit_router.models import Usage
from conduit_router.providers.base import ChatRequest, ProviderError
from conduit_router.providers.client import ProviderClient, StreamChunk

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicClient"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024


def _turns(request: ChatRequest) -> tuple[str | None, list[dict[str, Any]]]:
    """System text, and user/assistant turns merged so roles alternate (the API requires it)."""
    system, turns = request.system_and_turns()
    merged: list[dict[str, Any]] = []
    for turn in turns:
        role = "assistant" if turn["role"] == "assistant" else "user"
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"] += "\n\n" + turn["content"]
        else:
            merged.append({"role": role, "content": turn["content"]})
    return system, merged


class AnthropicClient(ProviderClient):
    """``POST {base_url}/v1/messages``. Anthropic's temperature range is 0–1: a higher one
    (valid for OpenAI, up to 2) is sent as 1."""

    provider = "anthropic"
    key_env = ("ANTHROPIC_API_KEY",)
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"

    def build(self, request: ChatRequest, *, stream: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"content-type": "application/json", "anthropic-version": ANTHROPIC_VERSION,
                   "x-api-key": self.api_key(request.model)}
        system, turns = _turns(request)
        body: dict[str, Any] = {"model": request.model, "messages": turns,
                                "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
        if system:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = min(1.0, request.temperature)
        if stream:
            body["stream"] = True
        return f"{self.base_url}/v1/messages", headers, body

    def parse(self, request: ChatRequest, data: Any) -> tuple[str, Usage, str | None]:
        text = "".join(block.get("text", "") for block in data["content"] if block.get("type") == "text")
        usage = data.get("usage") or {}
        return text, Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)), \
            data.get("stop_reason")

    def parse_event(self, event: str | None, data: Any) -> StreamChunk | None:
        kind = data.get("type") or event
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            return StreamChunk(text=delta.get("text", "")) if delta.get("type") == "text_delta" else None
        if kind == "message_start":
            usage = (data.get("message") or {}).get("usage") or {}
            return StreamChunk(usage=Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)))
        if kind == "message_delta":
            usage = data.get("usage") or {}
            return StreamChunk(usage=Usage(0, int(usage.get("output_tokens") or 0)),
                               finish_reason=(data.get("delta") or {}).get("stop_reason"))
        if kind == "error":
            err = data.get("error") or {}
            overloaded = err.get("type") == "overloaded_error"
            raise ProviderError(self.name, "stream", f"stream error: {str(err.get('message', ''))[:200]}",
                                status=529 if overloaded else None, retryable=overloaded)
        return None
