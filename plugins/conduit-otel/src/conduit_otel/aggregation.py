"""Explicit-bucket histograms aggregated in the plugin, handed to the SDK's readers.

The per-request HTTP histograms (``http.server.request.duration`` and the body sizes)
are the plugin's hottest metric path. An SDK ``Histogram.record`` does a lot per call
(docs/architecture.md, "Design notes", has the figures): it builds a ``Measurement``, reads the current context for the
exemplar filter, and cleans, freezes and hashes the attribute dict to find its
aggregation. The middleware already caches one attribute set per (route shape, status,
``error.type``), so here each of those sets owns a :class:`Cell` found once and kept;
a measurement is a ``bisect`` and four additions under a lock.

The points reach every reader of the app's ``MeterProvider`` in the same
``MetricsData`` the SDK collects for it: :func:`attach` wraps each reader's collect
callback (``MetricReader._set_collect_callback``, the seam the ``MeterProvider`` itself
uses) and adds a ``Histogram`` metric to the plugin's scope, in the reader's temporality
(cumulative, or delta with per-interval min and max). Exporters, Prometheus and the
in-memory reader see ordinary SDK histogram points.

The SDK instruments are used instead (:func:`eligible` says no) when a reader asks for
another histogram aggregation (base-2 exponential, or explicit buckets with boundaries
of its own), or when the SDK no
longer has the private seam. Like the SDK, at most :data:`CARDINALITY_LIMIT` attribute
sets are kept per histogram; later sets are counted in one point carrying
``otel.metric.overflow=true``.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import replace
from time import time_ns
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.view import DefaultAggregation, ExplicitBucketHistogramAggregation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

__all__ = ["CARDINALITY_LIMIT", "Cell", "PreAggregatedHistogram", "attach", "eligible"]

logger = logging.getLogger("conduit_otel")

CARDINALITY_LIMIT = 2000  # the SDK's default per-instrument limit
OVERFLOW_ATTRIBUTES: Mapping[str, Any] = {"otel.metric.overflow": True}

# The SDK's default explicit buckets, for histograms without advisory boundaries.
_INF = float("inf")
DEFAULT_BOUNDS = (0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0)


class Cell:
    """The running aggregate of one attribute set: count, sum, min, max, bucket counts."""

    __slots__ = ("attributes", "buckets", "count", "intervals", "max", "min", "start_ns", "sum")

    def __init__(self, attributes: Mapping[str, Any], n_buckets: int, delta_readers: int) -> None:
        self.attributes = dict(attributes)
        self.start_ns = time_ns()
        self.count = 0
        self.sum: float = 0
        self.min = _INF
        self.max = -_INF
        self.buckets = [0] * n_buckets
        # [min, max] since the last collection, one pair per delta-temporality reader
        self.intervals = [[_INF, -_INF] for _ in range(delta_readers)]


class PreAggregatedHistogram:
    """One histogram instrument whose measurements are aggregated here."""

    def __init__(self, name: str, *, unit: str, description: str, bounds: Sequence[float] | None = None,
                 limit: int = CARDINALITY_LIMIT) -> None:
        self.name = name
        self.unit = unit
        self.description = description
        self.bounds = tuple(float(b) for b in (DEFAULT_BOUNDS if bounds is None else bounds))
        self.limit = limit
        self.lock = threading.Lock()
        self.delta_readers = 0  # set by attach() before the first measurement
        self._cells: dict[frozenset[tuple[str, Any]], Cell] = {}
        self._overflow: Cell | None = None

    def _new_cell(self, attributes: Mapping[str, Any]) -> Cell:
        return Cell(attributes, len(self.bounds) + 1, self.delta_readers)

    def cell(self, attributes: Mapping[str, Any]) -> Cell:
        """The cell of ``attributes`` (keep it: finding it is the part a record skips)."""
        key = frozenset(attributes.items())
        with self.lock:
            found = self._cells.get(key)
            if found is not None:
                return found
            if len(self._cells) < self.limit:
                found = self._cells[key] = self._new_cell(attributes)
                return found
            if self._overflow is None:
                self._overflow = self._new_cell(OVERFLOW_ATTRIBUTES)
            return self._overflow

    def record(self, cell: Cell, value: float) -> None:
        """Add one measurement to ``cell`` (bucket i counts values in (bound[i-1], bound[i]])."""
        index = bisect_left(self.bounds, value)
        with self.lock:
            cell.count += 1
            cell.sum += value
            if value < cell.min:
                cell.min = value
            if value > cell.max:
                cell.max = value
            cell.buckets[index] += 1
            for interval in cell.intervals:
                if value < interval[0]:
                    interval[0] = value
                if value > interval[1]:
                    interval[1] = value

    def snapshot(self, slot: int | None = None) -> list[tuple[Cell, int, float, float, float, list[int]]]:
        """``(cell, count, sum, min, max, buckets)`` of every cell with a measurement, taken
        under the lock. With a delta reader's ``slot``, min and max are those since that
        reader's last snapshot, and the slot starts over."""
        out = []
        with self.lock:
            cells = list(self._cells.values())
            if self._overflow is not None:
                cells.append(self._overflow)
            for c in cells:
                if not c.count:
                    continue
                low, high = c.min, c.max
                if slot is not None:
                    interval = c.intervals[slot]
                    low, high = interval
                    interval[0], interval[1] = _INF, -_INF
                out.append((c, c.count, c.sum, low, high, list(c.buckets)))
        return out


