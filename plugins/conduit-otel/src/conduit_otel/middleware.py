"""The server span and HTTP metrics of every request, as the outermost middleware.

One pass per request: extract the W3C context from the headers, start a ``SERVER`` span
named ``METHOD /route/template`` with the stable HTTP attributes, make it current for
the handler (so ``conduit.telemetry.span`` and ``@traced`` spans are its children),
count the request active, and on the way out set the status code, ``error.type`` and
status ERROR for 5xx, record ``http.server.request.duration`` and body sizes. A
streamed response ends its span and measurements when its last chunk was produced.
Excluded paths (health, metrics by default) pass straight through.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode

from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, StreamingResponse
from conduit_otel import semconv as sc
from conduit_otel.propagation import HeadersGetter
from conduit_otel.runtime import OtelRuntime
from conduit_otel.sampling import TRACE_ID_LIMIT, draw_span_id, draw_trace_id

__all__ = ["OtelMiddleware", "PathFilter"]

_GETTER = HeadersGetter()
_perf_counter = time.perf_counter
_current_span = trace.get_current_span
_MAX_SHAPES = 1024  # distinct (method, route, scheme, protocol, Host) combinations cached
_MAX_FINISHED = 64  # (status, error.type) attribute sets cached per combination


class PathFilter:
    """Decides which requests are left alone: exact paths, ``prefix/*`` patterns and
    ``OTEL_PYTHON_EXCLUDED_URLS`` regular expressions (searched in the full URL)."""

    def __init__(self, paths: Iterable[str], url_patterns: Iterable[str] = ()) -> None:
        exact: set[str] = set()
        prefixes: list[str] = []
        for path in paths:
            if path.endswith("*"):
                prefixes.append(path[:-1])
            else:
                exact.add(path)
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)
        patterns = list(url_patterns)
        self.url_pattern = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None

    def excluded(self, request: HTTPRequest) -> bool:
        path = request.path
        if path in self.exact or (self.prefixes and path.startswith(self.prefixes)):
            return True
        return self.url_pattern is not None and self.url_pattern.search(request.url) is not None


class OtelMiddleware:
    """``(request, call_next)`` middleware bound to one app's :class:`OtelRuntime`.

    The per-request work is kept to what varies per request: what a (method, route,
    scheme, protocol, ``Host``) combination shares — span name, the fixed span
    attributes, the metric attribute sets per (status, ``error.type``) — is computed once
    and cached (bounded: past :data:`_MAX_SHAPES` combinations, e.g. a client inventing
    ``Host`` values, it is computed per request instead). The SDK gets one
    ``attributes=`` dict at span start, the propagator runs only when a request carries
    trace context, and a span the sampler dropped is not touched again.
    """

    def __init__(self, runtime: OtelRuntime, path_filter: PathFilter) -> None:
        self.runtime = runtime
        self.filter = path_filter
        self.body_sizes = runtime.config.body_size_metrics
        propagators = tuple(runtime.config.propagators)
        self._w3c_only = propagators in (("tracecontext", "baggage"), ("tracecontext",), ("baggage",), ("none",), ())
        self._next_sync = 0.0
        self._shapes: dict[tuple[Any, ...], _Shape] = {}

    def __repr__(self) -> str:
        return "conduit-otel middleware"

    def _shape(self, request: HTTPRequest, host_header: str) -> _Shape:
        route = request.route
        pattern = route.path if route is not None else None
        server = None if host_header else request.server
        key = (request.method, pattern, request.scheme, request.http_version, host_header, server)
        shape = self._shapes.get(key)
        if shape is None:
            template = sc.route_template(pattern) if pattern is not None else None
            shape = _Shape(request.method, template, request.scheme, request.http_version, host_header, server)
            if len(self._shapes) < _MAX_SHAPES:
                self._shapes[key] = shape
        return shape

    async def __call__(self, request: HTTPRequest, call_next: Any) -> HTTPResponse:
        runtime = self.runtime
        if not runtime.started or self.filter.excluded(request):
            return await call_next(request)
        start = _perf_counter()
        headers = request.headers
        shape = self._shape(request, headers.get("host") or "")
        http = runtime.http
        if http is not None:
            http.active_requests.add(shape.method, shape.scheme, 1)
            bridge = runtime.bridge
            if bridge is not None and start >= self._next_sync:
                self._next_sync = start + bridge.resync_seconds
                bridge.sync()

        span = None
        ctx_token = None
        tracer = runtime.tracer
        if tracer is not None:
            if self._w3c_only and "traceparent" not in headers and "baggage" not in headers:
                parent = None  # nothing to extract: the span is a root (or a child of the current one)
                bound = runtime.root_bound
                if bound is not None and not _current_span().get_span_context().is_valid:
                    trace_id = draw_trace_id()  # a root: the ratio rule decides on its id alone
                    if (trace_id & TRACE_ID_LIMIT) >= bound:
                        unsampled = NonRecordingSpan(SpanContext(trace_id, draw_span_id(), is_remote=False))
                        ctx_token = otel_context.attach(trace.set_span_in_context(unsampled))
                        tracer = None  # sampled out: the SDK would make this same span and drop it
                    else:
                        runtime.ids.preset(trace_id)  # type: ignore[union-attr] # the SDK's sampler agrees
            else:
                parent = runtime.propagator.extract(headers, getter=_GETTER)
        if tracer is not None:
            attrs = shape.span_attrs.copy()
            attrs[sc.URL_PATH] = request.path
            if request.query_string:
                attrs[sc.URL_QUERY] = request.query_string
            client = request.client
            if client is not None and client[0]:
                attrs[sc.CLIENT_ADDRESS] = client[0]
            agent = headers.get("user-agent")
            if agent:
                attrs[sc.USER_AGENT_ORIGINAL] = agent
            span = tracer.start_span(shape.span_name, context=parent, kind=SpanKind.SERVER, attributes=attrs)
            ctx_token = otel_context.attach(trace.set_span_in_context(span, parent))
            if not span.is_recording():  # sampled out: nothing more to record on it
                span = None
        rt_token = runtime.activate()
        try:
            response = await call_next(request)
        except BaseException as exc:  # call_next renders errors; this is cancellation
            self._finish(span, shape, None, start, request, None, type(exc).__qualname__)
            raise
        finally:
            runtime.deactivate(rt_token)
            if ctx_token is not None:
                otel_context.detach(ctx_token)
        if response.is_streaming:
            response.content = self._watch_stream(response, span, shape, start, request)  # type: ignore[attr-defined]
        else:
            self._finish(span, shape, response, start, request, len(response.body), None)
        return response

    def _finish(
        self,
        span: Any,
        shape: _Shape,
        response: HTTPResponse | None,
        start: float,
        request: HTTPRequest,
        response_size: int | None,
        error_type: str | None,
    ) -> None:
        duration = _perf_counter() - start
        status = response.status_code if response is not None else None
        if status is not None and status >= 500 and error_type is None:
            exc = request.exception
            error_type = type(exc).__qualname__ if exc is not None else str(status)
        if span is not None:
            if error_type is None:
                if status is not None:
                    span.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, status)
            else:
                end_attrs: dict[str, Any] = {sc.ERROR_TYPE: error_type}
                if status is not None:
                    end_attrs[sc.HTTP_RESPONSE_STATUS_CODE] = status
                span.set_attributes(end_attrs)
                span.set_status(Status(StatusCode.ERROR))
            span.end()
        http = self.runtime.http
        if http is not None:
            cells = shape.finished_cells(http, status, error_type)
            http.duration.record(cells.duration, duration)
            http.active_requests.add(shape.method, shape.scheme, -1)
            if self.body_sizes:
                length = request.headers.get("content-length")
                if length is not None and length.isdigit():
                    http.request_body_size.record(cells.request_size, int(length))
                if response_size is not None:
                    http.response_body_size.record(cells.response_size, response_size)

    def _watch_stream(self, response: Any, span: Any, shape: _Shape, start: float, request: HTTPRequest) -> Any:
        """Wrap a streamed body so its span and measurements end with its last chunk."""
        content = response.content

        def done(size: int | None, error: BaseException | None) -> None:
            error_type = type(error).__qualname__ if error is not None else None
            self._finish(span, shape, response, start, request, size, error_type)

        # A subclass that frames items itself (server-sent events) sends more than it is given.
        tally = _Tally(type(response).iter_bytes is StreamingResponse.iter_bytes, done)

        if hasattr(content, "__aiter__"):

            async def watched_async() -> AsyncIterator[Any]:
                with tally:
                    async for chunk in content:
                        yield tally.add(chunk)

            return watched_async()

        def watched_sync() -> Iterator[Any]:
            with tally:
                for chunk in content:
                    yield tally.add(chunk)

        return watched_sync()


class _Shape:
    """What every request of one (method, route, scheme, protocol, Host) shares, computed once:
    the span name, the span's start attributes that do not vary, the metric attributes."""

    __slots__ = ("cells", "finished", "method", "metric_attrs", "scheme", "span_attrs", "span_name")

    def __init__(self, raw_method: str, template: str | None, scheme: str, protocol: str, host_header: str,
                 server: Any) -> None:
        method, extra = sc.method_attributes(raw_method)
        self.method = method
        self.scheme = scheme
        self.span_name = sc.span_name(method, template)
        metric_attrs: dict[str, Any] = {
            sc.HTTP_REQUEST_METHOD: method,
            sc.URL_SCHEME: scheme,
            sc.NETWORK_PROTOCOL_VERSION: protocol,
        }
        if template is not None:
            metric_attrs[sc.HTTP_ROUTE] = template
        self.metric_attrs = metric_attrs
        span_attrs = dict(metric_attrs)
        host, port = sc.server_address(host_header, scheme)
        if not host and server is not None:  # no Host header: the local address
            host, port = server
        if host:
            span_attrs[sc.SERVER_ADDRESS] = host
        if port is not None:
            span_attrs[sc.SERVER_PORT] = port
        if extra:
            span_attrs.update(extra)
        self.span_attrs = span_attrs
        # (status, error.type) -> the metric attributes of a finished request
        self.finished: dict[tuple[int | None, str | None], dict[str, Any]] = {}
        # (status, error.type) -> the histogram cells of that attribute set
        self.cells: dict[tuple[int | None, str | None], _Cells] = {}

    def finished_attrs(self, status: int | None, error_type: str | None) -> dict[str, Any]:
        key = (status, error_type)
        attrs = self.finished.get(key)
        if attrs is None:
            attrs = dict(self.metric_attrs)
            if status is not None:
                attrs[sc.HTTP_RESPONSE_STATUS_CODE] = status
            if error_type is not None:
                attrs[sc.ERROR_TYPE] = error_type
            if len(self.finished) < _MAX_FINISHED:
                self.finished[key] = attrs
        return attrs

    def finished_cells(self, http: Any, status: int | None, error_type: str | None) -> _Cells:
        """The cells of ``http``'s three histograms for a finished request's attributes."""
        key = (status, error_type)
        cells = self.cells.get(key)
        if cells is None or cells.owner is not http:  # new, or made by a runtime since restarted
            cells = _Cells(http, self.finished_attrs(status, error_type))
            if key in self.cells or len(self.cells) < _MAX_FINISHED:
                self.cells[key] = cells
        return cells


class _Cells:
    """One attribute set's cells in the three per-request histograms of one runtime."""

    __slots__ = ("duration", "owner", "request_size", "response_size")

    def __init__(self, http: Any, attrs: dict[str, Any]) -> None:
        self.owner = http
        self.duration = http.duration.cell(attrs)
        self.request_size = http.request_body_size.cell(attrs)
        self.response_size = http.response_body_size.cell(attrs)


class _Tally:
    """Counts the bytes of a streamed body as its chunks pass. As ``with tally:`` around the
    iteration it calls ``done(size, error)`` when the body ends, however it ends (``size`` is
    None when the chunks are not what is sent; ``error`` None when the body ran out)."""

    __slots__ = ("countable", "done", "size")

    def __init__(self, countable: bool, done: Callable[[int | None, BaseException | None], None]) -> None:
        self.countable = countable
        self.done = done
        self.size = 0

    def add(self, chunk: Any) -> Any:
        if self.countable:
            self.size += len(chunk.encode("utf-8")) if isinstance(chunk, str) else len(chunk)
        return chunk

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        self.done(self.size if self.countable else None, error)
