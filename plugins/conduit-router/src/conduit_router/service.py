"""The router's HTTP service, added to an app by the plugin's ``conduit_register_routes``.

Under ``router_prefix`` (``/v1``): ``POST /route``, ``POST /complete``, ``POST /feedback``,
``GET /stats``, ``GET /models`` and an OpenAI-compatible ``POST /chat/completions`` where
``model="auto"`` routes (``stream: true`` answers with server-sent events), so existing
OpenAI clients use the router unchanged. Bad input is a 4xx whose detail names the field.

Each operation declares its body exactly in OpenAPI (the ``*_SCHEMA`` dicts below): what
the handlers accept, no unknown field on the router's own routes (the OpenAI route, like
OpenAI's, ignores fields it does not use). A model name the catalogue lacks, in
``constraints.allowed_models`` or ``model``, is 404 ``model_not_found``; constraints no
model meets now are 422 ``no_eligible_model`` (that depends on the router's state, not on
the request's shape).

Bodies are limited as in seed 001 (:class:`BodyLimit`, :func:`body_limit`): a POST to one of
these routes with a body over ``router_max_request_size`` (default: ``API_MAX_REQUEST_SIZE``
when set, else 10000 bytes) is 413 before the body is read; GET is exempt.

One :class:`~conduit_router.router.Router` per app, built from settings on first use
(:func:`app_router`) and closed when the app shuts down.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from conduit.framework.errors import BadRequestError, HTTPError, NotFoundError, PayloadTooLargeError
from conduit.http.middleware import PhasedMiddleware
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, StreamingResponse, dumps
from conduit_router.models import MAX_QUERY_CHARS, Query, QueryConstraints
from conduit_router.providers.base import _ROLES, MAX_TOKENS_LIMIT, ProviderError
from conduit_router.router import Router

__all__ = ["SEED_MAX_REQUEST_SIZE", "BodyLimit", "app_router", "body_limit", "build_router", "model_rate_limits",
           "register_service"]

_ROUTE_FIELDS = {"text", "query", "query_id", "constraints", "user_id"}
_COMPLETE_FIELDS = _ROUTE_FIELDS | {"messages", "system", "max_tokens", "temperature", "use_cache"}
_FEEDBACK_FIELDS = {"query_id", "quality", "rating", "success", "thumbs", "latency_ms", "cost", "output_tokens"}


# --- OpenAPI: what each operation accepts and answers ------------------------------------------

_MAX_NUMBER = 1.7976931348623157e308  # JSON numbers beyond a double are not numbers Python can compare
# A character Python does not strip and JSON Schema (ECMA-262 \s) does not call space.
_NON_BLANK = r"[^\s\x1c-\x1f\x85]"
_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": _NON_BLANK,
         "description": "the user's question (at least one non-blank character)"}
_CONSTRAINTS = {
    "type": "object", "additionalProperties": False,
    "description": "hard limits: candidates that break one are not chosen",
    "properties": {
        "max_cost": {"type": "number", "minimum": 0, "maximum": _MAX_NUMBER, "description": "USD for this query"},
        "max_latency_ms": {"type": "number", "exclusiveMinimum": 0, "maximum": _MAX_NUMBER},
        "min_quality": {"type": "number", "minimum": 0, "maximum": 1},
        "min_relative_quality": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                                 "description": "choose the cheapest model whose sampled quality is at least this "
                                                "share of the best candidate's (e.g. 0.95)"},
        "allowed_models": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
                           "description": "names from GET /v1/models (another name is 404)"},
    },
}
_QUERY_ID = {"type": "string", "minLength": 1, "maxLength": 128}
_ROUTE_PROPERTIES = {
    "text": _TEXT, "query": {**_TEXT, "description": "the same as text (text wins when both are sent)"},
    "query_id": {**_QUERY_ID, "description": "your id for the query (default: a new one)"},
    "constraints": _CONSTRAINTS,
    "user_id": {"type": "string", "minLength": 1, "maxLength": 256, "description": "who asked (retry detection)"},
}
_PARTS = {"type": "array", "items": {"type": "object", "properties": {"type": {"type": "string"},
                                                                       "text": {"type": "string"}}}}
_MESSAGE = {
    "type": "object", "required": ["role", "content"],
    "properties": {"role": {"enum": list(_ROLES)},
                   "content": {"anyOf": [{"type": "string", "maxLength": MAX_QUERY_CHARS}, _PARTS],
                               "description": "a string, or OpenAI text parts [{type, text}]"}},
}
_MESSAGES = {"type": "array", "minItems": 1, "items": _MESSAGE,
             "contains": {"type": "object", "properties": {"role": {"const": "user"}}, "required": ["role"]},
             "description": "chat turns; at least one from the user"}
_TEMPERATURE = {"type": "number", "minimum": 0, "maximum": 2}
_MAX_TOKENS = {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS_LIMIT}

ROUTE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "properties": _ROUTE_PROPERTIES,
    "anyOf": [{"required": ["text"]}, {"required": ["query"]}],
}
COMPLETE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "anyOf": [{"required": ["text"]}, {"required": ["query"]}],
    "properties": {**_ROUTE_PROPERTIES, "messages": {**_MESSAGES, "description": "the conversation (default: the "
                                                     "text as one user turn)"},
                   "system": {"type": "string", "maxLength": MAX_QUERY_CHARS}, "max_tokens": _MAX_TOKENS,
                   "temperature": _TEMPERATURE, "use_cache": {"type": "boolean", "default": True}},
}
FEEDBACK_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["query_id"],
    "anyOf": [{"required": [name]} for name in ("quality", "rating", "success", "thumbs", "latency_ms", "cost",
                                                "output_tokens")],
    "properties": {
        "query_id": {**_QUERY_ID, "description": "from the routing decision"},
        "quality": {"type": "number", "minimum": 0, "maximum": 1},
        "rating": {"type": "number", "minimum": 1, "maximum": 5},
        "success": {"type": "boolean"},
        "thumbs": {"anyOf": [{"type": "boolean"}, {"enum": ["up", "down", "UP", "DOWN", "Up", "Down"]}]},
        "latency_ms": {"type": "number", "exclusiveMinimum": 0, "maximum": _MAX_NUMBER},
        "cost": {"type": "number", "minimum": 0, "maximum": _MAX_NUMBER, "description": "USD"},
        "output_tokens": {"type": "number", "minimum": 0, "maximum": _MAX_NUMBER,
                          "description": "the answer's length in tokens (the provider's usage)"},
    },
}
CHAT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["messages"],
    "description": "OpenAI's chat completion request; fields it has that the router does not use are ignored",
    "properties": {
        "model": {"type": "string", "minLength": 1, "default": "auto",
                  "description": "\"auto\" routes; a name from GET /v1/models calls that model (another is 404)"},
        "messages": _MESSAGES, "temperature": _TEMPERATURE, "max_tokens": _MAX_TOKENS,
        "max_completion_tokens": _MAX_TOKENS, "stream": {"type": "boolean", "default": False},
        "user": {"type": "string", "maxLength": 256}, "constraints": _CONSTRAINTS,
    },
}
_DECISION = {"type": "object", "required": ["query_id", "selected_model", "confidence", "reasoning", "alternatives"],
             "properties": {"query_id": {"type": "string"}, "selected_model": {"type": "string"},
                            "confidence": {"type": "number"}, "reasoning": {"type": "string"},
                            "alternatives": {"type": "array"}, "excluded": {"type": "object"}}}
_COMPLETION = {"type": "object", "required": ["query_id", "text", "model", "usage", "cost"],
               "properties": {"query_id": {"type": "string"}, "text": {"type": "string"}, "model": {"type": "string"},
                              "usage": {"type": "object"}, "cost": {"type": "number"}, "cached": {"type": "boolean"}}}
_CHAT_COMPLETION = {"type": "object", "required": ["id", "object", "created", "model", "choices", "usage"],
                    "properties": {"object": {"const": "chat.completion"}, "model": {"type": "string"},
                                   "choices": {"type": "array", "minItems": 1}, "usage": {"type": "object"},
                                   "conduit": {"type": "object"}}}
_OPENAI_ERROR = {
    "type": "object", "required": ["error"], "description": "OpenAI's error body",
    "properties": {"error": {"type": "object", "required": ["message", "type"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"}, "param": {"type": ["string", "null"]},
        "code": {"type": ["string", "null"]}}}, "status": {"type": "integer"}},
}
_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str, schema: Any = None) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema or dict(_ERROR)}}}


_BAD = _error("A field is missing or invalid; the detail names it (code: invalid_body, unknown_field, missing_text, "
              "invalid_request)")
_NO_MODEL = _error("A model name the catalogue lacks (code: model_not_found)")
_NONE_ELIGIBLE = _error("No model meets the constraints now (code: no_eligible_model; each one's reason)")
_ALL_FAILED = _error("Every candidate model failed; retry after Retry-After seconds (code: all_models_failed)")


def _openai(description: str) -> dict[str, Any]:
    return _error(description, _OPENAI_ERROR)


def model_rate_limits(settings: Any, models: Any = None) -> dict[str, float]:
    """``router_model_rate_limits`` as ``{model: requests per second}`` (``"*"``: the others).

    A malformed value, or a model name the catalogue (``models``, else the configured one)
    lacks, is a ConfigurationError saying what to write.
    """
    from conduit.framework.errors import ConfigurationError
    from conduit_router.providers.ratelimit import parse_model_rates

    try:
        rates = parse_model_rates(settings.get("router_model_rate_limits") or None)
    except ValueError as exc:
        raise ConfigurationError(f"setting 'router_model_rate_limits': {exc}") from None
    if not rates:
        return rates
    if models is None:
        from conduit_router.catalogue import default_catalogue

        models = default_catalogue(settings)
    names = {m.name for m in models}
    unknown = sorted(set(rates) - names - {"*"})
    if unknown:
        raise ConfigurationError(
            f"setting 'router_model_rate_limits' names {', '.join(map(repr, unknown))}, which the model catalogue "
            f"lacks; use names from GET /v1/models ({', '.join(sorted(names))}), or * for every model")
    return rates


def _provider_rates(rates: Mapping[str, float], provider: str, models: Any) -> dict[str, float] | None:
    own = {m.name for m in models if m.provider == provider}
    mine = {name: rate for name, rate in rates.items() if name in own or name == "*"}
    return mine or None


def build_router(settings: Any) -> Router:
    """A Router configured from the app's settings (see docs/router.md, Configuration)."""
    from conduit_router.catalogue import default_catalogue
    from conduit_router.history import DEFAULT_FLUSH_INTERVAL, create_history
    from conduit_router.providers import PROVIDER_CLASSES, ResponseCache

    state = settings.get("router_state") or settings.get("redis_url")
    models = default_catalogue(settings)
    providers: dict[str, Any] = {}
    standin = (settings.get("router_standin_url") or "").rstrip("/")
    options: dict[str, Any] = {
        "timeout": settings.get("router_provider_timeout") or 60.0,
        "max_retries": settings.get("router_max_retries", 3),
        "backoff_base": settings.get("router_retry_initial_delay", 0.5),
        "backoff_max": settings.get("router_retry_max_delay", 20.0),
        "rate_per_provider": settings.get("router_rate_limit"),
    }
    model_rates = model_rate_limits(settings, models)
    for name in {m.provider for m in models}:
        cls = PROVIDER_CLASSES.get(name)
        if cls is None:
            continue
        options["rate_per_model"] = _provider_rates(model_rates, name, models)
        options["cache"] = (ResponseCache(max_entries=settings.get("router_cache_max_size", 1000),
                                          ttl=settings.get("router_cache_ttl", 3600.0))
                            if settings.get("router_cache", True) else None)  # one cache per provider client
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
        history=create_history(settings.get("router_history"),
                               flush_interval=settings.get("router_history_flush_interval") or DEFAULT_FLUSH_INTERVAL),
        latency_tolerance_ms=settings.get("router_latency_tolerance_ms") or 15_000.0,
    )


