"""The Prometheus text output, read back by prometheus_client's own parser."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from conduit.framework.exposition import Family, Sample, format_value, metric_name, render
from conduit.framework.metrics import Metrics, MetricsError


def parse(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_every_family_parses_with_help_type_and_values() -> None:
    m = Metrics()
    m.describe("predictions.success", "Successful predictions")
    m.increment_counter("predictions.success", 2)
    m.set_gauge("active_connections", 7, {"worker": "1"})
    m.record_request(0.012, method="GET", route="/users/{id}", status=200)
    m.record_request(0.3, method="GET", route="/users/{id}", status=404)
    m.record_cache_hit()
    families = parse(m.export_metrics_prometheus([("router_decisions", "counter", {"model": "gpt"}, 5)]))

    counter = families["conduit_predictions_success"]
    assert counter.type == "counter"
    assert counter.documentation == "Successful predictions"
    assert [(s.name, s.value) for s in counter.samples] == [("conduit_predictions_success_total", 2.0)]

    gauge = families["conduit_active_connections"]
    assert gauge.type == "gauge" and gauge.samples[0].labels == {"worker": "1"} and gauge.samples[0].value == 7

    requests = families["conduit_http_requests"]
    by_status = {s.labels["status"]: s.value for s in requests.samples}
    assert by_status == {"200": 1.0, "404": 1.0}

    hist = families["conduit_http_request_duration_seconds"]
    assert hist.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in hist.samples if s.name.endswith("_bucket")}
    assert buckets["0.01"] == 0 and buckets["0.025"] == 1 and buckets["0.5"] == 2 and buckets["+Inf"] == 2
    values = list(buckets.values())
    assert values == sorted(values)  # cumulative
    count = next(s for s in hist.samples if s.name.endswith("_count"))
    total = next(s for s in hist.samples if s.name.endswith("_sum"))
    assert count.value == 2 and total.value == pytest.approx(0.312)
    assert count.labels == {"method": "GET", "route": "/users/{id}"}

    assert families["conduit_cache_hits"].samples[0].value == 1
    assert families["conduit_uptime_seconds"].type == "gauge"
    assert families["conduit_latency_p99_ms"].samples[0].value > 0
    assert families["conduit_router_decisions"].samples[0].labels == {"model": "gpt"}


def test_plugin_samples_must_be_counters_or_gauges() -> None:
    with pytest.raises(MetricsError, match="histogram"):
        Metrics().export_metrics_prometheus([("x", "histogram", {}, 1.0)])


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=40))
def test_any_label_value_survives_escaping(value: str) -> None:
    text = render([Family("m", "gauge", "help \\ with\nnewline", [Sample("m", (("v", value),), 1.0)])])
    (family,) = text_string_to_metric_families(text)
    assert family.samples[0].labels == {"v": value}
    assert family.documentation == "help \\ with\nnewline"


@given(st.text(min_size=1, max_size=30))
def test_any_metric_name_becomes_legal(raw: str) -> None:
    name = metric_name(raw, "conduit")
    text = render([Family(name, "gauge", "h", [Sample(name, (), 1.0)])])
    (family,) = text_string_to_metric_families(text)
    assert family.name == name


@pytest.mark.parametrize(
    ("value", "text"), [(2.0, "2"), (0.25, "0.25"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (math.nan, "NaN")]
)
def test_values_are_written_the_way_prometheus_reads_them(value: float, text: str) -> None:
    assert format_value(value) == text
