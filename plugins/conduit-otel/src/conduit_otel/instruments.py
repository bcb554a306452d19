"""The metric instruments conduit-otel creates, and the router's recording API.

HTTP server metrics follow the stable conventions (``http.server.request.duration`` in
seconds with the advised buckets, ``http.server.active_requests``, request and response
body sizes). ``conduit.operation.duration`` times every ``conduit.telemetry.span`` block
(inference, vector search, MCP tool calls, routing). The seed's router metrics are made
here and recorded by the router plugin::

    from conduit_otel.instruments import router_metrics
    router_metrics().record_decision(model="gpt-4o-mini", domain="code", cost_usd=0.0004,
                                     latency_ms=812.0, confidence=0.91)

``router_metrics()`` answers for the app whose request is running (or the last app
started); with no enabled app it returns a recorder that drops everything at no cost,
so callers never check whether telemetry is on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, NoOpMeter, Observation
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from conduit_otel.aggregation import PreAggregatedHistogram, attach, eligible
from conduit_otel.semconv import DURATION_BUCKETS, HTTP_REQUEST_METHOD, URL_SCHEME

__all__ = ["ActiveRequests", "HttpServerInstruments", "OperationInstruments", "RouterMetrics", "router_metrics"]

_SIZE_UNIT = "By"
_CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
_COST_BUCKETS = (0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)
_LATENCY_MS_BUCKETS = (50, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000, 30000, 60000)


class ActiveRequests:
    """In-flight requests by (method, scheme), read by an observable up-down counter.

    A request adds and removes itself with two dictionary updates instead of two SDK
    measurements (each of which cleans and hashes its attributes); the
    reported value is the same, observed when a reader collects.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def add(self, method: str, scheme: str, delta: int) -> None:
        key = (method, scheme)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + delta

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            items = list(self._counts.items())
        return [
            Observation(count, {HTTP_REQUEST_METHOD: method, URL_SCHEME: scheme}) for (method, scheme), count in items
        ]


class _SdkHistogram:
    """An SDK histogram behind the :class:`~conduit_otel.aggregation.PreAggregatedHistogram`
    calls (``cell`` then ``record``): the attribute dict is the cell."""

    def __init__(self, meter: Meter, name: str, *, unit: str, description: str,
                 bounds: Sequence[float] | None = None) -> None:
        self.name = name
        self.instrument = meter.create_histogram(
            name, unit=unit, description=description,
            explicit_bucket_boundaries_advisory=list(bounds) if bounds is not None else None,
        )

    @staticmethod
    def cell(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
        return attributes

    def record(self, cell: Mapping[str, Any], value: float) -> None:
        self.instrument.record(value, cell)


class HttpServerInstruments:
    """``http.server.*`` instruments of one meter.

    With the app's ``readers`` (and their ``resource``), the three per-request histograms
    are aggregated in the plugin and merged into each reader's collections
    (:mod:`conduit_otel.aggregation`, a small fraction of an SDK measurement's cost); without them,
    or when a reader wants another histogram aggregation, they are SDK instruments.
    ``pre_aggregated`` says which. Either way a measurement is
    ``hist.record(hist.cell(attributes), value)``, and a caller that keeps the cell of an
    attribute set skips the lookup.
    """

    def __init__(self, meter: Meter, readers: Sequence[MetricReader] | None = None,
                 resource: Resource | None = None, scope: InstrumentationScope | None = None) -> None:
        specs: list[tuple[str, str, str, Sequence[float] | None]] = [
            ("http.server.request.duration", "s", "Duration of HTTP server requests.", DURATION_BUCKETS),
            ("http.server.request.body.size", _SIZE_UNIT, "Size of HTTP server request bodies.", None),
            ("http.server.response.body.size", _SIZE_UNIT, "Size of HTTP server response bodies.", None),
        ]
        self.pre_aggregated = readers is not None and resource is not None and scope is not None and eligible(readers)
        histograms: list[Any]
        if self.pre_aggregated:
            histograms = [PreAggregatedHistogram(name, unit=unit, description=text, bounds=bounds)
                          for name, unit, text, bounds in specs]
            attach(readers or (), histograms, resource, scope)  # type: ignore[arg-type]
        else:
            histograms = [_SdkHistogram(meter, name, unit=unit, description=text, bounds=bounds)
                          for name, unit, text, bounds in specs]
        self.duration, self.request_body_size, self.response_body_size = histograms
        self.active_requests = ActiveRequests()
        meter.create_observable_up_down_counter(
            "http.server.active_requests",
            callbacks=[self.active_requests.observe],
            unit="{request}",
            description="Number of active HTTP server requests.",
        )


class OperationInstruments:
    """``conduit.operation.duration``: each ``conduit.telemetry.span`` block, by name."""

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            "conduit.operation.duration",
            unit="s",
            description="Duration of instrumented Conduit operations (inference, vector search, tool calls).",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )


class RouterMetrics:
    """The seed's routing metrics; attributes name the model, domain, feedback type and source."""

    def __init__(self, meter: Meter) -> None:
        self.decisions = meter.create_counter(
            "conduit.routing.decisions", unit="{decision}", description="Routing decisions by model and domain."
        )
        self.cost = meter.create_histogram(
            "conduit.routing.cost", unit="USD", description="Cost of routed requests in US dollars.",
            explicit_bucket_boundaries_advisory=list(_COST_BUCKETS),
        )
        self.latency = meter.create_histogram(
            "conduit.routing.latency", unit="ms", description="Latency of routed requests in milliseconds.",
            explicit_bucket_boundaries_advisory=[float(b) for b in _LATENCY_MS_BUCKETS],
        )
        self.confidence = meter.create_histogram(
            "conduit.routing.confidence", unit="1", description="Thompson-sampling confidence of routing decisions.",
            explicit_bucket_boundaries_advisory=list(_CONFIDENCE_BUCKETS),
        )
        self.cache_hits = meter.create_counter("conduit.cache.hits", unit="{hit}", description="Cache hits.")
        self.cache_misses = meter.create_counter("conduit.cache.misses", unit="{miss}", description="Cache misses.")
        self.feedback_submissions = meter.create_counter(
            "conduit.feedback.submissions", unit="{submission}", description="Feedback submissions by type and source."
        )

    def record_decision(
        self,
        model: str,
        domain: str = "general",
        *,
        cost_usd: float | None = None,
        latency_ms: float | None = None,
        confidence: float | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """One routing decision: counted, and its cost, latency and confidence when known."""
        attrs = {"conduit.model": model, "conduit.domain": domain, **(attributes or {})}
        self.decisions.add(1, attrs)
        if cost_usd is not None:
            self.cost.record(cost_usd, attrs)
        if latency_ms is not None:
            self.latency.record(latency_ms, attrs)
        if confidence is not None:
            self.confidence.record(confidence, attrs)

    def record_cache_hit(self, cache: str = "response", count: int = 1) -> None:
        self.cache_hits.add(count, {"conduit.cache": cache})

    def record_cache_miss(self, cache: str = "response", count: int = 1) -> None:
        self.cache_misses.add(count, {"conduit.cache": cache})

    def record_feedback(self, feedback_type: str, source: str = "explicit") -> None:
        self.feedback_submissions.add(1, {"conduit.feedback.type": feedback_type, "conduit.feedback.source": source})

    def measure(self, name: str, value: float, attributes: Mapping[str, Any]) -> bool:
        """Record a ``conduit_measurement`` whose name is one of these instruments'; False
        for a name this recorder does not know."""
        instrument = self._by_name().get(name)
        if instrument is None:
            return False
        if hasattr(instrument, "add"):
            instrument.add(value, dict(attributes))
        else:
            instrument.record(value, dict(attributes))
        return True

    def _by_name(self) -> dict[str, Any]:
        table = self.__dict__.get("_table")
        if table is None:
            table = self.__dict__["_table"] = {
                "conduit.routing.decisions": self.decisions,
                "conduit.routing.cost": self.cost,
                "conduit.routing.latency": self.latency,
                "conduit.routing.confidence": self.confidence,
                "conduit.cache.hits": self.cache_hits,
                "conduit.cache.misses": self.cache_misses,
                "conduit.feedback.submissions": self.feedback_submissions,
            }
        return table


_DROPPING = RouterMetrics(NoOpMeter("conduit_otel"))


def router_metrics(app: Any = None) -> RouterMetrics:
    """The router metrics of ``app``, or of the running (else last started) app; a
    recorder that drops everything when telemetry is off."""
    from conduit_otel.runtime import current_runtime, runtime_for

    runtime = runtime_for(app) if app is not None else current_runtime()
    if runtime is None or runtime.router is None:
        return _DROPPING
    return runtime.router