#: Seed 001's request size limit: bytes of an API request body (``API_MAX_REQUEST_SIZE``).
SEED_MAX_REQUEST_SIZE = 10_000


def body_limit(settings: Any) -> int:
    """Bytes of body the service's POST routes accept; 0 for no limit of their own.

    ``router_max_request_size`` (seed 001's ``API_MAX_REQUEST_SIZE`` sets it too) when set;
    else seed 001's default, 10000. The server's ``max_body_size`` stays the cap of every route.
    """
    value = settings.get("router_max_request_size")
    return SEED_MAX_REQUEST_SIZE if value is None else int(value)


class BodyLimit(PhasedMiddleware):
    """413 for a body over ``max_bytes`` sent to one of the service's POST routes.

    A declared ``Content-Length`` over the limit is refused before any byte is read; a chunked
    body is counted as it arrives. GET (and HEAD, OPTIONS) are exempt, as in seed 001; routes
    other than the service's are not touched. ``/v1/chat/completions`` answers in OpenAI's
    error shape, the others in the kernel's.
    """

    _EXEMPT = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f"the body limit must be >= 1 byte, got {max_bytes!r}")
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"router body limit ({self.max_bytes} bytes)"

    def before(self, request: HTTPRequest) -> Any:
        route = request.route
        if route is None or route.endpoint not in _LIMITED or request.method in self._EXEMPT:
            return None
        try:
            request.limit_body(self.max_bytes)
        except PayloadTooLargeError as exc:
            if route.endpoint is chat_completions_handler:
                return self._openai(exc)
            raise
        return True

    def after(self, request: HTTPRequest, response: HTTPResponse, context: Any) -> HTTPResponse | None:
        if context and response.status_code == 413 and request.route is not None \
                and request.route.endpoint is chat_completions_handler:
            exc = request.state.get("exception")
            if isinstance(exc, PayloadTooLargeError):  # a chunked body that went past the limit
                return self._openai(exc)
        return None

    def _openai(self, exc: PayloadTooLargeError) -> HTTPResponse:
        return _openai_error(413, f"{exc.detail}; send a smaller body (the router_max_request_size setting, "
                                  "API_MAX_REQUEST_SIZE)", "invalid_request_error", "body_too_large")


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


