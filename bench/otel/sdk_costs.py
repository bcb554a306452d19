"""What the OpenTelemetry SDK itself costs per call, outside Conduit: the floor under conduit-otel.

Each row is the calling thread's CPU time (``time.thread_time``) per call, best of 5 runs:
a server span started with the hello request's attributes and ended (every span sampled,
1% sampled), the same with the BatchSpanProcessor's ``on_end`` (its queue only), one
``Histogram.record`` with the five attributes of ``http.server.request.duration`` (with a
reader, so the measurement is aggregated), and the OTLP exporter's protobuf encoding of
one span (``encode_spans`` + serialisation, batches of 512: the work of the export thread).

    python bench/otel/sdk_costs.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind

SPAN_ATTRS = {
    "http.request.method": "GET", "url.scheme": "http", "network.protocol.version": "1.1", "http.route": "/",
    "url.path": "/", "server.address": "127.0.0.1", "server.port": 8000, "client.address": "127.0.0.1",
}
METRIC_ATTRS = {
    "http.request.method": "GET", "url.scheme": "http", "network.protocol.version": "1.1", "http.route": "/",
    "http.response.status_code": 200,
}


def per_call(fn: Callable[[], object], n: int = 20_000, repeat: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, (time.thread_time() - start) / n)
    return best * 1e6


class _Keep(SpanExporter):
    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def rows() -> list[tuple[str, float]]:
    out = []
    resource = Resource.create({"service.name": "bench"})
    for label, sampler in (("every span", ParentBased(ALWAYS_ON)), ("1% sampled", ParentBased(TraceIdRatioBased(0.01)))):
        tracer = TracerProvider(resource=resource, sampler=sampler).get_tracer("bench")

        def server_span(tracer: trace.Tracer = tracer) -> None:
            span = tracer.start_span("GET /", kind=SpanKind.SERVER, attributes=SPAN_ATTRS)
            token = otel_context.attach(trace.set_span_in_context(span))
            otel_context.detach(token)
            span.set_attribute("http.response.status_code", 200)
            span.end()

        out.append((f"server span: start (8 attributes), attach/detach, 1 attribute, end — {label}", per_call(server_span)))
    provider = TracerProvider(resource=resource)
    processor = BatchSpanProcessor(_Keep(), max_queue_size=1_000_000, schedule_delay_millis=3_600_000)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")

    out.append(("server span (no attach/detach) ended into BatchSpanProcessor.on_end (queued, not exported)", per_call(lambda: queued_span_of(tracer))))
    processor.shutdown()
    histogram = MeterProvider(resource=resource, metric_readers=[InMemoryMetricReader()]).get_meter("bench").create_histogram("d")
    out.append(("Histogram.record, 5 attributes, aggregated by a reader", per_call(lambda: histogram.record(0.001, METRIC_ATTRS))))
    out.append(("Histogram.record, no attributes", per_call(lambda: histogram.record(0.001))))
    keep: list[ReadableSpan] = []
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(_Collect(keep))
    tracer = provider.get_tracer("bench")
    for _ in range(512):
        queued_span_of(tracer)
    out.append(("OTLP protobuf encoding of one span (batches of 512; the export thread's work)",
                per_call(lambda: encode_spans(keep).SerializePartialToString(), n=20, repeat=5) / len(keep)))
    return out


def queued_span_of(tracer: trace.Tracer) -> None:
    span = tracer.start_span("GET /", kind=SpanKind.SERVER, attributes=SPAN_ATTRS)
    span.set_attribute("http.response.status_code", 200)
    span.end()


class _Collect:
    def __init__(self, into: list[ReadableSpan]) -> None:
        self.into = into

    def on_start(self, span: object, parent_context: object = None) -> None:
        pass

    def _on_ending(self, span: object) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        self.into.append(span)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def main() -> int:
    print("| SDK call | CPU µs |\n| --- | ---: |")
    for label, micros in rows():
        print(f"| {label} | {micros:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
