"""conduit_otel.otlp_spans writes the same OTLP request as the official encoder, for spans of
every shape, and LeanOTLPSpanExporter sends a collector the same bytes as OTLPSpanExporter."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conduit_otel.otlp_spans import LeanOTLPSpanExporter, encode_spans
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as official_encode
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
RESOURCE = Resource({"service.name": "svc", "host.cores": 2, "deployment.ratio": 0.5})
OTHER_RESOURCE = Resource({"service.name": "other"}, schema_url="https://opentelemetry.io/schemas/1.21.0")
SCOPE = InstrumentationScope("conduit", "0.1.0")
RICH_SCOPE = InstrumentationScope("lib", None, "https://schema/1", {"scope.attr": "x"})


def _context(span_id: int, *, remote: bool = False, state: TraceState | None = None,
             trace: int = TRACE) -> SpanContext:
    return SpanContext(trace, span_id, is_remote=remote, trace_flags=TraceFlags(1), trace_state=state)


def _span(span_id: int, **fields: Any) -> ReadableSpan:
    defaults: dict[str, Any] = {
        "name": "GET /items/{id}", "context": _context(span_id), "parent": None, "resource": RESOURCE,
        "attributes": {"http.request.method": "GET", "http.response.status_code": 200},
        "kind": SpanKind.SERVER, "status": Status(StatusCode.UNSET), "start_time": 1_700_000_000_000_000_000,
        "end_time": 1_700_000_000_000_500_000, "instrumentation_scope": SCOPE,
    }
    return ReadableSpan(**{**defaults, **fields})


SHAPES: dict[str, list[ReadableSpan]] = {
    "plain": [_span(1)],
    "every attribute type": [_span(2, attributes={
        "s": "text", "empty": "", "unicode": "héllo ☃", "t": True, "f": False, "zero": 0, "i": 42, "neg": -7,
        "big": 2**63 - 1, "small": -(2**63), "pi": 3.25, "nan-free": -0.0, "raw": b"\x00\xff",
        "strs": ("a", "b"), "ints": [1, -2, 3], "floats": (1.5,), "bools": [True, False], "none": [],
    })],
    "every kind": [_span(10 + k.value, kind=k) for k in SpanKind],
    "parents, remote and local": [
        _span(20, parent=_context(21, remote=True)), _span(22, parent=_context(23, remote=False)),
    ],
    "trace state": [_span(30, context=_context(30, state=TraceState([("vendor", "v1"), ("b", "2")])))],
    "statuses": [
        _span(40, status=Status(StatusCode.ERROR, "boom: it failed")), _span(41, status=Status(StatusCode.OK)),
        _span(42, status=Status(StatusCode.ERROR)),
    ],
    "events and links": [_span(
        50,
        events=[Event("exception", {"exception.type": "ValueError", "exception.message": "bad"}, 1_700_000_000_000_100_000),
                Event("", None, 0)],
        links=[Link(_context(51, remote=True, trace=TRACE + 1), {"link.kind": "follows"}),
               Link(_context(52))],
    )],
    "floats that compare equal": [  # 0.0 == -0.0, but they encode apart
        _span(55, attributes={"x": 0.0, "n": float("nan")}), _span(56, attributes={"x": -0.0, "n": float("nan")}),
    ],
    "dropped counts": [_span(
        60, attributes=BoundedAttributes(2, {"a": 1, "b": 2, "c": 3, "d": 4}),
        events=[Event("e", BoundedAttributes(1, {"x": 1, "y": 2}), 5)],
    )],
    "resources and scopes": [
        _span(70), _span(71, instrumentation_scope=RICH_SCOPE), _span(72, resource=OTHER_RESOURCE),
        _span(73, instrumentation_scope=None), _span(74), _span(75, resource=OTHER_RESOURCE, instrumentation_scope=None),
        # equal to RESOURCE but another object: the official encoder groups by equality
        _span(76, resource=Resource(dict(RESOURCE.attributes))),
        _span(77, resource=Resource(dict(OTHER_RESOURCE.attributes), schema_url=OTHER_RESOURCE.schema_url)),
    ],
    "no end time, no name, long values": [
        _span(80, end_time=None, name=""), _span(81, attributes={"long": "x" * 20_000, "many": tuple(range(3000))}),
    ],
}


@pytest.mark.parametrize("spans", SHAPES.values(), ids=SHAPES.keys())
def test_the_lean_encoding_is_the_official_one(spans: list[ReadableSpan]) -> None:
    official = official_encode(spans)
    lean = encode_spans(spans)
    assert ExportTraceServiceRequest.FromString(lean) == official
    assert lean == official.SerializePartialToString()
    assert encode_spans(spans) == lean  # and again, from the caches


def test_an_attribute_it_cannot_encode_is_logged_and_left_out_as_there(caplog: pytest.LogCaptureFixture) -> None:
    spans = [_span(90, attributes={"ok": 1, "huge": 2**70, "bad": "\ud800", "after": "kept"})]
    with caplog.at_level(logging.ERROR):
        lean = encode_spans(spans)
    assert ExportTraceServiceRequest.FromString(lean) == official_encode(spans)
    [resource] = ExportTraceServiceRequest.FromString(lean).resource_spans
    keys = [kv.key for kv in resource.scope_spans[0].spans[0].attributes]
    assert keys == ["ok", "after"]
    assert sum("Failed to encode key" in r.getMessage() for r in caplog.records if r.name == "conduit_otel.otlp_spans") == 2


def test_spans_the_sdk_made_encode_alike() -> None:
    """Spans from a real tracer, as the BatchSpanProcessor hands them over (BoundedAttributes,
    set_attribute after start, an exception recorded)."""
    finished: list[ReadableSpan] = []

    class Keep(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            finished.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    tracer = provider.get_tracer("conduit", "0.1.0")
    for i in range(50):
        with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER, attributes={"url.path": f"/{i % 3}"}) as span:
            span.set_attribute("http.response.status_code", 200 + i % 2)
            with tracer.start_as_current_span("child") as child:
                if i % 10 == 0:
                    child.record_exception(RuntimeError("x"))
    assert encode_spans(finished) == official_encode(finished).SerializePartialToString()


class _Bodies(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[tuple[str, bytes]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Bodies

    def do_POST(self) -> None:
        self.server.bodies.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_lean_exporter_sends_a_collector_the_official_bytes() -> None:
    server = _Bodies()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        spans = [s for shape in SHAPES.values() for s in shape]
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        for exporter in (OTLPSpanExporter(endpoint=endpoint), LeanOTLPSpanExporter(endpoint=endpoint)):
            assert exporter.export(spans) is SpanExportResult.SUCCESS
            exporter.shutdown()
            assert exporter.export(spans) is SpanExportResult.FAILURE  # after shutdown, as the official one
    finally:
        server.shutdown()
        server.server_close()
    [(path, official), (lean_path, lean)] = server.bodies
    assert path == lean_path == "/v1/traces" and lean == official


def test_a_collector_error_fails_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    exporter = LeanOTLPSpanExporter(endpoint="http://127.0.0.1:9/v1/traces", timeout=1)
    assert exporter.export([_span(1)]) is SpanExportResult.FAILURE
