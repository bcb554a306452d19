"""The router's HTTP service, added to an app by the plugin's ``conduit_register_routes``.

Under ``router_prefix`` (``/v1``): ``POST /route``, ``POST /complete``, ``POST /feedback``,
``GET /stats``, ``GET /models`` and an OpenAI-compatible ``POST /chat/completions`` where
``model="auto"`` routes (``stream: true`` answers with server-sent events), so existing
OpenAI clients use the router unchanged. Bad input is a 4xx whose detail names the field.

One :class:`~conduit_router.router.Router` per app, built from settings on first use
(:func:`app_router`) and closed when the app shuts down.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from conduit.framework.errors import BadRequestError, HTTPError
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, StreamingResponse, dumps
from conduit_router.models import Query, QueryConstraints
from conduit_router.providers.base import ProviderError
from conduit_router.router import Router

__all__ = ["app_router", "build_router", "register_service"]

_ROUTE_FIELDS = {"text", "query", "query_id", "constraints", "user_id"}
_COMPLETE_FIELDS = _ROUTE_FIELDS | {"messages", "system", "max_tokens", "temperature", "use_cache"}
_FEEDBACK_FIELDS = {"query_id", "quality", "rating", "success", "thumbs", "latency_ms", "cost"}


def build_router(settings: Any) -> Router:
    """A Router configured from the app's settings (see docs/router.md, Configuration)."""
    from conduit_router.catalogue import default_catalogue
    from conduit_router.providers import PROVIDER_CLASSES

    state = settings.get("router_state") or settings.get("redis_url")
    models = default_catalogue(settings)
    providers: dict[str, Any] = {}
    standin = (settings.get("router_standin_url") or "").rstrip("/")
    options = {"timeout": settings.get("router_provider_timeout") or 60.0,
               "max_retries": settings.get("router_max_retries", 3)}
    for name in {m.provider for m in models}:
        cls = PROVIDER_CLASSES.get(name)
        if cls is None:
            continue
        if standin:
            base = {"anthropic": standin, "google": standin + "/v1beta", "gemini": standin + "/v1beta"}.get(
                name, standin + "/v1")
            providers[name] = cls(name=name, base_url=base, api_key="standin", **options)
        else:
            providers[name] = cls(name=name, **options)  # keys and base URLs from the environment
    return Router(
        models,
        state=state,
        objective=settings.get("router_objective") or None,
        embedder=settings.get("router_embedder") or None,
        providers=providers,
        history=settings.get("router_history"),
        latency_tolerance_ms=settings.get("router_latency_tolerance_ms") or 15_000.0,
    )


def app_router(app: Any) -> Router:
    """The app's router, built on first use."""
    router = app.state.get("conduit_router")
    if router is None:
        router = build_router(app.settings)
        app.state.conduit_router = router
    return router


# --- input -----------------------------------------------------------------------------------


async def _body(request: HTTPRequest, allowed: set[str]) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise BadRequestError("Invalid body", "send a JSON object", code="invalid_body")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequestError("Unknown field", f"unknown field(s) {', '.join(unknown)}; allowed: "
                              f"{', '.join(sorted(allowed))}", code="unknown_field")
    return body


def _query(body: Mapping[str, Any], *, text: str | None = None) -> Query:
    text = text if text is not None else body.get("text", body.get("query"))
    if not isinstance(text, str):
        raise BadRequestError("Missing text", "send the query as \"text\" (a non-empty string)", code="missing_text")
    options: dict[str, Any] = {"text": text, "constraints": QueryConstraints.from_dict(body.get("constraints")),
                               "user_id": body.get("user_id")}
    if body.get("query_id") is not None:
        options["id"] = body["query_id"]
    return Query(**options)


def _bad(exc: Exception) -> BadRequestError:
    return BadRequestError("Invalid request", str(exc), code="invalid_request")


# --- handlers --------------------------------------------------------------------------------


async def route_handler(request: HTTPRequest) -> dict[str, Any]:
    body = await _body(request, _ROUTE_FIELDS)
    try:
        query = _query(body)
        decision = await app_router(request.app).route(query)
    except ValueError as exc:
        raise _bad(exc) from None
    return decision.to_dict()


