"""In-process metrics: counters, gauges, histograms and timers, with labels.

One lock guards every update, so a :class:`Metrics` is safe across asyncio tasks and
threads; served requests are queued without it (a deque's append is atomic) and counted
under it in batches, before any read. Memory is bounded: a histogram keeps cumulative Prometheus buckets plus a ring
of its most recent ``reservoir_size`` observations, from which percentiles are read (so
they describe recent behaviour); throughput is counted in one-second slots over a
rolling window. The same object renders seed 003's JSON document
(:meth:`Metrics.export_metrics_json`) and the Prometheus text format
(:meth:`Metrics.export_metrics_prometheus`).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import math
import operator
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from conduit.framework.errors import ConduitError
from conduit.framework.exposition import Family, Sample, metric_name, render
from conduit.framework.process import memory_usage

__all__ = ["DEFAULT_BUCKETS", "QUEUE_LIMIT", "UNMATCHED_ROUTE", "HistogramStats", "Metrics", "MetricsError", "PluginSample"]

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)

LabelsArg = Mapping[str, Any] | None
_Labels = tuple[tuple[str, str], ...]
_Key = tuple[str, _Labels]
PluginSample = tuple[str, str, Mapping[str, str], float]  # what conduit_metrics hookimpls return

REQUEST_DURATION = "http_request_duration_seconds"
REQUESTS_TOTAL = "http_requests_total"
CACHE_LOOKUPS = "cache_lookups_total"
UNMATCHED_ROUTE = "<unmatched>"
"""The ``route`` label of a request no route matched (404, 405)."""
_MAX_TIMERS = 10_000
QUEUE_LIMIT = 256
"""Served requests queued (:attr:`Metrics.request_queue`) before they are counted."""
# a queued request is (method, route, status, duration, end): its series and its parts
_SERIES = operator.itemgetter(0, 1, 2)
_METHOD, _ROUTE, _STATUS = operator.itemgetter(0), operator.itemgetter(1), operator.itemgetter(2)
_DURATION = operator.itemgetter(3)
_END = operator.itemgetter(4)


class MetricsError(ConduitError):
    """A metric was misused: a name reused with another type, a counter decreased, a
    timer stopped that was never started."""


def _labels(labels: LabelsArg) -> _Labels:
    if not labels:
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True, slots=True)
class HistogramStats:
    """A histogram's totals (all observations) and percentiles (recent observations)."""

    count: int
    sum: float
    min: float
    max: float
    p50: float
    p90: float
    p95: float
    p99: float
    samples: tuple[float, ...]

    @property
    def mean(self) -> float:
        return self.sum / self.count if self.count else 0.0

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the recent observations."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be between 0 and 1, got {q!r}")
        return _percentile(sorted(self.samples), q)


class _Histogram:
    __slots__ = ("bounds", "count", "counts", "max", "min", "recent", "sum")

    def __init__(self, bounds: tuple[float, ...], reservoir: int) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.recent: deque[float] = deque(maxlen=reservoir)

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(self.bounds, value)
        if i < len(self.counts):
            self.counts[i] += 1
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.recent.append(value)

    def observe_many(self, values: list[float], ordered: list[float] | None = None) -> None:
        """Observe every value of ``values`` (the same counts as one :meth:`observe` each);
        ``ordered`` is ``sorted(values)`` when the caller has it."""
        if not values:
            return
        if ordered is None:
            ordered = sorted(values)
        counts = self.counts
        below = 0
        for i, bound in enumerate(self.bounds):
            upto = bisect.bisect_right(ordered, bound, below)
            counts[i] += upto - below
            below = upto
        self.count += len(ordered)
        self.sum += sum(ordered)
        if ordered[0] < self.min:
            self.min = ordered[0]
        if ordered[-1] > self.max:
            self.max = ordered[-1]
        self.recent.extend(values)

    def stats(self) -> HistogramStats:
        ordered = sorted(self.recent)
        return HistogramStats(
            count=self.count,
            sum=self.sum,
            min=self.min if self.count else 0.0,
            max=self.max if self.count else 0.0,
            p50=_percentile(ordered, 0.50),
            p90=_percentile(ordered, 0.90),
            p95=_percentile(ordered, 0.95),
            p99=_percentile(ordered, 0.99),
            samples=tuple(self.recent),
        )


