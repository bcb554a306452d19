"""Apps instrumented with the SDK's in-memory span exporter and metric reader.

Every app gets its own providers (the plugin never relies on OpenTelemetry's global
ones), and ``otel_set_global_providers=False`` keeps these tests from taking the
global slot that one test checks in a subprocess. ``redis_url`` and ``postgres_url`` (a
fresh schema) come from ``conduit.testing``'s pytest plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import conduit_otel
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conduit import Conduit
from conduit.framework.metrics import Metrics

NO_EXPORT = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}


@dataclass
class Instrumented:
    app: Conduit
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    kernel_metrics: Metrics
    collected: list[Any] = field(default_factory=list)

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        matches = [s for s in self.finished() if s.name == name]
        assert len(matches) == 1, f"expected one span {name!r}, got {[s.name for s in self.finished()]}"
        return matches[0]

    def metrics(self) -> dict[str, Any]:
        """Every metric of the last collection by name (collects now)."""
        data = self.reader.get_metrics_data()
        out: dict[str, Any] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    out[metric.name] = metric
        return out

    def points(self, name: str) -> list[Any]:
        metric = self.metrics().get(name)
        return list(metric.data.data_points) if metric is not None else []


@pytest.fixture
def instrumented() -> Callable[..., Instrumented]:
    """``instrumented(environ=None, **settings)`` → an app with in-memory telemetry."""

    def make(environ: Mapping[str, str] | None = None, **settings: Any) -> Instrumented:
        settings.setdefault("otel_set_global_providers", False)
        app = Conduit(plugins=[], **settings)
        exporter = InMemorySpanExporter()
        reader = InMemoryMetricReader()
        registry = Metrics(track_memory=False)
        conduit_otel.instrument(
            app,
            span_processors=[SimpleSpanProcessor(exporter)],
            metric_readers=[reader],
            environ={**NO_EXPORT, **(environ or {})},
            kernel_metrics=registry,
        )
        return Instrumented(app, exporter, reader, registry)

    return make


@pytest.fixture
def otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A process environment with no OTEL_* or CONDUIT_OTEL_* variable of the developer's."""
    import os

    for name in list(os.environ):
        if name.startswith(("OTEL_", "CONDUIT_OTEL_")):
            monkeypatch.delenv(name)
    yield monkeypatch
