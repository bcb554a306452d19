"""With conduit-otel installed and enabled, routing records the conduit.routing.* and
conduit.feedback.* instruments. The router imports no other plugin: it reports through
``conduit.telemetry.record``, which conduit-otel receives as ``conduit_measurement``."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit import Conduit
from conduit.testing import TestClient

conduit_otel = pytest.importorskip("conduit_otel")


def test_routing_and_feedback_are_recorded_as_otel_metrics(tmp_path: Path) -> None:
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    app = Conduit(plugins=["router"], router_embedder="hash", router_history="none", otel_set_global_providers=False)
    reader = InMemoryMetricReader()
    conduit_otel.instrument(app, metric_readers=[reader],
                            environ={"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"})
    with TestClient(app) as client:
        decision = client.post("/v1/route", json={"text": "Solve for x: 2x = 8",
                                                  "constraints": {"allowed_models": ["gpt-4o"]}}).json()
        assert client.post("/v1/feedback", json={"query_id": decision["query_id"], "rating": 5}).status_code == 200
        data = reader.get_metrics_data()
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    (decisions,) = metrics["conduit.routing.decisions"].data.data_points
    assert decisions.value == 1
    assert dict(decisions.attributes) == {"conduit.model": "gpt-4o", "conduit.domain": "math"}
    (confidence,) = metrics["conduit.routing.confidence"].data.data_points
    assert confidence.count == 1 and confidence.sum == 1.0  # one candidate: certain
    (feedback,) = metrics["conduit.feedback.submissions"].data.data_points
    assert dict(feedback.attributes) == {"conduit.feedback.type": "rating", "conduit.feedback.source": "explicit"}
