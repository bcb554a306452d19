"""Span processors and metric readers for the exporters ``OTEL_*_EXPORTER`` names.

``otlp`` sends OTLP over HTTP/protobuf (``opentelemetry-exporter-otlp-proto-http``, a
dependency; spans encoded by :mod:`conduit_otel.otlp_spans` unless ``otel_lean_encoder`` is
off) or over gRPC when ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` and
``opentelemetry-exporter-otlp-proto-grpc`` is installed; ``console`` prints to stdout;
``prometheus`` (metrics) serves a scrape endpoint on ``OTEL_EXPORTER_PROMETHEUS_HOST`` /
``_PORT`` (default ``localhost:9464``) when ``opentelemetry-exporter-prometheus`` is
installed. Timeouts, compression and certificates are read by the OTLP exporters
themselves from their standard variables.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)

from conduit.framework.errors import ConfigurationError
from conduit_otel.config import OtelConfig, OtlpTarget

__all__ = ["build_metric_readers", "build_span_processors"]


def _missing(what: str, package: str) -> ConfigurationError:
    return ConfigurationError(f"{what} needs the package {package!r}; install it with `pip install {package}`")


_OTLP_CLASSES = {
    ("traces", "http/protobuf"): ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "OTLPSpanExporter"),
    ("metrics", "http/protobuf"): ("opentelemetry.exporter.otlp.proto.http.metric_exporter", "OTLPMetricExporter"),
    ("traces", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "OTLPSpanExporter"),
    ("metrics", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc.metric_exporter", "OTLPMetricExporter"),
}


def _otlp_exporter(signal: str, target: OtlpTarget, *, lean: bool = False) -> Any:
    if lean and signal == "traces" and target.protocol == "http/protobuf":
        from conduit_otel.otlp_spans import LeanOTLPSpanExporter

        return LeanOTLPSpanExporter(endpoint=target.endpoint, headers=target.headers or None)
    module_name, class_name = _OTLP_CLASSES[(signal, target.protocol)]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        package = "opentelemetry-exporter-otlp-proto-" + ("grpc" if target.protocol == "grpc" else "http")
        raise _missing(f"OTLP over {target.protocol}", package) from None
    return getattr(module, class_name)(endpoint=target.endpoint, headers=target.headers or None)


def build_span_processors(config: OtelConfig) -> list[SpanProcessor]:
    """One processor per exporter in ``OTEL_TRACES_EXPORTER`` (batching for OTLP)."""
    processors: list[SpanProcessor] = []
    for name in config.traces_exporters:
        if name == "otlp":
            assert config.traces_otlp is not None
            exporter = _otlp_exporter("traces", config.traces_otlp, lean=config.lean_encoder)
            processors.append(BatchSpanProcessor(exporter))
        elif name == "console":
            processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
    return processors


def build_metric_readers(
    config: OtelConfig, environ: Mapping[str, str] | None = None
) -> tuple[list[MetricReader], list[Callable[[], None]]]:
    """Readers for ``OTEL_METRICS_EXPORTER`` and the callables that stop what they started."""
    env = os.environ if environ is None else environ
    readers: list[MetricReader] = []
    stops: list[Callable[[], None]] = []
    interval = config.metric_export_interval_ms
    for name in config.metrics_exporters:
        if name == "otlp":
            assert config.metrics_otlp is not None
            exporter = _otlp_exporter("metrics", config.metrics_otlp)
            readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=interval))
        elif name == "console":
            readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=interval))
        elif name == "prometheus":
            reader, stop = _prometheus_reader(env)
            readers.append(reader)
            stops.append(stop)
    return readers, stops


def _prometheus_reader(env: Mapping[str, str]) -> tuple[MetricReader, Callable[[], None]]:
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise _missing("OTEL_METRICS_EXPORTER=prometheus", "opentelemetry-exporter-prometheus") from None
    host = env.get("OTEL_EXPORTER_PROMETHEUS_HOST", "localhost")
    port_raw = env.get("OTEL_EXPORTER_PROMETHEUS_PORT", "9464")
    if not port_raw.isdigit() or int(port_raw) > 65535:
        raise ConfigurationError(f"$OTEL_EXPORTER_PROMETHEUS_PORT must be a TCP port, got {port_raw!r}")
    registry = CollectorRegistry(auto_describe=True)  # this app's own, never the global REGISTRY
    reader = PrometheusMetricReader(registry=registry)
    try:
        server, thread = start_http_server(int(port_raw), addr=host, registry=registry)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot serve Prometheus metrics on {host}:{port_raw} ({exc.strerror}); "
            "set $OTEL_EXPORTER_PROMETHEUS_PORT to a free port"
        ) from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return reader, stop
