"""bench/http's Starlette hello app under opentelemetry-instrumentation-asgi, exporting over OTLP/HTTP.

The SDK is set up as conduit-otel sets up its own from the same ``OTEL_*`` variables
(plugins/conduit-otel/src/conduit_otel/runtime.py, exporters.py): a ``TracerProvider``
(parent-based always-on sampler) with a ``BatchSpanProcessor`` around the OTLP/HTTP span
exporter, and a ``MeterProvider`` with a ``PeriodicExportingMetricReader`` around the
OTLP/HTTP metric exporter every ``OTEL_METRIC_EXPORT_INTERVAL`` ms; resource
``service.name`` from ``OTEL_SERVICE_NAME``. Both providers are handed to the middleware
(none is installed globally) and are shut down, which flushes them, when the app's lifespan
ends: uvicorn re-raises the SIGTERM it stopped on, so the SDK's atexit hooks never run.

``ANCHOR_OTEL_SPANS``: ``all`` (the middleware's defaults: the server span plus one span per
ASGI ``send``, and per ``receive`` when the app reads the body) or ``server`` (only the
server span: ``exclude_spans=["receive", "send"]``). Run with
``OTEL_SEMCONV_STABILITY_OPT_IN=http`` for the stable HTTP metric and attribute names that
conduit-otel emits.
"""

import os
from contextlib import asynccontextmanager

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.applications import Starlette
from starlette.routing import Route
from starlette_app import hello  # bench/http/apps, the server's working directory

spans = os.environ.get("ANCHOR_OTEL_SPANS", "all")
if spans not in ("all", "server"):
    raise SystemExit(f"ANCHOR_OTEL_SPANS must be 'all' or 'server', not {spans!r}")
endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318").rstrip("/")
resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "starlette")})

tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
meter_provider = MeterProvider(
    resource=resource,
    metric_readers=[
        PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"),
            export_interval_millis=int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "60000")),
        )
    ],
)


@asynccontextmanager
async def lifespan(app):
    yield
    tracer_provider.shutdown()
    meter_provider.shutdown()


app = OpenTelemetryMiddleware(
    Starlette(routes=[Route("/", hello)], lifespan=lifespan),
    tracer_provider=tracer_provider,
    meter_provider=meter_provider,
    exclude_spans=["receive", "send"] if spans == "server" else None,
)
