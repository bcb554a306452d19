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

Middleware that needs no code *around* ``call_next`` — only before it, after it, or
both — can say so by subclassing :class:`PhasedMiddleware` (``before(request)`` and
``after(request, response, context)``). It behaves exactly as the onion above, but
:func:`build_chain` fuses neighbouring phased middleware into one layer: one coroutine
frame for the run instead of two per middleware. Most of the production kit is written
this way (docs/middleware.md, "Phased middleware").
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, error_response

__all__ = [
    "CORSMiddleware",
    "CallNext",
    "ErrorHandlerMiddleware",
    "LoggerMiddleware",
    "Middleware",
    "PhasedMiddleware",
    "RequestIDMiddleware",
    "TimingMiddleware",
    "as_middleware",
    "build_chain",
    "cors_middleware",
    "error_handler",
    "logger_middleware",
    "request_id_middleware",
    "route_middleware",
    "timing_middleware",
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
    if isinstance(obj, PhasedMiddleware):
        return obj
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


class PhasedMiddleware(abc.ABC):
    """Middleware in two plain phases, which :func:`build_chain` can fuse with its neighbours.

    ``before(request)`` runs on the way in (sync, or ``async def``). It returns an
    :class:`HTTPResponse` to answer at once (inner layers and the handler are skipped, and
    this middleware's own ``after`` does not run), or any other value — a *context*, such as
    a start time — that is handed to ``after``. Raising renders the error at this boundary.

    ``after(request, response, context)`` runs on the way out (sync) with the response of
    the inner layers, error responses included. It changes ``response`` in place and returns
    ``None``, or returns another :class:`HTTPResponse` to replace it.

    Override either phase or both. An instance is also an ordinary ``(request, call_next)``
    middleware, so it can be called directly or used as route middleware. A class that
    cannot inherit from this one registers instead (``PhasedMiddleware.register(cls)``)
    and then defines ``before`` and/or ``after`` and its own ``__call__``.
    """

    def before(self, request: HTTPRequest) -> Any:
        return None

    def after(self, request: HTTPRequest, response: HTTPResponse, context: Any) -> HTTPResponse | None:
        return None

    # Optional third phase: ``cancelled(request, context) -> HTTPResponse | None``, called
    # instead of ``after`` when the inner layers were cancelled (asyncio.CancelledError).
    # Return a response to answer with (the cancellation ends here), raise to answer with
    # the error's response, or return None to let the cancellation go on. request_timeout
    # uses it to turn its own deadline's cancellation into a 504.

    async def __call__(self, request: HTTPRequest, call_next: CallNext) -> HTTPResponse:
        context = self.before(request)
        if inspect.isawaitable(context):
            context = await context
        if isinstance(context, HTTPResponse):
            return context
        try:
            response = await call_next(request)
        except asyncio.CancelledError:
            cancelled = getattr(self, "cancelled", None)
            answer = cancelled(request, context) if cancelled is not None else None
            if answer is None:
                raise
            return answer
        result = self.after(request, response, context)
        return response if result is None else result


class ErrorHandlerMiddleware(PhasedMiddleware):
    """The seed's ``error_handler()``: turns any exception from inner layers into JSON.

    The kernel already does this at every middleware boundary, so this middleware is
    kept for the seed's API (``conduit.framework.errors.error_handler``); it also lets an app
    choose whether 500 responses include the exception's class name (``expose_type=True``,
    off by default).
    """

    def __init__(self, expose_type: bool = False) -> None:
        self.expose_type = expose_type

    def before(self, request: HTTPRequest) -> None:
        # Inner boundaries render errors before they reach this layer; they read this flag.
        if self.expose_type:
            request.state.expose_error_type = True


def error_handler(expose_type: bool = False) -> ErrorHandlerMiddleware:
    """Middleware rendering every error as JSON (the kernel does this by default too)."""
    return ErrorHandlerMiddleware(expose_type=expose_type)


def _phases(mw: PhasedMiddleware) -> tuple[Any, bool, Any, Any]:
    """``(before, before is async, after, cancelled)``, None for a phase not defined."""
    cls = type(mw)
    own_before = getattr(cls, "before", PhasedMiddleware.before)
    own_after = getattr(cls, "after", PhasedMiddleware.after)
    before = mw.before if own_before is not PhasedMiddleware.before else None
    after = mw.after if own_after is not PhasedMiddleware.after else None
    return before, before is not None and inspect.iscoroutinefunction(before), after, getattr(mw, "cancelled", None)


def _guard(inner: Endpoint) -> CallNext:
    async def call_next(request: HTTPRequest) -> HTTPResponse:
        try:
            return await inner(request)
        except Exception as exc:  # noqa: BLE001 - rendered as this request's error response
            return error_response(exc, request)

    return call_next


def build_chain(middleware: Iterable[Middleware], endpoint: Endpoint) -> Endpoint:
    """Compose ``middleware`` (outermost first) around ``endpoint``; built once at start-up.

    Each layer renders what its middleware (or anything inside it) raises, so the next
    layer out always receives a response. A run of neighbouring :class:`PhasedMiddleware`
    becomes one layer; any other middleware is one coroutine frame of its own.
    """
    layers: list[Any] = []  # middleware, or a list of neighbouring phased ones
    for mw in middleware:
        if isinstance(mw, PhasedMiddleware):
            if layers and isinstance(layers[-1], list):
                layers[-1].append(mw)
            else:
                layers.append([mw])
        else:
            layers.append(mw)
    handler: Endpoint = endpoint
    guarded = False  # a fused layer renders what its inner callable raises itself
    for layer in reversed(layers):
        if isinstance(layer, list):
            handler, guarded = _fuse(layer, handler), True
        else:
            handler, guarded = _bind(layer, handler if guarded else _guard(handler)), True
    return handler if guarded else _guard(handler)


def _bind(mw: Middleware, call_next: CallNext) -> Endpoint:
    async def layer(request: HTTPRequest) -> HTTPResponse:
        try:
            return await mw(request, call_next)
        except Exception as exc:  # noqa: BLE001 - rendered as this request's error response
            return error_response(exc, request)

    layer.__qualname__ = f"layer[{mw!r}]"
    return layer


def _fuse(run: list[PhasedMiddleware], inner: Endpoint) -> Endpoint:
    """One layer for neighbouring phased middleware, with the onion's semantics.

    A ``before`` that answers or raises skips the inner layers; the ``after`` of every
    middleware whose ``before`` passed runs, innermost first, and an ``after`` that raises
    replaces the response with its error response, which the outer ones then see.
    """
    phases = [_phases(mw) for mw in run]
    befores = tuple((before, is_async) for before, is_async, _, _ in phases)
    afters = tuple(after for _, _, after, _ in phases)
    cancels = tuple(cancelled for _, _, _, cancelled in phases)

    async def fused(request: HTTPRequest) -> HTTPResponse:
        contexts: list[Any] = []  # one per middleware whose before passed, outermost first
        try:
            for before, is_async in befores:
                if before is None:
                    contexts.append(None)
                    continue
                context = await before(request) if is_async else before(request)
                if isinstance(context, HTTPResponse):
                    response = context
                    break
                contexts.append(context)
            else:
                response = await inner(request)
        except Exception as exc:  # noqa: BLE001 - rendered as this request's error response
            response = error_response(exc, request)
        except asyncio.CancelledError:
            # Offered to the entered middleware with a `cancelled` phase, innermost first,
            # until one answers; the `after`s inside it are skipped (as code after an
            # onion's call_next would be) and the outer ones see its answer.
            i = len(contexts)
            answer = None
            while i and answer is None:
                i -= 1
                cancelled = cancels[i]
                if cancelled is not None:
                    try:
                        answer = cancelled(request, contexts[i])
                    except Exception as exc:  # noqa: BLE001 - rendered as this request's error response
                        answer = error_response(exc, request)
            if answer is None:
                raise
            response = answer
            del contexts[i:]
        i = len(contexts)
        while i:
            i -= 1
            after = afters[i]
            if after is None:
                continue
            try:
                result = after(request, response, contexts[i])
            except Exception as exc:  # noqa: BLE001 - rendered as this request's error response
                result = error_response(exc, request)
            if result is not None:
                response = result
        return response

    fused.__qualname__ = f"fused[{', '.join(repr(mw) for mw in run)}]"
    return fused


def route_middleware(*middleware: Any) -> Callable[[Any], Any]:
    """Decorate a handler with middleware that runs for that route only (inside app-wide ones)."""
    normalised = [as_middleware(m) for m in middleware]

    def decorator(fn: Any) -> Any:
        existing = list(getattr(fn, "__conduit_middleware__", ()))
        fn.__conduit_middleware__ = normalised + existing
        return fn

    return decorator


# --- the seed's built-in middleware --------------------------------------------------------


class LoggerMiddleware(PhasedMiddleware):
    """Logs ``METHOD /path`` on the way in and ``-> status`` on the way out."""

    def __init__(self, prefix: str = "[REQUEST]", logger: logging.Logger | None = None) -> None:
        self.prefix = prefix
        self.logger = logger or logging.getLogger("conduit.access")

    def before(self, request: HTTPRequest) -> None:
        self.logger.info("%s %s %s", self.prefix, request.method, request.path)

    def after(self, request: HTTPRequest, response: HTTPResponse, context: Any) -> None:
        self.logger.info("%s -> %d", self.prefix, response.status_code)


class CORSMiddleware(PhasedMiddleware):
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

    def before(self, request: HTTPRequest) -> HTTPResponse | None:
        if request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
            response = HTTPResponse(204)
            self.after(request, response, None)
            return response
        return None

    def after(self, request: HTTPRequest, response: HTTPResponse, context: Any) -> None:
        h = response.headers
        h["Access-Control-Allow-Origin"] = self.origin
        h["Access-Control-Allow-Methods"] = self.methods
        h["Access-Control-Allow-Headers"] = self.allow_headers
        if self.origin != "*":
            h["Vary"] = "Origin"


class TimingMiddleware(PhasedMiddleware):
    """Sets ``X-Response-Time`` to the real time spent inside (e.g. ``1.27ms``)."""

    def __init__(self, header: str = "X-Response-Time") -> None:
        self.header = header

    def before(self, request: HTTPRequest) -> float:
        return time.perf_counter()

    def after(self, request: HTTPRequest, response: HTTPResponse, start: float) -> None:
        response.headers[self.header] = f"{(time.perf_counter() - start) * 1000:.2f}ms"


class RequestIDMiddleware(PhasedMiddleware):
    """Echoes the request id (taken from ``X-Request-ID`` when sane) on every response."""

    def __init__(self, header: str = "X-Request-ID") -> None:
        self.header = header

    def after(self, request: HTTPRequest, response: HTTPResponse, context: Any) -> None:
        response.headers[self.header] = request.request_id


def logger_middleware(prefix: str = "[REQUEST]") -> LoggerMiddleware:
    return LoggerMiddleware(prefix)


def cors_middleware(origin: str = "*") -> CORSMiddleware:
    return CORSMiddleware(origin)


def timing_middleware() -> TimingMiddleware:
    return TimingMiddleware()


def request_id_middleware(header: str = "X-Request-ID") -> RequestIDMiddleware:
    return RequestIDMiddleware(header)
