"""Fixtures for the seed tests: the plugins usable, and the real services the seeds name
(PostgreSQL, Redis, an LLM provider (conduit-router's stand-in), an OTLP collector).
``postgres_url`` (a fresh schema) is ``conduit.testing``'s."""

from __future__ import annotations

import gzip
import http.server
import importlib.util
import threading
from collections.abc import Iterator
from typing import Any

import pytest

#: A Redis database the seed tests alone use (flushed before and after each test that takes it).
REDIS_URL = "redis://127.0.0.1:6379/11"


#: The seeds use every plugin's capability; without all of them (a kernel-only install) these tests skip.
PLUGINS = ("conduit_onnx", "conduit_vector", "conduit_mcp", "conduit_router", "conduit_otel")
MISSING = [name for name in PLUGINS if importlib.util.find_spec(name) is None]


@pytest.fixture(autouse=True)
def _installed_plugins_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the kernel conftest's ``CONDUIT_DISABLED_PLUGINS=*`` (apps still enable none
    unless a test says so: ``CONDUIT_PLUGINS`` stays empty)."""
    if MISSING:
        pytest.skip(f"the seed tests need every plugin (pip install \".[all]\"); missing: {', '.join(MISSING)}")
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS", raising=False)


def stored_rows(url: str, table: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(f"SELECT * FROM {table}"))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of the seed tests' own, empty before and after (the seeds' apps use
    their own key names, with no per-test prefix, so ``conduit.testing``'s shared one won't do)."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError:
        client.close()
        pytest.skip("no Redis at 127.0.0.1:6379")
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def standin() -> Iterator[Any]:
    """conduit-router's local stand-in for the LLM providers (no network, no keys)."""
    from conduit_router.standin import StandIn

    with StandIn() as server:
        yield server


class OTLPReceiver:
    """An OTLP/HTTP collector on 127.0.0.1 that keeps what it is sent (``exports``: path, body)."""

    def __init__(self) -> None:
        self.exports: list[tuple[str, bytes]] = []
        received = self.exports

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[tuple[str, str]]:
        """``(service.name, span name)`` of every span received."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        found = []
        for path, body in self.exports:
            if path != "/v1/traces":
                continue
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    found += [(attributes.get("service.name", ""), span.name) for span in scope.spans]
        return found

    def metric_names(self) -> set[str]:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        names = set()
        for path, body in self.exports:
            if path != "/v1/metrics":
                continue
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            for resource_metrics in request.resource_metrics:
                for scope in resource_metrics.scope_metrics:
                    names |= {metric.name for metric in scope.metrics}
        return names


@pytest.fixture
def otlp_collector() -> Iterator[OTLPReceiver]:
    receiver = OTLPReceiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
