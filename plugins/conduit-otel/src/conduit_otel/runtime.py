"""One app's OpenTelemetry pipeline: its own tracer and meter providers.

The providers belong to the app (an :class:`OtelRuntime` per app), not to the process:
two apps in one process (tests, or a gateway serving two) never share or fight over
OpenTelemetry's global providers. They are built in ``conduit_startup`` and flushed and
shut down in ``conduit_shutdown``. The globals are set too, once, for the first app
when ``otel_set_global_providers`` allows it and nobody set them before, so other
instrumentation (an HTTP client) joins the same pipeline. The database clients Conduit
uses (Redis, psycopg, sqlite3) are instrumented while a runtime runs
(:mod:`conduit_otel.clients`).

Which runtime a span or a router metric belongs to: the one whose request is running
(a context variable the middleware sets), else the most recently started one.
"""

from __future__ import annotations

import contextvars
import logging
import os
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api
from opentelemetry.metrics import Meter
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Tracer

from conduit_otel.config import OtelConfig
from conduit_otel.exporters import build_metric_readers, build_span_processors
from conduit_otel.instruments import (
    HttpServerInstruments,
    OperationInstruments,
    RouterMetrics,
)
from conduit_otel.propagation import build_propagator
from conduit_otel.sampling import PresetIdGenerator, build_sampler, root_bound

__all__ = ["INSTRUMENTATION_NAME", "OtelRuntime", "build_sampler", "current_runtime", "register_runtime", "runtime_for"]

logger = logging.getLogger("conduit_otel")

INSTRUMENTATION_NAME = "conduit_otel"

_runtimes: weakref.WeakKeyDictionary[Any, OtelRuntime] = weakref.WeakKeyDictionary()
_started: list[OtelRuntime] = []
_active: contextvars.ContextVar[OtelRuntime | None] = contextvars.ContextVar("conduit_otel_runtime", default=None)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("conduit-otel")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


