"""The plugin's pre-aggregated HTTP histograms against the SDK's own aggregation."""

from __future__ import annotations

import random

import conduit_otel
import pytest
from conduit_otel.aggregation import OVERFLOW_ATTRIBUTES, PreAggregatedHistogram, attach, eligible
from opentelemetry.sdk.metrics import Histogram
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, ExponentialBucketHistogramAggregation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from conduit import Conduit
from conduit.testing import TestClient

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
SCOPE = InstrumentationScope("conduit_otel", "test")


def points(reader: InMemoryMetricReader, name: str) -> dict[frozenset, object]:
    data = reader.get_metrics_data()
    out = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    out.update({frozenset(p.attributes.items()): p for p in metric.data.data_points})
    return out


def side_by_side(temporality: AggregationTemporality):
    """Our histogram and an SDK histogram with the same name and buckets, each with its own reader."""
    preferred = {Histogram: temporality}
    ours_reader = InMemoryMetricReader(preferred_temporality=preferred)
    sdk_reader = InMemoryMetricReader(preferred_temporality=preferred)
    MeterProvider(metric_readers=[ours_reader])
    ours = PreAggregatedHistogram("h", unit="s", description="d", bounds=BOUNDS)
    attach([ours_reader], [ours], Resource.create({}), SCOPE)
    sdk = MeterProvider(metric_readers=[sdk_reader]).get_meter("sdk").create_histogram(
        "h", unit="s", explicit_bucket_boundaries_advisory=list(BOUNDS))
    return ours, ours_reader, sdk, sdk_reader


def same(a, b) -> None:
    assert (a.count, list(a.bucket_counts), tuple(a.explicit_bounds)) == (b.count, list(b.bucket_counts),
                                                                         tuple(b.explicit_bounds))
    assert a.sum == pytest.approx(b.sum) and (a.min, a.max) == (b.min, b.max)


@pytest.mark.parametrize("temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA])
def test_points_equal_the_sdks_for_the_same_measurements(temporality) -> None:
    ours, ours_reader, sdk, sdk_reader = side_by_side(temporality)
    rng = random.Random(7)
    attribute_sets = [{"route": "/a", "status": 200}, {"route": "/b", "status": 500}]
    # Bucket edges exactly (an explicit bucket includes its upper bound), below, between and above them.
    values = [*BOUNDS, 0.0, 0.0049, 11.0, 1e6, *(rng.expovariate(20) for _ in range(500))]
    for interval in range(3):
        for i, value in enumerate(values[interval::3]):
            attrs = attribute_sets[i % 2]
            ours.record(ours.cell(attrs), value)
            sdk.record(value, attrs)
        mine, theirs = points(ours_reader, "h"), points(sdk_reader, "h")
        assert mine.keys() == theirs.keys() and len(mine) == 2
        for key in mine:
            same(mine[key], theirs[key])
    # Nothing measured since: delta readers get no point, cumulative ones the same totals.
    mine, theirs = points(ours_reader, "h"), points(sdk_reader, "h")
    assert mine.keys() == theirs.keys()
    for key in mine:
        same(mine[key], theirs[key])


def test_a_delta_reader_beside_a_cumulative_one_gets_each_intervals_extremes() -> None:
    cumulative = InMemoryMetricReader()
    delta = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    MeterProvider(metric_readers=[cumulative, delta])
    hist = PreAggregatedHistogram("h", unit="s", description="d", bounds=BOUNDS)
    attach([cumulative, delta], [hist], Resource.create({}), SCOPE)
    cell = hist.cell({"k": "v"})
    for value in (0.5, 3.0):
        hist.record(cell, value)
    (first,) = points(delta, "h").values()
    hist.record(cell, 0.2)
    (second,) = points(delta, "h").values()
    (total,) = points(cumulative, "h").values()
    assert (first.count, first.min, first.max) == (2, 0.5, 3.0)
    assert (second.count, second.min, second.max, second.sum) == (1, 0.2, 0.2, pytest.approx(0.2))
    assert second.start_time_unix_nano == first.time_unix_nano
    assert (total.count, total.min, total.max) == (3, 0.2, 3.0)


def test_attribute_sets_past_the_limit_go_to_one_overflow_point() -> None:
    reader = InMemoryMetricReader()
    MeterProvider(metric_readers=[reader])
    hist = PreAggregatedHistogram("h", unit="s", description="d", bounds=BOUNDS, limit=2)
    attach([reader], [hist], Resource.create({}), SCOPE)
    for i in range(5):
        hist.record(hist.cell({"host": f"h{i}"}), 1.0)
    got = points(reader, "h")
    assert got[frozenset(OVERFLOW_ATTRIBUTES.items())].count == 3
    assert sum(p.count for p in got.values()) == 5 and len(got) == 3


def test_the_app_merges_them_into_the_readers_collection_with_the_sdks_metrics(instrumented) -> None:
    t = instrumented()
    t.app.get("/")(lambda request: {})
    with TestClient(t.app) as client:
        client.get("/")
        runtime = conduit_otel.telemetry(t.app)
        assert runtime.http.pre_aggregated
        data = t.reader.get_metrics_data()
    (resource_metrics,) = data.resource_metrics
    scopes = {sm.scope.name: [m.name for m in sm.metrics] for sm in resource_metrics.scope_metrics}
    # one scope holds the SDK's instruments and ours
    assert {"http.server.request.duration", "http.server.response.body.size",
            "http.server.active_requests"} <= set(scopes["conduit_otel"])
    assert resource_metrics.resource.attributes["service.name"]


@pytest.mark.parametrize("aggregation", [ExponentialBucketHistogramAggregation(),
                                         ExplicitBucketHistogramAggregation(boundaries=[1.0, 2.0])])
def test_a_reader_wanting_another_histogram_aggregation_gets_the_sdk_instruments(aggregation) -> None:
    reader = InMemoryMetricReader(preferred_aggregation={Histogram: aggregation})
    assert not eligible([reader])
    app = Conduit(plugins=[], otel_set_global_providers=False)
    conduit_otel.instrument(app, metric_readers=[reader],
                            environ={"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"})
    app.get("/")(lambda request: {})
    with TestClient(app) as client:
        client.get("/")
        assert not conduit_otel.telemetry(app).http.pre_aggregated
        (point,) = points(reader, "http.server.request.duration").values()
    assert point.count == 1
    if isinstance(aggregation, ExponentialBucketHistogramAggregation):
        assert hasattr(point, "scale")  # an exponential histogram point, made by the SDK
    else:
        assert list(point.explicit_bounds) == [1.0, 2.0]


def test_the_otlp_exporters_default_explicit_bucket_aggregation_is_eligible() -> None:
    reader = InMemoryMetricReader(preferred_aggregation={Histogram: ExplicitBucketHistogramAggregation()})
    assert eligible([reader])
