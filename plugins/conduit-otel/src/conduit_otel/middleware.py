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
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, StreamingResponse
from conduit_otel import semconv as sc
from conduit_otel.propagation import HeadersGetter
from conduit_otel.runtime import OtelRuntime

__all__ = ["OtelMiddleware", "PathFilter"]

_GETTER = HeadersGetter()
_perf_counter = time.perf_counter


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
    """``(request, call_next)`` middleware bound to one app's :class:`OtelRuntime`."""

    def __init__(self, runtime: OtelRuntime, path_filter: PathFilter) -> None:
        self.runtime = runtime
        self.filter = path_filter
        self.body_sizes = runtime.config.body_size_metrics
        self._w3c_only = tuple(runtime.config.propagators) in (("tracecontext", "baggage"), ("tracecontext",))
        self._next_sync = 0.0

    def __repr__(self) -> str:
        return "conduit-otel middleware"

    async def __call__(self, request: HTTPRequest, call_next: Any) -> HTTPResponse:
        runtime = self.runtime
        if not runtime.started or self.filter.excluded(request):
            return await call_next(request)
        start = _perf_counter()
        method, extra = sc.method_attributes(request.method)
        scheme = request.scheme
        route = request.route
        template = sc.route_template(route.path) if route is not None else None
        protocol = request.http_version
        metric_attrs: dict[str, Any] = {
            sc.HTTP_REQUEST_METHOD: method,
            sc.URL_SCHEME: scheme,
            sc.NETWORK_PROTOCOL_VERSION: protocol,
        }
        if template is not None:
            metric_attrs[sc.HTTP_ROUTE] = template
        http = runtime.http
        if http is not None:
            http.active_requests.add(method, scheme, 1)
            bridge = runtime.bridge
            if bridge is not None and start >= self._next_sync:
                self._next_sync = start + bridge.resync_seconds
                bridge.sync()

        span = None
        ctx_token = None
        tracer = runtime.tracer
        if tracer is not None:
            headers = request.headers
            if self._w3c_only and "traceparent" not in headers and "baggage" not in headers:
                parent = None
            else:
                parent = runtime.propagator.extract(headers, getter=_GETTER)
            attrs = dict(metric_attrs)
            attrs[sc.URL_PATH] = request.path
            if request.query_string:
                attrs[sc.URL_QUERY] = request.query_string
            host, port = sc.server_address(headers.get("host", ""), scheme)
            if not host and request.server is not None:  # no Host header: the local address
                host, port = request.server
            if host:
                attrs[sc.SERVER_ADDRESS] = host
            if port is not None:
                attrs[sc.SERVER_PORT] = port
            client = request.client
            if client is not None and client[0]:
                attrs[sc.CLIENT_ADDRESS] = client[0]
            agent = headers.get("user-agent")
            if agent:
                attrs[sc.USER_AGENT_ORIGINAL] = agent
            if extra:
                attrs.update(extra)
            span = tracer.start_span(
                sc.span_name(method, template), context=parent, kind=SpanKind.SERVER, attributes=attrs
            )
            ctx_token = otel_context.attach(trace.set_span_in_context(span, parent))
        rt_token = runtime.activate()
        try:
            response = await call_next(request)
        except BaseException as exc:  # call_next renders errors; this is cancellation
            self._finish(span, None, start, metric_attrs, request, None, type(exc).__qualname__)
            raise
        finally:
            runtime.deactivate(rt_token)
            if ctx_token is not None:
                otel_context.detach(ctx_token)
        if response.is_streaming:
            response.content = self._watch_stream(response, span, start, metric_attrs, request)  # type: ignore[attr-defined]
        else:
            self._finish(span, response, start, metric_attrs, request, len(response.body), None)
        return response

    def _finish(
        self,
        span: Any,
        response: HTTPResponse | None,
        start: float,
        metric_attrs: dict[str, Any],
        request: HTTPRequest,
        response_size: int | None,
        error_type: str | None,
    ) -> None:
        duration = _perf_counter() - start
        status = response.status_code if response is not None else None
        if status is not None:
            metric_attrs[sc.HTTP_RESPONSE_STATUS_CODE] = status
            if status >= 500 and error_type is None:
                state = request._state  # noqa: SLF001 - None unless something stored state
                exc = state.get("exception") if state is not None else None
                error_type = type(exc).__qualname__ if exc is not None else str(status)
        if error_type is not None:
            metric_attrs[sc.ERROR_TYPE] = error_type
        if span is not None:
            if status is not None:
                span.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, status)
            if error_type is not None:
                span.set_attribute(sc.ERROR_TYPE, error_type)
                span.set_status(Status(StatusCode.ERROR))
            span.end()
        http = self.runtime.http
        if http is not None:
            http.duration.record(duration, metric_attrs)
            http.active_requests.add(metric_attrs[sc.HTTP_REQUEST_METHOD], metric_attrs[sc.URL_SCHEME], -1)
            if self.body_sizes:
                length = request.headers.get("content-length")
                if length is not None and length.isdigit():
                    http.request_body_size.record(int(length), metric_attrs)
                if response_size is not None:
                    http.response_body_size.record(response_size, metric_attrs)

    def _watch_stream(
        self, response: Any, span: Any, start: float, metric_attrs: dict[str, Any], request: HTTPRequest
    ) -> Any:
        """Wrap a streamed body so its span and measurements end with its last chunk."""
        content = response.content
        # A subclass that frames items itself (server-sent events) sends more than it is given.
        tally = _Tally(type(response).iter_bytes is StreamingResponse.iter_bytes)

        def done(error: BaseException | None) -> None:
            size = tally.size if tally.countable else None
            self._finish(span, response, start, metric_attrs, request, size, type(error).__qualname__ if error else None)

        if hasattr(content, "__aiter__"):

            async def watched_async() -> AsyncIterator[Any]:
                error: BaseException | None = None
                try:
                    async for chunk in content:
                        yield tally.add(chunk)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    done(error)

            return watched_async()

        def watched_sync() -> Iterator[Any]:
            error: BaseException | None = None
            try:
                for chunk in content:
                    yield tally.add(chunk)
            except BaseException as exc:
                error = exc
                raise
            finally:
                done(error)

        return watched_sync()


class _Tally:
    """Counts the bytes of a streamed body as its chunks pass."""

    __slots__ = ("countable", "size")

    def __init__(self, countable: bool) -> None:
        self.countable = countable
        self.size = 0

    def add(self, chunk: Any) -> Any:
        if self.countable:
            self.size += len(chunk.encode("utf-8")) if isinstance(chunk, str) else len(chunk)
        return chunk