def _known_models(router: Router, constraints: QueryConstraints | None) -> QueryConstraints | None:
    """``constraints``, or NotFoundError (404) when ``allowed_models`` names a model the catalogue lacks."""
    names = {m.name for m in router.models}
    unknown = [n for n in (constraints.allowed_models or ()) if n not in names] if constraints else []
    if unknown:
        raise NotFoundError("Unknown model", f"allowed_models names {', '.join(map(repr, unknown[:5]))}; the "
                            f"catalogue has {', '.join(sorted(names))} (GET /v1/models)", code="model_not_found")
    return constraints


def _query(body: Mapping[str, Any], router: Router, *, text: str | None = None) -> Query:
    text = text if text is not None else body.get("text", body.get("query"))
    if not isinstance(text, str):
        raise BadRequestError("Missing text", "send the query as \"text\" (a non-empty string)", code="missing_text")
    constraints = _known_models(router, QueryConstraints.from_dict(body.get("constraints")))
    options: dict[str, Any] = {"text": text, "constraints": constraints, "user_id": body.get("user_id")}
    if body.get("query_id") is not None:
        options["id"] = body["query_id"]
    return Query(**options)


def _integral(value: Any) -> Any:
    """``2.0`` as ``2``: JSON Schema's integers include numbers with a zero fraction."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _bad(exc: Exception) -> BadRequestError:
    return BadRequestError("Invalid request", str(exc), code="invalid_request")


# --- handlers --------------------------------------------------------------------------------


async def route_handler(request: HTTPRequest) -> dict[str, Any]:
    body = await _body(request, _ROUTE_FIELDS)
    router = app_router(request.app)
    try:
        query = _query(body, router)
        decision = await router.route(query)
    except ValueError as exc:
        raise _bad(exc) from None
    return decision.to_dict()


async def complete_handler(request: HTTPRequest) -> dict[str, Any]:
    body = await _body(request, _COMPLETE_FIELDS)
    router = app_router(request.app)
    try:
        query = _query(body, router)
        completion = await router.complete(query, messages=body.get("messages"), system=body.get("system"),
                                           max_tokens=_integral(body.get("max_tokens")),
                                           temperature=body.get("temperature"),
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
            latency_ms=body.get("latency_ms"), cost=body.get("cost"), output_tokens=body.get("output_tokens"))
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


def _chat_query(body: Mapping[str, Any], router: Router) -> tuple[Query, list[dict[str, Any]]]:
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
    constraints = _known_models(router, QueryConstraints.from_dict(body.get("constraints")))
    if model != "auto":
        constraints = replace(constraints or QueryConstraints(), allowed_models=(model,))
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise ValueError("user must be a string")
    return Query(text=text if text.strip() else "(empty)", constraints=constraints, user_id=user or None), messages


def _max_tokens(body: Mapping[str, Any]) -> Any:
    return _integral(body.get("max_completion_tokens", body.get("max_tokens")))


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
        query, messages = _chat_query(body, router)
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
    mapped = {"end_turn": "stop", "STOP": "stop", "max_tokens": "length", "MAX_TOKENS": "length"}
    return mapped.get(reason or "", reason or "stop")


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


_LIMITED = frozenset({route_handler, complete_handler, feedback_handler, chat_completions_handler})
_TOO_LARGE = _error("The body is over router_max_request_size (code: body_too_large)")


def register_service(register: Any, prefix: str = "/v1") -> None:
    """Add the service's routes through a ``conduit_register_routes`` ``register``."""
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    tags = ("router",)
    bad = {400: _BAD, 404: _NO_MODEL, 413: _TOO_LARGE, 422: _NONE_ELIGIBLE}
    register("POST", f"{prefix}/route", route_handler, summary="Route a query to a model", tags=tags,
             body=ROUTE_SCHEMA, response=_DECISION, responses=dict(bad))
    spends = "spends money at the LLM providers"
    register("POST", f"{prefix}/complete", complete_handler, summary="Route a query, call the model, return the answer",
             risk=spends, tags=tags, body=COMPLETE_SCHEMA, response=_COMPLETION, responses={**bad, 503: _ALL_FAILED})
    register("POST", f"{prefix}/feedback", feedback_handler, summary="Report how an answer went", tags=tags,
             risk="writes what the router learns from",
             body=FEEDBACK_SCHEMA, response={"type": "object", "required": ["accepted"],
                                             "properties": {"accepted": {"const": True}}},
             responses={400: _BAD, 404: _error("No routing decision with this query_id (code: unknown_query)"),
                        413: _TOO_LARGE,
                        409: _error("Quality feedback for this query was already recorded (code: feedback_exists)")})
    register("GET", f"{prefix}/stats", stats_handler, summary="Decisions, traffic share, spend, quality per model",
             tags=tags, response={"type": "object"})
    register("GET", f"{prefix}/models", models_handler, summary="The models the router chooses from", tags=tags,
             response={"type": "object", "required": ["object", "data"], "properties": {
                 "object": {"const": "list"}, "data": {"type": "array", "items": {
                     "type": "object", "required": ["id", "object", "owned_by"]}}}})
    register("POST", f"{prefix}/chat/completions", chat_completions_handler, risk=spends,
             summary="OpenAI-compatible chat completions; model=\"auto\" routes", tags=tags, body=CHAT_SCHEMA,
             responses={
                 200: {"description": "A chat.completion, or with stream: true Server-Sent Events of "
                                      "chat.completion.chunk objects ending with data: [DONE]",
                       "content": {"application/json": {"schema": _CHAT_COMPLETION},
                                   "text/event-stream": {"schema": {"type": "object", "required": ["data"],
                                                                    "properties": {"data": {"type": "string"}}}}}},
                 400: _openai("The body is not valid JSON, or a field is invalid (OpenAI's error body)"),
                 404: _openai("The model does not exist (code: model_not_found)"),
                 413: _openai("The body is over router_max_request_size (code: body_too_large)"),
                 422: _openai("No model meets the constraints now (code: no_eligible_model)"),
                 429: _error("Rate limited (the app's limit: Error; a provider's: OpenAI's error body)",
                             {"anyOf": [_ERROR, _OPENAI_ERROR]}),
                 503: _openai("Every candidate model failed; retry after Retry-After seconds"),
             })
