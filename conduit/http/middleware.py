"""Middleware: the onion around every handler.

A middleware is an async callable ``(request, call_next) -> HTTPResponse``: code before
``await call_next(request)`` runs on the way in, code after it on the way out, and it
may answer early by not calling ``call_next`` at all. The seed's post-processing
objects (``apply(request, response)``) are accepted too and run on the way out.

Order: the first middleware registered is the outermost — it sees the request first
and the response last::

    app.use(A); app.use(B)      request → A → B → handler → B → A → response

``call_next`` never raises: an exception from an inner layer (or the handler) is
rendered to its JSON error response at that boundary, so outer middleware still add
their headers (CORS, request id, timing) to error responses.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any, Awaitable, Callable, Iterable, Protocol, runtime_checkable

from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, error_response

__all__ = [
    "Middleware",
    "CallNext",
    "as_middleware",
    "build_chain",
    "route_middleware",
    "LoggerMiddleware",
    "CORSMiddleware",
    "TimingMiddleware",
    "RequestIDMiddleware",
    "logger_middleware",
    "cors_middleware",
    "timing_middleware",
    "request_id_middleware",
]

CallNext = Callable[[HTTPRequest], Awaitable[HTTPResponse]]
Endpoint = Callable[[HTTPRequest], Awaitable[HTTPResponse]]


@runtime_checkable
class Middleware(Protocol):
    async def __call__(self, request: HTTPRequest, call_next: CallNext) -> HTTPResponse: ...


class _PostProcessor:
    """Adapts the seed's ``apply(request, response)`` objects (sync or async)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self._apply = obj.apply
        self._is_async = inspect.iscoroutinefunction(obj.apply)

    async def __call__(self, request: HTTPRequest, call_next: CallNext) -> HTTPResponse:
        response = await call_next(request)
        result = self._apply(request, response)
        if self._is_async:
            result = await result
        return result if isinstance(result, HTTPResponse) else response

    def __repr__(self) -> str:
        return f"post-processor {type(self.obj).__name__}"


def as_middleware(obj: Any) -> Middleware:
    """Normalise what ``app.use`` accepts into a ``(request, call_next)`` middleware.

    Accepted: an async ``(request, call_next)`` callable; an object whose async
    ``dispatch(request, call_next)`` does the work (so its ``__call__`` can serve as a
    route decorator, as ``rate_limit`` does); an object with ``apply(request, response)``.
    """
    dispatch = getattr(obj, "dispatch", None)
    if dispatch is not None and inspect.iscoroutinefunction(dispatch):
        return dispatch
    if hasattr(obj, "apply") and not _takes_call_next(obj):
        return _PostProcessor(obj)
    if callable(obj):
        fn = obj if inspect.isfunction(obj) or inspect.ismethod(obj) else getattr(obj, "__call__", obj)
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(
                f"middleware {obj!r} must be an async callable (request, call_next) -> HTTPResponse "
                "or an object with apply(request, response)"
            )
        return obj
    raise TypeError(f"{obj!r} is not middleware: give an async (request, call_next) callable or an apply() object")


def _takes_call_next(obj: Any) -> bool:
    call = getattr(type(obj), "__call__", None)
    if call is None:
        return False
    try:
        return len(inspect.signature(call).parameters) >= 3 and inspect.iscoroutinefunction(call)
    except (TypeError, ValueError):
        return False


def _guard(inner: Endpoint) -> CallNext:
    async def call_next(request: HTTPRequest) -> HTTPResponse:
        try:
            return await inner(request)
        except Exception as exc:  # noqa: BLE001 - rendered into the error response
            return error_response(exc, request)

    return call_next


def build_chain(middleware: Iterable[Middleware], endpoint: Endpoint) -> Endpoint:
    """Compose ``middleware`` (outermost first) around ``endpoint``; built once at start-up.

    Each layer renders what its middleware (or anything inside it) raises, so the next
    layer out always receives a response — one coroutine frame per layer on the hot path.
    """
    handler: Endpoint = _guard(endpoint)
    for mw in reversed(list(middleware)):
        handler = _bind(mw, handler)
    return handler


