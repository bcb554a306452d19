"""Monitoring: metrics, request logging, health probes and the metrics endpoint.

The seed's import path for the whole kit::

    from conduit.framework.monitoring import (
        Metrics, _metrics, MLMetrics, _health_check,
        create_health_endpoint, create_metrics_endpoint, logging_middleware,
    )

``_metrics`` and ``_health_check`` are the process-wide instances the endpoints use
unless given others. :func:`add_health_routes` and :func:`add_metrics_routes` mount the
endpoints at ``/health``, ``/health/live|ready|startup`` and ``/metrics``, ``/v1/metrics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from time import perf_counter
from typing import Any

from conduit.framework.errors import BadRequestError
from conduit.framework.exposition import CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE
from conduit.framework.health import CheckResult, HealthCheck, HealthReport
from conduit.framework.metrics import (
    UNMATCHED_ROUTE,
    HistogramStats,
    Metrics,
    MetricsError,
    PluginSample,
)
from conduit.framework.ml_metrics import MLMetrics
from conduit.http.middleware import PhasedMiddleware
from conduit.http.response import HTTPResponse
from conduit.telemetry import plugin_metrics

__all__ = [
    "CheckResult",
    "HealthCheck",
    "HealthEndpoint",
    "HealthReport",
    "HistogramStats",
    "LoggingMiddleware",
    "MLMetrics",
    "Metrics",
    "MetricsEndpoint",
    "MetricsError",
    "RequestMetricsMiddleware",
    "_health_check",
    "_metrics",
    "add_health_routes",
    "add_metrics_routes",
    "create_health_endpoint",
    "create_metrics_endpoint",
    "kernel_metrics",
    "logging_middleware",
    "observe_request",
    "request_metrics_middleware",
]

logger = logging.getLogger("conduit.monitoring")

_metrics = Metrics()
_health_check = HealthCheck()


def kernel_metrics() -> Metrics:
    """The process's built-in request metrics: what ``/metrics`` shows and the built-in
    request metrics middleware records into (the seed's ``_metrics``)."""
    return _metrics


def _route_of(request: Any) -> str:
    route = getattr(request, "route", None)
    return route.path if route is not None else UNMATCHED_ROUTE


def observe_request(request: Any, response: Any, duration: float, metrics: Metrics | None = None) -> None:
    """Record one served request (for a ``conduit_request_finished`` hookimpl).

    Labels use the route's pattern (``/users/{id}``), never the raw path, so the number
    of series stays bounded.
    """
    (metrics or _metrics).record_request(
        duration, method=request.method, route=_route_of(request), status=response.status_code
    )


class RequestMetricsMiddleware(PhasedMiddleware):
    """Records latency, throughput and per-route counts of every request it sees.

    The ``monitoring`` setting does not use it: the app counts every request into
    :attr:`Conduit.request_metrics` itself, without a middleware layer. This class is for
    counting into another registry, or only on some routes.
    """

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or _metrics

    def before(self, request: Any) -> float:
        return perf_counter()

    def after(self, request: Any, response: HTTPResponse, start: float) -> None:
        end = perf_counter()
        self.metrics.record_request(end - start, method=request.method, route=_route_of(request),
                                    status=response.status_code, end=end)


def request_metrics_middleware(metrics: Metrics | None = None) -> RequestMetricsMiddleware:
    return RequestMetricsMiddleware(metrics)


class LoggingMiddleware(PhasedMiddleware):
    """Logs one line per request: method, path, status, real duration and request id.

    The query string is left out (it may carry tokens). Streamed responses are timed to
    their first byte.
    """

    def __init__(self, logger: logging.Logger | None = None, *, level: int = logging.INFO) -> None:
        self.logger = logger or logging.getLogger("conduit.access")
        self.level = level

    def before(self, request: Any) -> float:
        return time.perf_counter()

    def after(self, request: Any, response: HTTPResponse, start: float) -> None:
        if self.logger.isEnabledFor(self.level):
            ms = (time.perf_counter() - start) * 1000
            self.logger.log(
                self.level,
                "%s %s -> %d in %.2fms [request_id=%s]",
                request.method,
                request.path,
                response.status_code,
                ms,
                request.request_id,
                extra={
                    "http_method": request.method,
                    "http_path": request.path,
                    "http_status": response.status_code,
                    "duration_ms": ms,
                    "request_id": request.request_id,
                },
            )


def logging_middleware(logger: logging.Logger | None = None, *, level: int = logging.INFO) -> LoggingMiddleware:
    """The seed's request logger (``app.use(logging_middleware())``)."""
    return LoggingMiddleware(logger, level=level)


# --- /metrics ------------------------------------------------------------------------------------


class MetricsEndpoint:
    """Serves seed 003's JSON document, or Prometheus text for ``?format=prometheus``
    or an ``Accept`` that asks for ``text/plain`` / OpenMetrics (as Prometheus does).

    Samples from plugins' ``conduit_metrics`` hookimpls are included in the text format.
    """

    def __init__(self, metrics: Metrics | None = None, *, include_plugins: bool = True) -> None:
        self.metrics = metrics or _metrics
        self.include_plugins = include_plugins

    @staticmethod
    def wants_prometheus(request: Any) -> bool:
        fmt = request.query.get("format")
        if fmt:
            fmt = fmt.lower()
            if fmt in ("prometheus", "text"):
                return True
            if fmt == "json":
                return False
            raise BadRequestError(
                "Unknown metrics format", "use ?format=json or ?format=prometheus", code="bad_metrics_format"
            )
        accept = request.headers.get("accept", "").lower()
        if "application/json" in accept:
            return False
        return "text/plain" in accept or "application/openmetrics-text" in accept

    def plugin_samples(self, request: Any) -> Sequence[PluginSample]:
        app = getattr(request, "app", None)
        if not self.include_plugins or app is None or not hasattr(app, "plugin_manager"):
            return []
        return plugin_metrics(app)

    def __call__(self, request: Any, response: HTTPResponse | None = None) -> HTTPResponse:
        response = response if response is not None else HTTPResponse()
        response.headers["Cache-Control"] = "no-store"
        share = self.metrics.share  # several workers: answer for all of them
        metrics = share.merged() if share is not None else self.metrics
        if self.wants_prometheus(request):
            response.body = metrics.export_metrics_prometheus(self.plugin_samples(request))
            response.headers["Content-Type"] = PROMETHEUS_CONTENT_TYPE
            return response
        return response.json(metrics.export_metrics_json())


def create_metrics_endpoint(metrics: Metrics | None = None, *, include_plugins: bool = True) -> MetricsEndpoint:
    """A handler ``(request, response)`` serving the metrics (seed 000 and 003)."""
    return MetricsEndpoint(metrics, include_plugins=include_plugins)


# --- /health ---------------------------------------------------------------------------------------


class HealthEndpoint:
    """Answers the probes by the path it is mounted at:

    - ``…/live``: 200 while the process serves (runs no checks);
    - ``…/startup``: the checks registered with ``startup=True``;
    - ``…/ready`` and anything else (``/health``): every check, including those plugins
      registered through ``conduit_register_health_checks``.

    A failing check gives 503 with ``failing`` naming it.
    """

    def __init__(self, health: HealthCheck | None = None, *, include_app_checks: bool = True) -> None:
        self.health = health or _health_check
        self.include_app_checks = include_app_checks

    def __call__(self, request: Any, response: HTTPResponse | None = None) -> HTTPResponse:
        response = response if response is not None else HTTPResponse()
        response.headers["Cache-Control"] = "no-store"
        path = request.path.rstrip("/")
        if path.endswith("/live"):
            return response.json({"status": "alive"}, status_code=200)
        app = getattr(request, "app", None)
        extra = getattr(app, "health_checks", None) if self.include_app_checks else None
        report = self.health.run_checks(startup_only=path.endswith("/startup"), extra=extra)
        if not report.ok:
            logger.warning("health check failing: %s", ", ".join(report.failing))
        return response.json(report.to_dict(), status_code=200 if report.ok else 503)


def create_health_endpoint(health: HealthCheck | None = None, *, include_app_checks: bool = True) -> HealthEndpoint:
    """A handler ``(request, response)`` for ``/health`` and its probes (seed 000 and 001)."""
    return HealthEndpoint(health, include_app_checks=include_app_checks)


def add_health_routes(app: Any, prefix: str = "/health", health: HealthCheck | None = None) -> None:
    """Mount ``prefix``, ``prefix/live``, ``prefix/ready`` and ``prefix/startup``."""
    endpoint = create_health_endpoint(health)
    for path in (prefix, f"{prefix}/live", f"{prefix}/ready", f"{prefix}/startup"):
        app.get(path, tags=["health"], summary="Health probe")(endpoint)


def add_metrics_routes(
    app: Any, paths: Iterable[str] = ("/metrics", "/v1/metrics"), metrics: Metrics | None = None
) -> None:
    """Mount the metrics endpoint at each of ``paths``."""
    endpoint = create_metrics_endpoint(metrics)
    for path in paths:
        app.get(path, tags=["monitoring"], summary="Metrics (JSON or Prometheus text)")(endpoint)
