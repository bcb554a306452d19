"""Google Gemini ``generateContent`` (``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``, ``GEMINI_BASE_URL``)."""

from __future__ import annotations

from typing import Any

from conduit_router.models import Usage
from conduit_router.providers.base import ChatRequest
from conduit_router.providers.client import ProviderClient, StreamChunk

__all__ = ["GeminiClient"]


class GeminiClient(ProviderClient):
    """``POST {base_url}/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse``)."""

    provider = "google"
    key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env = "GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"

    def build(self, request: ChatRequest, *, stream: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"content-type": "application/json", "x-goog-api-key": self.api_key(request.model)}
        system, turns = request.system_and_turns()
        body: dict[str, Any] = {
            "contents": [{"role": "model" if t["role"] == "assistant" else "user", "parts": [{"text": t["content"]}]}
                         for t in turns],
        }
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config: dict[str, Any] = {}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if config:
            body["generationConfig"] = config
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{self.base_url}/models/{request.model}:{action}", headers, body

    @staticmethod
    def _read(data: Any) -> tuple[str, Usage | None, str | None]:
        candidates = data.get("candidates") or []
        text, finish = "", None
        if candidates:
            parts = (candidates[0].get("content") or {}).get("parts") or []
            text = "".join(p.get("text", "") for p in parts)
            finish = candidates[0].get("finishReason")
        meta = data.get("usageMetadata")
        usage = Usage(int(meta.get("promptTokenCount") or 0), int(meta.get("candidatesTokenCount") or 0)) if meta else None
        return text, usage, finish

    def parse(self, request: ChatRequest, data: Any) -> tuple[str, Usage, str | None]:
        text, usage, finish = self._read(data)
        return text, usage or Usage(), finish

    def parse_event(self, event: str | None, data: Any) -> StreamChunk | None:
        text, usage, finish = self._read(data)
        if not text and usage is None and finish is None:
            return None
        return StreamChunk(text=text, usage=usage, finish_reason=finish)
