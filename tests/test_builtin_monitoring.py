"""The built-in monitoring plugin: probes, /metrics and request metrics on by default."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conduit import Conduit
from conduit.testing import TestClient


def test_probes_and_metrics_are_served_by_default_and_count_requests() -> None:
    app = Conduit()

    @app.get("/monitored-items/{id:int}")
    def item(r, id: int):
        return {"id": id}

    with TestClient(app) as c:
        for i in range(3):
            assert c.get(f"/monitored-items/{i}").status_code == 200
        assert c.get("/health/live").json() == {"status": "alive"}
        assert c.get("/health/ready").status_code == 200
        text = c.get("/metrics?format=prometheus").text
        document = c.get("/v1/metrics").json()
    samples = [s for fam in text_string_to_metric_families(text) for s in fam.samples]
    routed = [s for s in samples if s.labels.get("route") == "/monitored-items/{id:int}" and s.name.endswith("_count")]
    assert routed and routed[0].value == 3
    assert document["throughput"]["total_requests"] >= 5 and document["latency"]["samples"] >= 5


def test_an_app_route_wins_over_the_builtin_probe_and_monitoring_can_be_turned_off() -> None:
    app = Conduit()

    @app.get("/health")
    def mine(r):
        return {"mine": True}

    with TestClient(app) as c:
        assert c.get("/health").json() == {"mine": True}
        assert c.get("/health/live").status_code == 200
    off = Conduit(monitoring=False)
    with TestClient(off) as c:
        assert c.get("/metrics").status_code == 404 and c.get("/health/live").status_code == 404
    assert not off._middleware  # noqa: SLF001 - no per-request cost when off


def test_access_log_setting_logs_one_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    app = Conduit(access_log=True)

    @app.get("/x")
    def x(r):
        return {}

    with TestClient(app) as c:
        c.get("/x")
    lines = [r.getMessage() for r in caplog.records if "GET /x" in r.getMessage()]
    assert len(lines) == 1 and "200" in lines[0]