class _RateWindow:
    """Events per second over the last ``window`` seconds, in one-second slots."""

    __slots__ = ("slots", "total", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.slots: deque[list[int]] = deque()
        self.total = 0

    def add(self, now: float) -> None:
        second = int(now)
        slots = self.slots
        if slots and slots[-1][0] == second:
            slots[-1][1] += 1
        else:
            slots.append([second, 1])
            horizon = second - self.window
            while slots and slots[0][0] <= horizon:
                slots.popleft()
        self.total += 1

    def add_many(self, items: list[Any], moment: Callable[[Any], float], offset: float) -> None:
        """One event per item, at ``moment(item) + offset`` (wall seconds), items in the order
        they happened."""
        first, last = int(moment(items[0]) + offset), int(moment(items[-1]) + offset)
        if first == last:  # the usual batch: all within one second
            self.add(first)
            self.slots[-1][1] += len(items) - 1
            self.total += len(items) - 1
            return
        for item in items:
            self.add(moment(item) + offset)

    def rate(self, now: float, uptime: float) -> float:
        horizon = int(now) - self.window
        in_window = sum(n for second, n in self.slots if second > horizon)
        span = min(float(self.window), max(uptime, 1.0))
        return in_window / span


def _owner() -> Hashable:
    """Who started a timer: the running asyncio task, else the thread."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return task if task is not None else threading.get_ident()


class Metrics:
    """A registry of counters, gauges, histograms and timers (seed 000's ``_metrics``).

    ``namespace`` prefixes every Prometheus name; ``reservoir_size`` bounds the samples
    each histogram keeps for percentiles; ``window_seconds`` is the throughput window.
    """

    def __init__(
        self,
        *,
        namespace: str = "conduit",
        reservoir_size: int = 1024,
        window_seconds: int = 300,
        track_memory: bool = True,
    ) -> None:
        if reservoir_size < 1:
            raise ValueError("reservoir_size must be >= 1")
        if window_seconds < 1:
            raise ValueError("window_seconds must be >= 1")
        self.namespace = namespace
        self.reservoir_size = reservoir_size
        self.window_seconds = window_seconds
        self.track_memory = track_memory
        self._lock = threading.Lock()
        self.request_queue: deque[tuple[str, str, Any, float, float]] = deque()
        """Served requests not yet counted, as ``(method, route, status, duration, end)``
        (``end`` by ``time.perf_counter()``). :meth:`record_request` appends to it; a hot
        path may append itself and then call :meth:`count_queued` once the queue holds
        ``QUEUE_LIMIT`` requests. Reads count it first."""
        # Set under `conduit run --workers N`: the registry every worker shares (see
        # conduit.framework.metrics_share); the metrics endpoint answers from its merge.
        self.share: Any = None
        self._reset_state()

    def _reset_state(self) -> None:
        self._types: dict[str, str] = {}
        self._help: dict[str, str] = {}
        self._bounds: dict[str, tuple[float, ...]] = {}
        self._counters: dict[_Key, float] = {}
        self._gauges: dict[_Key, float] = {}
        self._histograms: dict[_Key, _Histogram] = {}
        self._timers: dict[tuple[str, Hashable], float] = {}
        # record_request's series by (method, route, status): label tuples built once each
        self._request_series: dict[tuple[str, str, Any], tuple[_Key, _Histogram]] = {}
        self.request_queue.clear()
        self._latency = _Histogram((), self.reservoir_size)  # seconds; the JSON document shows ms
        self._throughput = _RateWindow(self.window_seconds)
        self._cache = [0, 0]
        self._started_wall = time.time()
        self._started = time.monotonic()
        usage = memory_usage() if self.track_memory else None
        self._memory_initial = usage.current_mb if usage else 0.0
        self._memory_peak = usage.peak_mb if usage else 0.0

    def reset(self) -> None:
        """Forget every metric and restart the clocks (tests, or a fresh period)."""
        with self._lock:
            self._reset_state()

    # -- state, for merging several processes' registries (conduit.framework.metrics_share) ----

    def state(self) -> dict[str, Any]:
        """Everything recorded, as JSON-able data (:meth:`from_state` reads it back)."""
        memory = self.get_memory_stats() if self.track_memory else {"current_mb": 0.0, "peak_mb": 0.0,
                                                                    "initial_mb": 0.0, "growth_mb": 0.0}
        with self._lock:
            self._count_queue()
            return {
                "types": dict(self._types),
                "help": dict(self._help),
                "counters": [[name, labels, value] for (name, labels), value in self._counters.items()],
                "gauges": [[name, labels, value] for (name, labels), value in self._gauges.items()],
                "histograms": [[name, labels, _hist_state(h)] for (name, labels), h in self._histograms.items()],
                "latency": _hist_state(self._latency),
                "cache": list(self._cache),
                "throughput": {"total": self._throughput.total, "slots": [list(s) for s in self._throughput.slots]},
                "started_wall": self._started_wall,
                "memory": memory,
            }

    @classmethod
    def from_state(cls, state: dict[str, Any], *, reservoir_size: int = 1024, window_seconds: int = 300) -> Metrics:
        """A registry holding what :meth:`state` recorded (its clocks and memory are not live)."""
        metrics = cls(reservoir_size=reservoir_size, window_seconds=window_seconds, track_memory=False)
        metrics._types.update(state["types"])
        metrics._help.update(state["help"])
        for name, labels, value in state["counters"]:
            metrics._counters[(name, tuple(tuple(pair) for pair in labels))] = float(value)
        for name, labels, value in state["gauges"]:
            metrics._gauges[(name, tuple(tuple(pair) for pair in labels))] = float(value)
        for name, labels, data in state["histograms"]:
            metrics._histograms[(name, tuple(tuple(pair) for pair in labels))] = _hist_from(data, reservoir_size)
        metrics._latency = _hist_from(state["latency"], reservoir_size)
        metrics._cache = [int(n) for n in state["cache"]]
        metrics._throughput.total = int(state["throughput"]["total"])
        metrics._throughput.slots.extend([int(s), int(n)] for s, n in state["throughput"]["slots"])
        metrics._started_wall = float(state["started_wall"])
        return metrics

    # -- declaring -----------------------------------------------------------------------

    def _claim(self, name: str, kind: str) -> None:
        known = self._types.get(name)
        if known is None:
            self._types[name] = kind
        elif known != kind:
            raise MetricsError(f"metric {name!r} is a {known}; it cannot also be used as a {kind}")

    def describe(self, name: str, help: str, *, buckets: Iterable[float] | None = None) -> None:
        """Set the HELP text of ``name`` and, for a histogram, its bucket bounds."""
        with self._lock:
            self._help[name] = help
            if buckets is not None:
                bounds = tuple(sorted(float(b) for b in buckets if not math.isinf(b)))
                if not bounds:
                    raise ValueError("a histogram needs at least one finite bucket bound")
                if any(k[0] == name and h.bounds != bounds for k, h in self._histograms.items()):
                    raise MetricsError(f"histogram {name!r} already has observations in other buckets; "
                                       "describe its buckets before the first observation")
                self._bounds[name] = bounds

    # -- counters and gauges ----------------------------------------------------------------

    def increment_counter(self, name: str, value: float = 1.0, labels: LabelsArg = None) -> None:
        if value < 0:
            raise MetricsError(f"counter {name!r} can only go up; use a gauge for values that fall")
        key = (name, _labels(labels))
        with self._lock:
            if self._types.get(name) != "counter":
                self._claim(name, "counter")
            self._counters[key] = self._counters.get(key, 0.0) + value

    def get_counter(self, name: str, labels: LabelsArg = None) -> float:
        self.count_queued()
        return self._counters.get((name, _labels(labels)), 0.0)

    def set_gauge(self, name: str, value: float, labels: LabelsArg = None) -> None:
        key = (name, _labels(labels))
        with self._lock:
            self._claim(name, "gauge")
            self._gauges[key] = float(value)

    def increment_gauge(self, name: str, delta: float = 1.0, labels: LabelsArg = None) -> float:
        """Add ``delta`` (may be negative) to a gauge; returns the new value."""
        key = (name, _labels(labels))
        with self._lock:
            self._claim(name, "gauge")
            value = self._gauges[key] = self._gauges.get(key, 0.0) + delta
            return value

    def get_gauge(self, name: str, labels: LabelsArg = None) -> float:
        return self._gauges.get((name, _labels(labels)), 0.0)

    # -- histograms and timers ----------------------------------------------------------------

    def observe_histogram(self, name: str, value: float, labels: LabelsArg = None) -> None:
        key = (name, _labels(labels))
        with self._lock:
            hist = self._histograms.get(key)
            if hist is None:
                self._claim(name, "histogram")
                hist = self._histograms[key] = _Histogram(self._bounds.get(name, DEFAULT_BUCKETS), self.reservoir_size)
            hist.observe(float(value))

    def get_histogram(self, name: str, labels: LabelsArg = None) -> HistogramStats:
        """Totals and percentiles of ``name`` (all zero when nothing was observed)."""
        with self._lock:
            self._count_queue()
            hist = self._histograms.get((name, _labels(labels)))
            return (hist or _Histogram((), 1)).stats()

    def start_timer(self, name: str) -> None:
        """Start timing ``name`` for the current task (or thread); see :meth:`stop_timer`."""
        key = (name, _owner())
        with self._lock:
            if len(self._timers) >= _MAX_TIMERS:  # forgotten timers must not grow without bound
                self._timers.pop(next(iter(self._timers)))
            self._timers[key] = time.perf_counter()

    def stop_timer(self, name: str, labels: LabelsArg = None) -> float:
        """Seconds since this task's (or thread's) :meth:`start_timer` of ``name``,
        also observed into the histogram ``name``."""
        now = time.perf_counter()
        with self._lock:
            started = self._timers.pop((name, _owner()), None)
        if started is None:
            raise MetricsError(f"timer {name!r} was not started in this task or thread; call start_timer first")
        duration = now - started
        self.observe_histogram(name, duration, labels)
        return duration

    @contextlib.contextmanager
    def timer(self, name: str, labels: LabelsArg = None) -> Iterator[None]:
        """``with metrics.timer("inference"):`` observes the block's duration into ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe_histogram(name, time.perf_counter() - start, labels)

    # -- seed 003: cache, latency, throughput, memory ------------------------------------------

    def record_cache_hit(self, count: int = 1, cache: str | None = None) -> None:
        """``count`` cache hits: seed 003's totals, and with ``cache`` (which cache: "response",
        "features"...) the ``cache_lookups_total{cache,result}`` counter too."""
        with self._lock:
            self._cache[0] += count
        if cache is not None:
            self._count_lookup(cache, "hit", count)

    def record_cache_miss(self, count: int = 1, cache: str | None = None) -> None:
        """``count`` cache misses (see :meth:`record_cache_hit`)."""
        with self._lock:
            self._cache[1] += count
        if cache is not None:
            self._count_lookup(cache, "miss", count)

    def _count_lookup(self, cache: str, result: str, count: int) -> None:
        if CACHE_LOOKUPS not in self._help:
            self.describe(CACHE_LOOKUPS, "Cache lookups by cache and result (hit or miss)")
        self.increment_counter(CACHE_LOOKUPS, count, {"cache": cache, "result": result})

    def record_latency(self, latency_ms: float) -> None:
        """One request's latency for the JSON document's percentiles (milliseconds)."""
        with self._lock:
            self._latency.observe(latency_ms / 1000.0)

    def record_throughput(self) -> None:
        """Count one request towards ``requests_per_second``."""
        with self._lock:
            self._throughput.add(time.time())

    def record_request(
        self, duration: float, *, method: str = "", route: str = "", status: int | str = "", end: float | None = None
    ) -> None:
        """One served request: latency, throughput, ``http_requests_total{method,route,status}``
        and ``http_request_duration_seconds{method,route}``.

        ``end`` is when it ended, by ``time.perf_counter()`` (now when left out). The request
        path only queues the request: the queue is counted into the registry in batches, in
        one tight loop, and before anything reads the registry.
        """
        queue = self.request_queue
        queue.append((method, route, status, duration, time.perf_counter() if end is None else end))
        if len(queue) >= QUEUE_LIMIT:
            self.count_queued()

    def count_queued(self) -> None:
        """Count the queued requests (:attr:`request_queue`) into the registry now."""
        if self.request_queue:
            with self._lock:
                self._count_queue()

    def _count_queue(self) -> None:
        """Count the queued requests into the registry (called with the lock held).

        The batch is taken apart by C-level maps and grouped by series (usually one), so
        each histogram takes its durations in one call: sorted once, each bucket found by
        bisection, rather than one observation at a time.
        """
        queue = self.request_queue
        n = len(queue)
        if not n:
            return
        batch = list(map(operator.call, itertools.repeat(queue.popleft, n)))  # popleft: safe beside appends
        durations = list(map(_DURATION, batch))
        method, route, status = batch[0][:3]
        if (list(map(_METHOD, batch)).count(method) == n and list(map(_ROUTE, batch)).count(route) == n
                and list(map(_STATUS, batch)).count(status) == n):  # one series: the usual batch
            groups = {(method, route, status): durations}
        else:
            groups = {}
            for key, duration in zip(map(_SERIES, batch), durations):
                groups.setdefault(key, []).append(duration)
        counters = self._counters
        ordered = sorted(durations)
        for key, values in groups.items():
            series = self._request_series.get(key)
            if series is None:
                series = self._new_request_series(*key)
            counter_key, hist = series
            counters[counter_key] = counters.get(counter_key, 0.0) + len(values)
            hist.observe_many(values, ordered if values is durations else None)
        self._latency.observe_many(durations, ordered)
        wall = time.time() - time.perf_counter()  # the queue's clock to wall seconds
        self._throughput.add_many(batch, _END, wall)

    def _new_request_series(self, method: str, route: str, status: int | str) -> tuple[_Key, _Histogram]:
        """Called with the lock held, once per (method, route, status) until the next reset."""
        counter_key = (REQUESTS_TOTAL, (("method", method), ("route", route), ("status", str(status))))
        hist_key = (REQUEST_DURATION, (("method", method), ("route", route)))
        hist = self._histograms.get(hist_key)
        if hist is None:
            self._claim(REQUESTS_TOTAL, "counter")
            self._claim(REQUEST_DURATION, "histogram")
            hist = self._histograms[hist_key] = _Histogram(
                self._bounds.get(REQUEST_DURATION, DEFAULT_BUCKETS), self.reservoir_size
            )
        series = self._request_series[(method, route, status)] = (counter_key, hist)
        return series

    def get_cache_stats(self) -> dict[str, Any]:
        hits, misses = self._cache
        total = hits + misses
        return {"hits": hits, "misses": misses, "hit_rate": hits / total if total else 0.0}

    def get_latency_stats(self) -> dict[str, Any]:
        with self._lock:
            self._count_queue()
            stats = self._latency.stats()
        return {"p50_ms": _ms(stats.p50), "p95_ms": _ms(stats.p95), "p99_ms": _ms(stats.p99), "samples": stats.count}

    def recent_latencies_ms(self) -> list[float]:
        """The recent requests' latencies the percentiles come from, oldest first (ms)."""
        with self._lock:
            self._count_queue()
            return [_ms(s) for s in self._latency.recent]

    def get_memory_stats(self) -> dict[str, float]:
        usage = memory_usage() if self.track_memory else None
        current = usage.current_mb if usage else 0.0
        with self._lock:
            self._memory_peak = max(self._memory_peak, usage.peak_mb if usage else 0.0, current)
            peak, initial = self._memory_peak, self._memory_initial
        return {
            "current_mb": round(current, 1),
            "peak_mb": round(peak, 1),
            "initial_mb": round(initial, 1),
            "growth_mb": round(current - initial, 1),
        }

    def get_throughput_stats(self) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            self._count_queue()
            rate = self._throughput.rate(now, time.monotonic() - self._started)
            total = self._throughput.total
        return {"requests_per_second": rate, "total_requests": total, "window_seconds": self.window_seconds}

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started

    def export_metrics_json(self) -> dict[str, Any]:
        """Seed 003's ``/v1/metrics`` document."""
        return {
            "timestamp": time.time(),
            "uptime_seconds": self.uptime_seconds,
            "cache": self.get_cache_stats(),
            "latency": self.get_latency_stats(),
            "memory": self.get_memory_stats(),
            "throughput": self.get_throughput_stats(),
        }

    # -- Prometheus ---------------------------------------------------------------------------------

    def families(self, extra: Iterable[PluginSample] = ()) -> list[Family]:
        """Every metric as exposition families: seed 003's gauges, then the registry's,
        then ``extra`` samples (from ``conduit_metrics`` hookimpls)."""
        ns = self.namespace
        doc = self.export_metrics_json()
        out: list[Family] = []

        def single(name: str, kind: str, help: str, value: float) -> None:
            full = metric_name(name, ns)
            out.append(Family(full, kind, help, [Sample(full, (), value)]))

        single("uptime_seconds", "gauge", "Seconds since the metrics started", doc["uptime_seconds"])
        single("cache_hits_total", "counter", "Total cache hits", doc["cache"]["hits"])
        single("cache_misses_total", "counter", "Total cache misses", doc["cache"]["misses"])
        single("cache_hit_rate", "gauge", "Cache hit rate (0-1)", doc["cache"]["hit_rate"])
        for q in ("p50", "p95", "p99"):
            single(f"latency_{q}_ms", "gauge", f"{q[1:]}th percentile request latency (recent requests)",
                   doc["latency"][f"{q}_ms"])
        if self.track_memory:
            single("memory_current_mb", "gauge", "Resident memory now", doc["memory"]["current_mb"])
            single("memory_peak_mb", "gauge", "Peak resident memory", doc["memory"]["peak_mb"])
            single("memory_growth_mb", "gauge", "Resident memory growth since start", doc["memory"]["growth_mb"])
        single("throughput_rps", "gauge", "Requests per second over the rolling window",
               doc["throughput"]["requests_per_second"])
        with self._lock:
            self._count_queue()
            out.extend(self._registry_families())
        out.extend(_extra_families(extra, ns))
        return out

    def _registry_families(self) -> Iterator[Family]:
        ns = self.namespace
        by_name: dict[str, Family] = {}

        def family(name: str, kind: str) -> Family:
            fam = by_name.get(name)
            if fam is None:
                base = metric_name(name, ns)
                if kind == "counter" and not base.endswith("_total"):
                    base += "_total"
                fam = by_name[name] = Family(base, kind, self._help.get(name, name))
            return fam

        for (name, labels), value in self._counters.items():
            fam = family(name, "counter")
            fam.samples.append(Sample(fam.name, labels, value))
        for (name, labels), value in self._gauges.items():
            fam = family(name, "gauge")
            fam.samples.append(Sample(fam.name, labels, value))
        for (name, labels), hist in self._histograms.items():
            fam = family(name, "histogram")
            cumulative = 0
            for bound, n in zip(hist.bounds, hist.counts):
                cumulative += n
                fam.samples.append(Sample(fam.name + "_bucket", labels + (("le", _le(bound)),), cumulative))
            fam.samples.append(Sample(fam.name + "_bucket", labels + (("le", "+Inf"),), hist.count))
            fam.samples.append(Sample(fam.name + "_sum", labels, hist.sum))
            fam.samples.append(Sample(fam.name + "_count", labels, hist.count))
        return iter(by_name.values())

    def export_metrics_prometheus(self, extra: Iterable[PluginSample] = ()) -> str:
        """Everything in the Prometheus text exposition format."""
        return render(self.families(extra))


def _hist_state(hist: _Histogram) -> dict[str, Any]:
    return {"bounds": list(hist.bounds), "counts": list(hist.counts), "count": hist.count, "sum": hist.sum,
            "min": hist.min if hist.count else None, "max": hist.max if hist.count else None,
            "recent": list(hist.recent)}


def _hist_from(data: dict[str, Any], reservoir: int) -> _Histogram:
    hist = _Histogram(tuple(float(b) for b in data["bounds"]), reservoir)
    hist.counts = [int(n) for n in data["counts"]]
    hist.count = int(data["count"])
    hist.sum = float(data["sum"])
    hist.min = math.inf if data["min"] is None else float(data["min"])
    hist.max = -math.inf if data["max"] is None else float(data["max"])
    hist.recent.extend(float(v) for v in data["recent"])
    return hist


def _ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded so that a value recorded in ms reads back as given."""
    return round(seconds * 1000.0, 9)


def _le(bound: float) -> str:
    return repr(float(bound))


def _extra_families(samples: Iterable[PluginSample], ns: str) -> list[Family]:
    by_name: dict[str, Family] = {}
    for name, kind, labels, value in samples:
        if kind not in ("counter", "gauge"):
            raise MetricsError(f"plugin metric {name!r} has type {kind!r}; use 'counter' or 'gauge'")
        full = metric_name(name, ns)
        if kind == "counter" and not full.endswith("_total"):
            full += "_total"
        fam = by_name.setdefault(full, Family(full, kind, name))
        fam.samples.append(Sample(full, _labels(labels), float(value)))
    return list(by_name.values())