def _bind(mw: Middleware, call_next: CallNext) -> Endpoint:
    async def layer(request: HTTPRequest) -> HTTPResponse:
        try:
            return await mw(request, call_next)
        except Exception as exc:  # noqa: BLE001 - rendered into the error response
            return error_response(exc, request)

    layer.__qualname__ = f"layer[{mw!r}]"
    return layer


def route_middleware(*middleware: Any) -> Callable[[Any], Any]:
    """Decorate a handler with middleware that runs for that route only (inside app-wide ones)."""
    normalised = [as_middleware(m) for m in middleware]

    def decorator(fn: Any) -> Any:
        existing = list(getattr(fn, "__conduit_middleware__", ()))
        fn.__conduit_middleware__ = normalised + existing
        return fn

    return decorator


# --- the seed's built-in middleware --------------------------------------------------------


class LoggerMiddleware:
    """Logs ``METHOD /path`` on the way in and ``-> status`` on the way out."""

    def __init__(self, prefix: str = "[REQUEST]", logger: logging.Logger | None = None) -> None:
        self.prefix = prefix
        self.logger = logger or logging.getLogger("conduit.access")

    async def __call__(self, request: HTTPRequest, call_next: CallNext) -> HTTPResponse:
        self.logger.info("%s %s %s", self.prefix, request.method, request.path)
        response = await call_next(request)
        self.logger.info("%s -> %d", self.prefix, response.status_code)
        return response


class CORSMiddleware:
    """The seed's simple CORS: one allowed origin, headers on every response.

    ``conduit.framework.security.enable_cors`` is the full version (origin lists,
    credentials, preflight caching).
    """

    def __init__(
        self,
        origin: str = "*",
        methods: str = "GET, POST, PUT, DELETE, OPTIONS",
        headers: str = "Content-Type, Authorization",
    ) -> None:
        self.origin = origin
        self.methods = methods
        self.allow_headers = headers

    async def __call__(self, request: HTTPRequest, call_next: CallNext) -> HTTPResponse:
        if request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
            response = HTTPResponse(204)
        else:
            response = await call_next(request)
        h = response.headers
        h["Access-Control-Allow-Origin"] = self.origin
        h["Access-Control-Allow-Methods"] = self.methods
        h["Access-Control-Allow-Headers"] = self.allow_headers
        if self.origin != "*":
            h["Vary"] = "Origin"
        return response


class TimingMiddleware:
    """Sets ``X-Response-Time`` to the real time spent inside (e.g. ``1.27ms``)."""

    def __init__(self, header: str = "X-Response-Time") -> None:
        self.header = header

    async def __call__(self, request: HTTPRequest, call_next: CallNext) -> HTTPResponse:
        start = time.perf_counter()
        response = await call_next(request)
        response.headers[self.header] = f"{(time.perf_counter() - start) * 1000:.2f}ms"
        return response


class RequestIDMiddleware:
    """Echoes the request id (taken from ``X-Request-ID`` when sane) on every response."""

    def __init__(self, header: str = "X-Request-ID") -> None:
        self.header = header

    async def __call__(self, request: HTTPRequest, call_next: CallNext) -> HTTPResponse:
        response = await call_next(request)
        response.headers[self.header] = request.request_id
        return response


def logger_middleware(prefix: str = "[REQUEST]") -> LoggerMiddleware:
    return LoggerMiddleware(prefix)


def cors_middleware(origin: str = "*") -> CORSMiddleware:
    return CORSMiddleware(origin)


def timing_middleware() -> TimingMiddleware:
    return TimingMiddleware()


def request_id_middleware(header: str = "X-Request-ID") -> RequestIDMiddleware:
    return RequestIDMiddleware(header)