async def complete_handler(request: HTTPRequest) -> dict[str, Any]:
    body = await _body(request, _COMPLETE_FIELDS)
    router = app_router(request.app)
    try:
        query = _query(body)
        completion = await router.complete(query, messages=body.get("messages"), system=body.get("system"),
                                           max_tokens=body.get("max_tokens"), temperature=body.get("temperature"),
                                           use_cache=bool(body.get("use_cache", True)))
    except ValueError as exc:
        raise _bad(exc) from None
    return completion.to_dict()


def _thumbs(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("up", "down"):
        return value.lower() == "up"
    raise ValueError(f"thumbs must be \"up\", \"down\", true or false; got {value!r}")


async def feedback_handler(request: HTTPRequest) -> dict[str, Any]:
    body = await _body(request, _FEEDBACK_FIELDS)
    query_id = body.get("query_id")
    if not isinstance(query_id, str) or not query_id:
        raise BadRequestError("Missing query_id", "send the query_id from the routing decision", code="missing_query_id")
    try:
        success = _thumbs(body.get("success")) if "success" in body else _thumbs(body.get("thumbs"))
        result = await app_router(request.app).feedback(
            query_id, quality=body.get("quality"), rating=body.get("rating"), success=success,
            latency_ms=body.get("latency_ms"), cost=body.get("cost"))
    except ValueError as exc:
        raise _bad(exc) from None
    return {"accepted": True, **result.to_dict()}


async def stats_handler(request: HTTPRequest) -> dict[str, Any]:
    router = app_router(request.app)
    await router.refresh()
    return router.stats()


async def models_handler(request: HTTPRequest) -> dict[str, Any]:
    router = app_router(request.app)
    data = [{"id": "auto", "object": "model", "created": 0, "owned_by": "conduit-router",
             "description": "routes each request to the model the router expects to serve it best"}]
    for m in router.models:
        data.append({"id": m.name, "object": "model", "created": 0, "owned_by": m.provider, **m.to_dict(),
                     "estimated_quality": round(router.estimated_quality(m.name), 4)})
    return {"object": "list", "data": data}


# --- OpenAI-compatible chat completions -------------------------------------------------------


def _openai_error(status: int, message: str, kind: str, code: str | None = None, param: str | None = None,
                  headers: Mapping[str, str] | None = None) -> HTTPResponse:
    response = HTTPResponse(status).json({"error": {"message": message, "type": kind, "param": param, "code": code},
                                          "status": status})
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _chat_query(body: Mapping[str, Any]) -> tuple[Query, list[dict[str, Any]]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of {role, content} objects")
    user_turns = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not user_turns:
        raise ValueError("messages must contain at least one user message")
    content = user_turns[-1].get("content")
    text = content if isinstance(content, str) else "".join(
        str(p.get("text", "")) for p in content if isinstance(p, dict)) if isinstance(content, list) else None
    if not isinstance(text, str):
        raise ValueError("the last user message's content must be a string or a list of text parts")
    model = body.get("model", "auto")
    if not isinstance(model, str) or not model:
        raise ValueError("model must be \"auto\" or the name of a model from GET /v1/models")
    constraints = QueryConstraints.from_dict(body.get("constraints"))
    if model != "auto":
        constraints = QueryConstraints(
            max_cost=constraints.max_cost if constraints else None,
            max_latency_ms=constraints.max_latency_ms if constraints else None,
            min_quality=constraints.min_quality if constraints else None,
            allowed_models=(model,))
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise ValueError("user must be a string")
    return Query(text=text if text.strip() else "(empty)", constraints=constraints, user_id=user or None), messages


def _max_tokens(body: Mapping[str, Any]) -> Any:
    return body.get("max_completion_tokens", body.get("max_tokens"))


async def chat_completions_handler(request: HTTPRequest) -> HTTPResponse:
    try:
        body = await request.json()
    except HTTPError as exc:
        return _openai_error(400, f"the body is not valid JSON: {exc.detail or exc.message}", "invalid_request_error")
    if not isinstance(body, dict):
        return _openai_error(400, "send a JSON object", "invalid_request_error")
    router = app_router(request.app)
    model = body.get("model", "auto")
    if isinstance(model, str) and model != "auto" and model not in {m.name for m in router.models}:
        return _openai_error(404, f"The model {model!r} does not exist; use \"auto\" or one of GET /v1/models",
                             "invalid_request_error", "model_not_found", "model")
    try:
        query, messages = _chat_query(body)
        temperature, max_tokens = body.get("temperature"), _max_tokens(body)
        if body.get("stream"):
            stream = await router.stream(query, messages=messages, max_tokens=max_tokens, temperature=temperature)
            return _sse(stream)
        completion = await router.complete(query, messages=messages, max_tokens=max_tokens, temperature=temperature)
    except ValueError as exc:
        return _openai_error(400, str(exc), "invalid_request_error")
    except HTTPError as exc:
        return _openai_error(exc.status_code, f"{exc.message}: {exc.detail}", "router_error", exc.code,
                             headers=exc.headers)
    response = HTTPResponse().json({
        "id": f"chatcmpl-{completion.query_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": completion.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": completion.text},
                     "finish_reason": _finish(completion.finish_reason)}],
        "usage": {"prompt_tokens": completion.usage.input_tokens, "completion_tokens": completion.usage.output_tokens,
                  "total_tokens": completion.usage.total_tokens},
        "conduit": {"query_id": completion.query_id, "selected_model": completion.decision.selected_model,
                    "confidence": round(completion.decision.confidence, 4), "cost": completion.cost,
                    "attempts": [{"model": m, "outcome": o} for m, o in completion.attempts]},
    })
    response.headers["x-conduit-query-id"] = completion.query_id
    return response


