"""Turning conduit-otel on for an app from code, and reaching its runtime.

``instrument(app)`` is the in-code switch (like OpenTelemetry contrib's
``instrument_app``): it enables the plugin for ``app`` whatever ``OTEL_ENABLED`` says
(``OTEL_SDK_DISABLED=true`` still wins), enables the plugin for the app (``app.enable_plugin``)
even when its configuration left it out, and can add span processors and metric readers of your own, such as the
SDK's in-memory ones in tests::

    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    conduit_otel.instrument(app, span_processors=[SimpleSpanProcessor(exporter)], metric_readers=[reader])
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace import SpanProcessor

from conduit.framework.errors import ConfigurationError
from conduit_otel.runtime import OtelRuntime, runtime_for

__all__ = ["InstrumentOptions", "instrument", "options_for", "telemetry"]

PLUGIN_NAME = "otel"


@dataclass
class InstrumentOptions:
    """What ``instrument(app, ...)`` asked for, read when the app is prepared."""

    enabled: bool | None = None
    span_processors: list[SpanProcessor] = field(default_factory=list)
    metric_readers: list[MetricReader] = field(default_factory=list)
    environ: Mapping[str, str] | None = None
    kernel_metrics: Any = None
    bridge_kernel_metrics: bool = True


_options: weakref.WeakKeyDictionary[Any, InstrumentOptions] = weakref.WeakKeyDictionary()


def instrument(
    app: Any,
    *,
    enabled: bool = True,
    span_processors: Iterable[SpanProcessor] = (),
    metric_readers: Iterable[MetricReader] = (),
    environ: Mapping[str, str] | None = None,
    kernel_metrics: Any = None,
    bridge_kernel_metrics: bool = True,
) -> None:
    """Enable (or, with ``enabled=False``, disable) OpenTelemetry for ``app``.

    ``environ`` replaces ``os.environ`` as the source of ``OTEL_*`` variables;
    ``kernel_metrics`` is the registry to bridge (default: the kernel's ``_metrics``).
    Call it before the app serves its first request.
    """
    if app.prepared:
        raise ConfigurationError("conduit_otel.instrument(app) must be called before the app starts serving")
    if PLUGIN_NAME in (app.settings.get("disabled_plugins") or []):
        raise ConfigurationError(
            "conduit_otel.instrument(app) was called but the 'otel' plugin is disabled for this app; "
            "remove it from disabled_plugins / CONDUIT_DISABLED_PLUGINS"
        )
    from conduit_otel import plugin

    app.enable_plugin(PLUGIN_NAME, plugin)  # the call in code asks for the capability: enable it for this app
    _options[app] = InstrumentOptions(
        enabled=enabled,
        span_processors=list(span_processors),
        metric_readers=list(metric_readers),
        environ=environ,
        kernel_metrics=kernel_metrics,
        bridge_kernel_metrics=bridge_kernel_metrics,
    )


def options_for(app: Any) -> InstrumentOptions:
    """The options ``instrument`` recorded for ``app`` (defaults when it was not called)."""
    try:
        return _options.get(app) or InstrumentOptions()
    except TypeError:
        return InstrumentOptions()


def telemetry(app: Any) -> OtelRuntime | None:
    """``app``'s runtime (providers, tracer, meter), or None when telemetry is off for it."""
    return runtime_for(app)