class _ReaderView:
    """What one reader has been sent: for delta temporality, the previous cumulative state."""

    def __init__(self, temporality: AggregationTemporality, slot: int | None) -> None:
        self.temporality = temporality
        self.slot = slot  # index of this reader's interval extremes (delta only)
        self.last_ns: int | None = None
        # (histogram name, cell id) -> (count, sum, buckets) at the last collection
        self.previous: dict[tuple[str, int], tuple[int, float, list[int]]] = {}

    def points(self, histogram: PreAggregatedHistogram, now: int) -> list[HistogramDataPoint]:
        out: list[HistogramDataPoint] = []
        cumulative = self.slot is None
        for cell, count, total, low, high, buckets in histogram.snapshot(self.slot):
            if cumulative:
                out.append(HistogramDataPoint(
                    attributes=dict(cell.attributes), start_time_unix_nano=cell.start_ns, time_unix_nano=now,
                    count=count, sum=total, bucket_counts=buckets, explicit_bounds=histogram.bounds,
                    min=low, max=high))
                continue
            key = (histogram.name, id(cell))
            before = self.previous.get(key)
            self.previous[key] = (count, total, buckets)
            if before is None:
                start = max(cell.start_ns, self.last_ns or 0)
                d_count, d_sum, d_buckets = count, total, buckets
            else:
                if before[0] == count:
                    continue  # nothing measured this interval: delta readers get no point
                start = self.last_ns or cell.start_ns
                d_count = count - before[0]
                d_sum = total - before[1]
                d_buckets = [a - b for a, b in zip(buckets, before[2], strict=True)]
            out.append(HistogramDataPoint(
                attributes=dict(cell.attributes), start_time_unix_nano=start, time_unix_nano=now,
                count=d_count, sum=d_sum, bucket_counts=d_buckets, explicit_bounds=histogram.bounds,
                min=low, max=high))
        return out


def eligible(readers: Sequence[MetricReader]) -> bool:
    """Whether every reader takes explicit-bucket histograms through the seam :func:`attach` uses."""
    from opentelemetry.sdk.metrics._internal.instrument import _Histogram

    for reader in readers:
        if not callable(getattr(reader, "_set_collect_callback", None)):
            return False
        aggregation = getattr(reader, "_instrument_class_aggregation", {}).get(_Histogram)
        temporality = getattr(reader, "_instrument_class_temporality", {}).get(_Histogram)
        if temporality not in (AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA):
            return False
        if isinstance(aggregation, DefaultAggregation):
            continue
        # What the OTLP exporters ask for by default: explicit buckets, the instrument's advisory ones.
        if not (isinstance(aggregation, ExplicitBucketHistogramAggregation)
                and getattr(aggregation, "_boundaries", ()) is None
                and getattr(aggregation, "_record_min_max", False) is True):
            return False
    return True


def attach(readers: Sequence[MetricReader], histograms: Sequence[PreAggregatedHistogram], resource: Resource,
           scope: InstrumentationScope) -> None:
    """Make each reader's collections carry ``histograms`` (call after the ``MeterProvider`` registered them)."""
    from opentelemetry.sdk.metrics._internal.instrument import _Histogram

    for reader in readers:
        original = reader._collect
        if original is None:
            continue
        temporality = reader._instrument_class_temporality[_Histogram]
        slot = None
        if temporality is AggregationTemporality.DELTA:
            slot = histograms[0].delta_readers if histograms else 0
            for histogram in histograms:
                histogram.delta_readers = slot + 1
        view = _ReaderView(temporality, slot)

        def collect(metric_reader: MetricReader, timeout_millis: float = 10_000, *, _original: Any = original,
                    _view: _ReaderView = view) -> MetricsData | None:
            data = _original(metric_reader, timeout_millis=timeout_millis)
            now = time_ns()
            metrics = []
            for histogram in histograms:
                points = _view.points(histogram, now)
                if points:
                    metrics.append(Metric(name=histogram.name, description=histogram.description, unit=histogram.unit,
                                          data=Histogram(data_points=points,
                                                         aggregation_temporality=_view.temporality)))
            _view.last_ns = now
            return merge(data, metrics, resource, scope) if metrics else data

        reader._set_collect_callback(collect)  # type: ignore[arg-type]  # the SDK's private hook, typed narrowly


def merge(data: MetricsData | None, metrics: list[Metric], resource: Resource,
          scope: InstrumentationScope) -> MetricsData:
    """``data`` with ``metrics`` added to ``scope``'s metrics (the SDK's points are frozen: new ones)."""
    if data is None or not data.resource_metrics:
        return MetricsData(resource_metrics=[ResourceMetrics(
            resource=resource, scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics, schema_url="")],
            schema_url="")])
    first, *rest = data.resource_metrics
    scopes = list(first.scope_metrics)
    for i, scope_metrics in enumerate(scopes):
        if scope_metrics.scope.name == scope.name and scope_metrics.scope.version == scope.version:
            scopes[i] = replace(scope_metrics, metrics=[*scope_metrics.metrics, *metrics])
            break
    else:
        scopes.append(ScopeMetrics(scope=scope, metrics=metrics, schema_url=""))
    return MetricsData(resource_metrics=[replace(first, scope_metrics=scopes), *rest])