class OtelRuntime:
    """The tracer, meter and instruments of one app, between start-up and shutdown.

    ``span_processors`` and ``metric_readers`` are added to those the ``OTEL_*``
    variables ask for (tests pass the SDK's in-memory ones).
    """

    def __init__(
        self,
        config: OtelConfig,
        *,
        span_processors: Iterable[SpanProcessor] = (),
        metric_readers: Iterable[MetricReader] = (),
        environ: Mapping[str, str] | None = None,
        kernel_metrics: Any = None,
    ) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.extra_span_processors = list(span_processors)
        self.extra_metric_readers = list(metric_readers)
        self.kernel_metrics = kernel_metrics
        self.propagator: TextMapPropagator = build_propagator(config.propagators)
        self.tracer_provider: TracerProvider | None = None
        self.meter_provider: MeterProvider | None = None
        self.tracer: Tracer | None = None
        self.meter: Meter | None = None
        self.http: HttpServerInstruments | None = None
        self.operations: OperationInstruments | None = None
        self.router: RouterMetrics | None = None
        self.bridge: Any = None
        # The sampled-out fast path (conduit_otel.sampling): the ratio bound roots are
        # decided by (None: ask the SDK), and the provider's id generator.
        self.root_bound: int | None = None
        self.ids: PresetIdGenerator | None = None
        self._stops: list[Callable[[], None]] = []
        # The client libraries (conduit_otel.clients) this runtime holds instrumented.
        self.clients: tuple[str, ...] = ()
        self.started = False

    @property
    def tracing(self) -> bool:
        return self.tracer is not None

    @property
    def measuring(self) -> bool:
        return self.http is not None

    def start(self) -> None:
        """Build the providers, exporters and instruments (idempotent until shutdown).

        If any part fails (a port taken, an exporter missing), what was built is torn
        down again before the error propagates.
        """
        if self.started:
            return
        try:
            self._build()
        except BaseException:
            self._teardown()
            raise
        if self.tracer_provider is not None and self.config.instrumentations:
            from conduit_otel.clients import acquire

            self.clients = acquire(self.config.instrumentations)
        if self.config.set_global_providers:
            self._install_globals()
        self.started = True
        _started.append(self)

    def _build(self) -> None:
        config = self.config
        resource = Resource.create(dict(config.resource_attributes))
        version = _version()
        if config.traces_enabled:
            self.ids = PresetIdGenerator()
            self.root_bound = root_bound(config)
            provider = self.tracer_provider = TracerProvider(
                resource=resource, sampler=build_sampler(config), id_generator=self.ids
            )
            for processor in [*build_span_processors(config), *self.extra_span_processors]:
                provider.add_span_processor(processor)
            self.tracer = provider.get_tracer(INSTRUMENTATION_NAME, version)
        if config.metrics_enabled:
            readers, self._stops = build_metric_readers(config, self.environ)
            all_readers = [*readers, *self.extra_metric_readers]
            meter_provider = self.meter_provider = MeterProvider(resource=resource, metric_readers=all_readers)
            self.meter = meter_provider.get_meter(INSTRUMENTATION_NAME, version)
            self.http = HttpServerInstruments(
                self.meter, all_readers, resource, InstrumentationScope(INSTRUMENTATION_NAME, version)
            )
            self.operations = OperationInstruments(self.meter)
            self.router = RouterMetrics(self.meter)
            if self.kernel_metrics is not None:
                from conduit_otel.bridge import KernelMetricsBridge

                self.bridge = KernelMetricsBridge(self.meter, self.kernel_metrics)

    def _install_globals(self) -> None:
        # The API refuses a second set_*_provider; only take the slot while it is empty.
        if self.tracer_provider is not None and isinstance(trace_api.get_tracer_provider(), trace_api.ProxyTracerProvider):
            trace_api.set_tracer_provider(self.tracer_provider)
        if self.meter_provider is not None and type(metrics_api.get_meter_provider()).__name__ == "_ProxyMeterProvider":
            metrics_api.set_meter_provider(self.meter_provider)

    def force_flush(self, timeout_millis: int = 10_000) -> None:
        """Export everything recorded so far (spans and metrics)."""
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush(timeout_millis)
        if self.meter_provider is not None:
            self.meter_provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush and stop both providers and whatever the exporters started."""
        if not self.started:
            return
        self.started = False
        if self in _started:
            _started.remove(self)
        self._teardown()

    def _teardown(self) -> None:
        if self.clients:
            from conduit_otel.clients import release

            release(self.clients)
            self.clients = ()
        for shut in (self.tracer_provider, self.meter_provider):
            if shut is None:
                continue
            try:
                shut.shutdown()
            except Exception:
                logger.exception("shutting down an OpenTelemetry provider failed")
        for stop in self._stops:
            try:
                stop()
            except Exception:
                logger.exception("stopping a metrics exporter failed")
        self._stops = []
        self.tracer = self.meter = None
        self.http = self.operations = self.router = self.bridge = None
        self.tracer_provider = self.meter_provider = None

    def activate(self) -> contextvars.Token[OtelRuntime | None]:
        """Make this the runtime of the running request (see :func:`current_runtime`)."""
        return _active.set(self)

    @staticmethod
    def deactivate(token: contextvars.Token[OtelRuntime | None]) -> None:
        _active.reset(token)


def register_runtime(app: Any, runtime: OtelRuntime) -> None:
    _runtimes[app] = runtime


def runtime_for(app: Any) -> OtelRuntime | None:
    """The runtime of ``app`` (None when the plugin is disabled for it or not prepared)."""
    try:
        return _runtimes.get(app)
    except TypeError:  # not weak-referenceable: it has no runtime
        return None


def current_runtime() -> OtelRuntime | None:
    """The started runtime of the running request, else the most recently started one."""
    runtime = _active.get()
    if runtime is not None and runtime.started:
        return runtime
    return _started[-1] if _started else None
