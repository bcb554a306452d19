"""Seed 003's ``lib.metrics_collector``: ``MetricsCollector`` and ``MetricType``.

``MetricsCollector(enable_memory_tracking=True, enable_latency_tracking=True)`` is a
:class:`conduit.framework.metrics.Metrics` (so it renders the same JSON document and
Prometheus text) with the seed's extras: ``record_memory_usage()``, ``get_latency_stats()``
with the seed's keys (``latencies``, ``p50``, ``p95``, ``p99``, besides ``p50_ms``...), and
``record(MetricType.X, value)``. The kernel's own registry is ``kernel_metrics()``; a
collector made here is the app's own.
"""

from __future__ import annotations

import enum
from typing import Any

from conduit.framework.metrics import Metrics
from conduit.framework.process import memory_usage

__all__ = ["MetricType", "MetricsCollector"]


class MetricType(str, enum.Enum):
    """What a measurement is (seed 003's constants)."""

    CACHE_HIT = "cache_hit"
    CACHE_MISS = "cache_miss"
    LATENCY = "latency"
    MEMORY = "memory"
    THROUGHPUT = "throughput"


class MetricsCollector(Metrics):
    """Seed 003's collector (see the module docstring); latency tracking off makes
    ``record_latency`` a no-op, memory tracking off makes ``record_memory_usage`` one."""

    def __init__(self, enable_memory_tracking: bool = True, enable_latency_tracking: bool = True,
                 **options: Any) -> None:
        super().__init__(track_memory=enable_memory_tracking, **options)
        self.enable_latency_tracking = enable_latency_tracking

    def record_latency(self, latency_ms: float) -> None:
        if self.enable_latency_tracking:
            super().record_latency(latency_ms)

    def record_memory_usage(self) -> None:
        """Sample resident memory now (its peak is kept for ``get_memory_stats``)."""
        if not self.track_memory:
            return
        usage = memory_usage()
        with self._lock:
            self._memory_peak = max(self._memory_peak, usage.peak_mb, usage.current_mb)

    def get_latency_stats(self) -> dict[str, Any]:
        stats = super().get_latency_stats()
        samples = self.recent_latencies_ms()
        return {**stats, "latencies": samples, "p50": stats["p50_ms"], "p95": stats["p95_ms"], "p99": stats["p99_ms"]}

    def record(self, metric_type: MetricType | str, value: float | None = None) -> None:
        """Record one measurement by type: a cache hit or miss, a latency (``value`` in ms),
        a memory sample, or one request towards throughput."""
        kind = MetricType(metric_type)
        if kind is MetricType.CACHE_HIT:
            self.record_cache_hit()
        elif kind is MetricType.CACHE_MISS:
            self.record_cache_miss()
        elif kind is MetricType.LATENCY:
            if value is None:
                raise ValueError("MetricType.LATENCY needs a value in milliseconds")
            self.record_latency(value)
        elif kind is MetricType.MEMORY:
            self.record_memory_usage()
        else:
            self.record_throughput()
