"""OTEL_METRICS_EXPORTER=prometheus serves a scrape endpoint with the app's own registry."""

from __future__ import annotations

import socket

import httpx
import pytest

from conduit.framework.errors import ConfigurationError, PluginError
from conduit.testing import TestClient, free_port

pytest.importorskip("opentelemetry.exporter.prometheus", reason="opentelemetry-exporter-prometheus is not installed")


def test_prometheus_exporter_serves_the_http_metrics(instrumented) -> None:
    port = free_port()
    t = instrumented({
        "OTEL_METRICS_EXPORTER": "prometheus",
        "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
        "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
    })
    t.app.get("/ping")(lambda request: {"pong": True})
    with TestClient(t.app) as client:
        client.get("/ping")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    bucket = next(line for line in text.splitlines() if line.startswith("http_server_request_duration_seconds_bucket") and 'le="+Inf"' in line)
    assert 'http_route="/ping"' in bucket and 'http_response_status_code="200"' in bucket
    assert bucket.endswith(" 1.0")
    with pytest.raises(httpx.ConnectError):  # the scrape server stopped with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_taken_prometheus_port_is_a_clear_start_up_error(instrumented) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        t = instrumented({"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
                          "OTEL_EXPORTER_PROMETHEUS_PORT": str(port)})
        with pytest.raises((ConfigurationError, PluginError), match="OTEL_EXPORTER_PROMETHEUS_PORT to a free port"):
            with TestClient(t.app):
                pass
