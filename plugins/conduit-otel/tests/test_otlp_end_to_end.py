"""Spans and metrics travel over OTLP/HTTP to a real receiver on 127.0.0.1 and arrive intact.

The receiver is a small HTTP server in this test that decodes the protobuf bodies with
opentelemetry-proto's ExportTraceServiceRequest / ExportMetricsServiceRequest. The app
is configured only by OTEL_* variables and serves on a real socket (LiveServer).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

import conduit.telemetry
from conduit import Conduit
from conduit.testing import LiveServer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]


class Receiver(ThreadingHTTPServer):
    """Collects decoded OTLP/HTTP export requests by path."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict[str, str], Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def of(self, path: str) -> list[tuple[dict[str, str], Any]]:
        with self.lock:
            return [(headers, message) for p, headers, message in self.received if p == path]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        kinds = {
            "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
            "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
        }
        if self.path not in kinds:
            self.send_response(404)
            self.end_headers()
            return
        request_type, response_type = kinds[self.path]
        message = request_type.FromString(body)
        with self.server.lock:
            self.server.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, message))
        payload = response_type().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def attrs(key_values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in key_values:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out


@pytest.mark.slow
def test_spans_and_metrics_arrive_at_an_otlp_http_receiver(otel_env, receiver: Receiver) -> None:
    otel_env.setenv("OTEL_ENABLED", "true")
    otel_env.setenv("OTEL_SERVICE_NAME", "e2e-service")
    otel_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    otel_env.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret")
    app = Conduit(plugins=["otel"], otel_set_global_providers=False)

    @app.get("/hello/{name}")
    async def hello(request):
        return {"hello": request.params["name"]}

    @app.post("/predict")
    def predict(request):
        with conduit.telemetry.span("inference", {"model": "tiny"}, pm=request.app.plugin_manager):
            return {"y": 1}

    with LiveServer(app) as server:
        with httpx.Client(base_url=server.url) as client:
            traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
            assert client.get("/hello/ada", headers={"traceparent": traceparent}).status_code == 200
            assert client.post("/predict", json={"x": [1, 2]}).status_code == 200
        port = server.port
    # Leaving LiveServer ran the app's shutdown: both providers flushed to the receiver.

    traces = receiver.of("/v1/traces")
    assert traces, "no OTLP trace export arrived"
    headers = traces[0][0]
    assert headers["x-api-key"] == "s3cret"
    assert headers["content-type"] == "application/x-protobuf"
    spans: dict[str, Any] = {}
    for _, message in traces:
        for resource_spans in message.resource_spans:
            resource = attrs(resource_spans.resource.attributes)
            assert resource["service.name"] == "e2e-service"
            assert resource["deployment.environment"] == "test"
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "conduit_otel"
                for span in scope_spans.spans:
                    spans[span.name] = span
    assert set(spans) == {"GET /hello/{name}", "POST /predict", "inference"}

    hello_span = spans["GET /hello/{name}"]
    assert hello_span.trace_id.hex() == TRACE_ID
    assert hello_span.parent_span_id.hex() == PARENT_ID
    assert hello_span.kind == ProtoSpan.SPAN_KIND_SERVER
    hello_attrs = attrs(hello_span.attributes)
    assert hello_attrs["http.route"] == "/hello/{name}"
    assert hello_attrs["url.path"] == "/hello/ada"
    assert hello_attrs["http.response.status_code"] == 200
    assert hello_attrs["server.address"] == "127.0.0.1"
    assert hello_attrs["server.port"] == port
    assert hello_attrs["client.address"] == "127.0.0.1"
    assert hello_attrs["user_agent.original"].startswith("python-httpx/")
    assert hello_span.end_time_unix_nano > hello_span.start_time_unix_nano

    predict_span, inference = spans["POST /predict"], spans["inference"]
    assert inference.parent_span_id == predict_span.span_id
    assert inference.trace_id == predict_span.trace_id
    assert attrs(inference.attributes) == {"model": "tiny"}

    metrics = receiver.of("/v1/metrics")
    assert metrics, "no OTLP metrics export arrived"
    assert metrics[0][0]["x-api-key"] == "s3cret"
    by_name: dict[str, Any] = {}
    for _, message in metrics:
        for resource_metrics in message.resource_metrics:
            assert attrs(resource_metrics.resource.attributes)["service.name"] == "e2e-service"
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    by_name[metric.name] = metric
    duration = by_name["http.server.request.duration"]
    assert duration.unit == "s"
    points = {attrs(p.attributes)["http.route"]: p for p in duration.histogram.data_points}
    assert set(points) == {"/hello/{name}", "/predict"}
    assert list(points["/hello/{name}"].explicit_bounds) == BUCKETS
    assert points["/hello/{name}"].count == 1 and sum(points["/hello/{name}"].bucket_counts) == 1
    assert attrs(points["/predict"].attributes) == {
        "http.request.method": "POST",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "http.route": "/predict",
        "http.response.status_code": 200,
    }
    active = {attrs(p.attributes)["http.request.method"]: p.as_int for p in by_name["http.server.active_requests"].sum.data_points}
    assert active == {"GET": 0, "POST": 0}
    assert by_name["conduit.operation.duration"].histogram.data_points[0].count == 1
    assert "conduit.kernel.uptime" in by_name