def _finish(reason: str | None) -> str:
    return {"end_turn": "stop", "STOP": "stop", "max_tokens": "length", "MAX_TOKENS": "length"}.get(reason or "", reason or "stop")


def _sse(stream: Any) -> StreamingResponse:
    cid = f"chatcmpl-{stream.query_id}"
    created = int(time.time())
    base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": stream.model}

    def frame(payload: Any) -> bytes:
        return b"data: " + dumps(payload) + b"\n\n"

    async def events() -> AsyncIterator[bytes]:
        yield frame({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                          "finish_reason": None}]})
        try:
            async for text in stream:
                yield frame({**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})
        except ProviderError as exc:
            yield frame({"error": {"message": f"the model failed mid-answer ({exc.kind})", "type": "router_error",
                                   "code": exc.kind, "param": None}})
            yield b"data: [DONE]\n\n"
            return
        completion = stream.completion
        yield frame({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": _finish(stream.finish_reason)}]})
        if completion is not None:
            yield frame({**base, "choices": [], "usage": {
                "prompt_tokens": completion.usage.input_tokens, "completion_tokens": completion.usage.output_tokens,
                "total_tokens": completion.usage.total_tokens}})
        yield b"data: [DONE]\n\n"

    response = StreamingResponse(events(), media_type="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["x-conduit-query-id"] = stream.query_id
    return response


def register_service(register: Any, prefix: str = "/v1") -> None:
    """Add the service's routes through a ``conduit_register_routes`` ``register``."""
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    tags = ("router",)
    register("POST", f"{prefix}/route", route_handler, summary="Route a query to a model", tags=tags)
    register("POST", f"{prefix}/complete", complete_handler, summary="Route a query, call the model, return the answer",
             tags=tags)
    register("POST", f"{prefix}/feedback", feedback_handler, summary="Report how an answer went", tags=tags)
    register("GET", f"{prefix}/stats", stats_handler, summary="Decisions, traffic share, spend, quality per model",
             tags=tags)
    register("GET", f"{prefix}/models", models_handler, summary="The models the router chooses from", tags=tags)
    register("POST", f"{prefix}/chat/completions", chat_completions_handler,
             summary="OpenAI-compatible chat completions; model=\"auto\" routes", tags=tags)
