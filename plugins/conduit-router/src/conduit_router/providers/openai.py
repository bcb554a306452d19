"""OpenAI-compatible chat completions: OpenAI, Groq, Hugging Face, and local servers (vLLM,
Ollama, llama.cpp server, TGI) that speak the same wire format at their own base URL."""

from __future__ import annotations

from typing import Any

from conduit_router.models import Usage
from conduit_router.providers.base import ChatRequest
from conduit_router.providers.client import ProviderClient, StreamChunk

__all__ = ["GroqClient", "HuggingFaceClient", "OpenAIClient", "OpenAICompatibleClient"]


class OpenAIClient(ProviderClient):
    """``POST {base_url}/chat/completions`` (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``)."""

    provider = "openai"
    key_env: tuple[str, ...] = ("OPENAI_API_KEY",)
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com/v1"

    def build(self, request: ChatRequest, *, stream: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"content-type": "application/json"}
        key = self.api_key(request.model)
        if key:
            headers["authorization"] = f"Bearer {key}"
        body: dict[str, Any] = {"model": request.model, "messages": request.message_list()}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return f"{self.base_url}/chat/completions", headers, body

    def parse(self, request: ChatRequest, data: Any) -> tuple[str, Usage, str | None]:
        choice = data["choices"][0]
        text = choice.get("message", {}).get("content") or ""
        usage = data.get("usage") or {}
        return text, Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)), \
            choice.get("finish_reason")

    def parse_event(self, event: str | None, data: Any) -> StreamChunk | None:
        usage = data.get("usage")
        choices = data.get("choices") or []
        text = ""
        finish = None
        if choices:
            text = (choices[0].get("delta") or {}).get("content") or ""
            finish = choices[0].get("finish_reason")
        if not text and not finish and not usage:
            return None
        return StreamChunk(
            text=text,
            usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)) if usage else None,
            finish_reason=finish,
        )


class GroqClient(OpenAIClient):
    """Groq's OpenAI-compatible endpoint (``GROQ_API_KEY``, ``GROQ_BASE_URL``)."""

    provider = "groq"
    key_env = ("GROQ_API_KEY",)
    base_url_env = "GROQ_BASE_URL"
    default_base_url = "https://api.groq.com/openai/v1"


class HuggingFaceClient(OpenAIClient):
    """Hugging Face's Inference Providers through their OpenAI-compatible router (``HF_TOKEN``
    or ``HUGGINGFACE_API_KEY``, ``HF_BASE_URL``). Model names are Hub ids, optionally with a
    provider suffix (``meta-llama/Llama-3.1-8B-Instruct:cerebras``). A dedicated Inference
    Endpoint or a self-hosted TGI server is the same wire format at its own ``base_url``
    (``https://<endpoint>/v1``). Requests go through the client's pooled HTTP connections,
    as every provider's do (seed 002's "connection pooling for HuggingFaceClient")."""

    provider = "huggingface"
    key_env = ("HF_TOKEN", "HUGGINGFACE_API_KEY")
    base_url_env = "HF_BASE_URL"
    default_base_url = "https://router.huggingface.co/v1"


class OpenAICompatibleClient(OpenAIClient):
    """A local OpenAI-compatible server; ``base_url`` is required, a key is optional
    (``OPENAI_COMPATIBLE_API_KEY``). Ollama listens on ``http://localhost:11434/v1``,
    vLLM and llama.cpp's server on ``http://localhost:8000/v1`` by default."""

    provider = "openai-compatible"
    key_env = ("OPENAI_COMPATIBLE_API_KEY",)
    base_url_env = "OPENAI_COMPATIBLE_BASE_URL"
    default_base_url = "http://localhost:8000/v1"
    needs_key = False
