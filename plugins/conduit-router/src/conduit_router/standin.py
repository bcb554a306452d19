"""A local stand-in for LLM providers: the OpenAI, Anthropic and Gemini wire formats, with
faults on demand. For tests and offline demos only: it answers canned text, not language.

::

    with StandIn() as standin:                       # a real HTTP server on 127.0.0.1
        standin.inject("gpt-4o-mini", Fault.rate_limit(retry_after=1), Fault.server_error())
        client = OpenAIClient(base_url=standin.openai_url, api_key="standin")
        ...

``python -m conduit_router.standin --port 8099`` serves it on its own; faults can then be
set over HTTP: ``POST /_standin/faults {"model": ..., "faults": [{"kind": "error",
"status": 429, "retry_after": 1}]}``, ``GET /_standin/requests``, ``POST /_standin/reset``.

Faults queued for a model are used one per request, in order; after them the model's
default behaviour applies (a normal answer unless ``set_default`` said otherwise).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio

from conduit import Conduit
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, StreamingResponse

__all__ = ["Fault", "StandIn", "main"]

_KINDS = ("ok", "error", "delay", "slow_stream", "empty", "refuse", "text", "drop_stream")


@dataclass(frozen=True)
class Fault:
    """One behaviour for one request.

    ``kind``: ``ok``; ``error`` (``status``, optional ``retry_after`` seconds);
    ``delay`` (answer after ``delay`` seconds: a client with a shorter timeout times out);
    ``slow_stream`` (``chunk_delay`` seconds between streamed chunks); ``empty``;
    ``refuse`` (a refusal); ``text`` (answer ``text``); ``drop_stream`` (send one chunk,
    then cut the connection).
    """

    kind: str = "ok"
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    text: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(_KINDS)}; got {self.kind!r}")

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0) -> Fault:
        return cls("error", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("error", status=status)

    @classmethod
    def timeout(cls, seconds: float = 30.0) -> Fault:
        return cls("delay", delay=seconds)

    @classmethod
    def slow_stream(cls, chunk_delay: float = 0.5) -> Fault:
        return cls("slow_stream", chunk_delay=chunk_delay)

    @classmethod
    def empty(cls) -> Fault:
        return cls("empty")

    @classmethod
    def refuse(cls) -> Fault:
        return cls("refuse")


@dataclass
class Seen:
    """A request the stand-in received."""

    api: str
    model: str
    at: float
    stream: bool
    fault: str
    body: dict[str, Any] = field(default_factory=dict, repr=False)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class StandIn:
    """The stand-in server (see the module docstring). ``api_key``: the key clients must
    send (None accepts any non-empty key); ``chunk_delay``: default gap between chunks."""

    def __init__(self, *, api_key: str | None = None, chunk_delay: float = 0.0) -> None:
        self.api_key = api_key
        self.chunk_delay = chunk_delay
        self._faults: dict[str, deque[Fault]] = {}
        self._defaults: dict[str, Fault] = {}
        self.requests: list[Seen] = []
        self.app = self._build_app()
        self._server: Any = None

    # --- control ---------------------------------------------------------------------------

    def inject(self, model: str, *faults: Fault) -> None:
        """Queue ``faults`` for the next requests to ``model``."""
        self._faults.setdefault(model, deque()).extend(faults)

    def set_default(self, model: str, fault: Fault | None) -> None:
        """What ``model`` does once its queue is empty (None: answer normally)."""
        if fault is None:
            self._defaults.pop(model, None)
        else:
            self._defaults[model] = fault

    def reset(self) -> None:
        self._faults.clear()
        self._defaults.clear()
        self.requests.clear()

    def seen(self, model: str | None = None) -> list[Seen]:
        return [r for r in self.requests if model is None or r.model == model]

    def _next(self, model: str) -> Fault:
        queue = self._faults.get(model)
        if queue:
            return queue.popleft()
        return self._defaults.get(model, Fault())

    # --- serving -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running; use `with StandIn() as s:` or s.start()")
        return self._server.url

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    @property
    def gemini_url(self) -> str:
        return self.url + "/v1beta"

    def start(self) -> StandIn:
        from conduit.testing import LiveServer

        self._server = LiveServer(self.app).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=5)
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the app -------------------------------------------------------------------------------

    def _authorised(self, request: HTTPRequest, header: str) -> bool:
        value = request.get_header(header)
        if header == "authorization":
            value = value[7:] if value.lower().startswith("bearer ") else ""
        if header == "x-goog-api-key" and not value:
            value = request.query.get("key", "")
        return bool(value) and (self.api_key is None or value == self.api_key)

    def _build_app(self) -> Conduit:
        app = Conduit(plugins=[])
        app.add_route("/v1/chat/completions", self._openai, ["POST"])
        app.add_route("/v1/messages", self._anthropic, ["POST"])
        app.add_route("/v1beta/models/{spec}", self._gemini, ["POST"])
        app.add_route("/_standin/faults", self._control_faults, ["POST"])
        app.add_route("/_standin/requests", self._control_requests, ["GET"])
        app.add_route("/_standin/reset", self._control_reset, ["POST"])
        return app

    async def _before(self, api: str, model: str, body: dict[str, Any], stream: bool) -> Fault:
        fault = self._next(model)
        self.requests.append(Seen(api, model, time.time(), stream, fault.kind, body))
        if fault.delay:
            await anyio.sleep(fault.delay)
        return fault

    @staticmethod
    def _answer(model: str, prompt: str, fault: Fault) -> str:
        if fault.kind == "empty":
            return ""
        if fault.kind == "refuse":
            return "I'm sorry, but I can't help with that request."
        if fault.kind == "text" and fault.text is not None:
            return fault.text
        snippet = " ".join(prompt.split())[:80]
        return f"[{model}] This is the stand-in's answer to: {snippet}"

    def _error(self, api: str, fault: Fault) -> HTTPResponse:
        kinds = {429: "rate_limit_error", 500: "api_error", 503: "overloaded_error", 529: "overloaded_error"}
        message = "Rate limit reached; retry later" if fault.status == 429 else "The stand-in failed on purpose"
        if api == "anthropic":
            body: dict[str, Any] = {"type": "error", "error": {"type": kinds.get(fault.status, "api_error"),
                                                               "message": message}}
        elif api == "gemini":
            body = {"error": {"code": fault.status, "message": message, "status": "RESOURCE_EXHAUSTED"
                              if fault.status == 429 else "INTERNAL"}}
        else:
            body = {"error": {"message": message, "type": kinds.get(fault.status, "server_error"), "code": None}}
        response = HTTPResponse(fault.status).json(body)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
        return response

    @staticmethod
    def _client_error(api: str, status: int, message: str) -> HTTPResponse:
        if api == "anthropic":
            return HTTPResponse(status).json({"type": "error", "error": {"type": "invalid_request_error",
                                                                          "message": message}})
        return HTTPResponse(status).json({"error": {"message": message, "type": "invalid_request_error"}})

    def _words(self, text: str) -> list[str]:
        words = text.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)] if text else []

    async def _chunks(self, text: str, fault: Fault) -> AsyncIterator[tuple[int, str]]:
        gap = fault.chunk_delay or self.chunk_delay
        for i, word in enumerate(self._words(text)):
            if i and gap:
                await anyio.sleep(gap)
            yield i, word
            if fault.kind == "drop_stream":
                raise ConnectionResetError("the stand-in dropped the stream on purpose")

    # OpenAI ---------------------------------------------------------------------------------

    async def _openai(self, request: HTTPRequest) -> HTTPResponse:
        if not self._authorised(request, "authorization"):
            return self._client_error("openai", 401, "Incorrect API key provided")
        body = await request.json()
        model = body.get("model") if isinstance(body, dict) else None
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(model, str) or not isinstance(messages, list) or not messages:
            return self._client_error("openai", 400, "model and messages are required")
        stream = bool(body.get("stream"))
        fault = await self._before("openai", model, body, stream)
        if fault.kind == "error":
            return self._error("openai", fault)
        prompt = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        text = self._answer(model, prompt, fault)
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        usage = {"prompt_tokens": _tokens(prompt), "completion_tokens": _tokens(text) if text else 0}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        created = int(time.time())
        if not stream:
            return HTTPResponse().json({
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage,
            })
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def events() -> AsyncIterator[bytes]:
            import orjson

            def frame(payload: dict[str, Any]) -> bytes:
                return b"data: " + orjson.dumps(payload) + b"\n\n"

            base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
            yield frame({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                              "finish_reason": None}]})
            async for _, word in self._chunks(text, fault):
                yield frame({**base, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
            yield frame({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if include_usage:
                yield frame({**base, "choices": [], "usage": usage})
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    # Anthropic ------------------------------------------------------------------------------

    async def _anthropic(self, request: HTTPRequest) -> HTTPResponse:
        if not self._authorised(request, "x-api-key"):
            return self._client_error("anthropic", 401, "invalid x-api-key")
        if not request.get_header("anthropic-version"):
            return self._client_error("anthropic", 400, "anthropic-version header is required")
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body.get("messages"):
            return self._client_error("anthropic", 400, "model and messages are required")
        if not isinstance(body.get("max_tokens"), int):
            return self._client_error("anthropic", 400, "max_tokens: Field required")
        model = body["model"]
        stream = bool(body.get("stream"))
        fault = await self._before("anthropic", model, body, stream)
        if fault.kind == "error":
            return self._error("anthropic", fault)
        system: str = body["system"] if isinstance(body.get("system"), str) else ""
        prompt = "\n".join([system] * bool(system) + [str(m.get("content", "")) for m in body["messages"]
                                                      if isinstance(m, dict)])
        text = self._answer(model, prompt, fault)
        mid = f"msg_{uuid.uuid4().hex[:24]}"
        in_tokens, out_tokens = _tokens(prompt), _tokens(text) if text else 0
        if not stream:
            return HTTPResponse().json({
                "id": mid, "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}] if text else [],
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": in_tokens, "output_tokens": out_tokens},
            })

        async def events() -> AsyncIterator[bytes]:
            import orjson

            def frame(name: str, payload: dict[str, Any]) -> bytes:
                return f"event: {name}\n".encode() + b"data: " + orjson.dumps(payload) + b"\n\n"

            yield frame("message_start", {"type": "message_start", "message": {
                "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": None, "usage": {"input_tokens": in_tokens, "output_tokens": 1}}})
            yield frame("content_block_start", {"type": "content_block_start", "index": 0,
                                                "content_block": {"type": "text", "text": ""}})
            async for _, word in self._chunks(text, fault):
                yield frame("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                    "delta": {"type": "text_delta", "text": word}})
            yield frame("content_block_stop", {"type": "content_block_stop", "index": 0})
            yield frame("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                          "usage": {"output_tokens": out_tokens}})
            yield frame("message_stop", {"type": "message_stop"})

        return StreamingResponse(events(), media_type="text/event-stream")

    # Gemini ---------------------------------------------------------------------------------

    async def _gemini(self, request: HTTPRequest) -> HTTPResponse:
        spec = request.params["spec"]
        model, _, action = spec.partition(":")
        if action not in ("generateContent", "streamGenerateContent"):
            return self._client_error("gemini", 404, f"unknown method {action!r}")
        if not self._authorised(request, "x-goog-api-key"):
            return self._client_error("gemini", 403, "API key not valid")
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("contents"), list) or not body["contents"]:
            return self._client_error("gemini", 400, "contents is required")
        stream = action == "streamGenerateContent"
        fault = await self._before("gemini", model, body, stream)
        if fault.kind == "error":
            return self._error("gemini", fault)
        instruction = body.get("systemInstruction") or {}
        turns = [instruction, *body["contents"]] if isinstance(instruction, dict) and instruction else body["contents"]
        prompt = "\n".join(p.get("text", "") for c in turns if isinstance(c, dict)
                           for p in c.get("parts", []) if isinstance(p, dict))
        text = self._answer(model, prompt, fault)
        meta = {"promptTokenCount": _tokens(prompt), "candidatesTokenCount": _tokens(text) if text else 0}

        def payload(part: str, finish: str | None) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": part}]}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            return {"candidates": [candidate], "usageMetadata": meta, "modelVersion": model}

        if not stream:
            return HTTPResponse().json(payload(text, "STOP"))

        async def events() -> AsyncIterator[bytes]:
            import orjson

            async for _, word in self._chunks(text, fault):
                yield b"data: " + orjson.dumps(payload(word, None)) + b"\r\n\r\n"
            yield b"data: " + orjson.dumps(payload("", "STOP")) + b"\r\n\r\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    # control --------------------------------------------------------------------------------

    async def _control_faults(self, request: HTTPRequest) -> HTTPResponse:
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return HTTPResponse(400).json({"error": "send {model, faults: [...], default: {...}}"})
        try:
            faults = [Fault(**f) for f in body.get("faults") or []]
            default = Fault(**body["default"]) if body.get("default") else None
        except (TypeError, ValueError) as exc:
            return HTTPResponse(400).json({"error": str(exc)})
        self.inject(body["model"], *faults)
        if "default" in body:
            self.set_default(body["model"], default)
        return HTTPResponse().json({"queued": len(self._faults.get(body["model"], ()))})

    async def _control_requests(self, request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse().json([{k: v for k, v in asdict(r).items() if k != "body"} for r in self.requests])

    async def _control_reset(self, request: HTTPRequest) -> HTTPResponse:
        self.reset()
        return HTTPResponse().json({"reset": True})


def main(argv: list[str] | None = None) -> int:
    """``python -m conduit_router.standin [--host H] [--port P] [--chunk-delay S]``."""
    parser = argparse.ArgumentParser(prog="python -m conduit_router.standin",
                                     description="A local stand-in for the OpenAI, Anthropic and Gemini APIs.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    standin = StandIn(chunk_delay=args.chunk_delay)
    print(f"LLM stand-in (canned answers, no real model) on http://{args.host}:{args.port}: OpenAI at /v1, "
          f"Anthropic at /v1/messages, Gemini at /v1beta")
    standin.app.run(args.host, args.port, banner=False)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
