"""Merging several workers' registries (conduit.framework.metrics_share) as /metrics shows them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from conduit.framework.metrics import Metrics
from conduit.framework.metrics_share import SharedMetrics


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def _write_other(folder: Path, metrics: Metrics, pid: int) -> None:
    state = metrics.state()
    state["pid"] = pid
    (folder / f"worker-{pid}.json").write_bytes(orjson.dumps(state))


def test_counters_and_histograms_sum_gauges_stay_per_live_worker(tmp_path: Path) -> None:
    mine, live_other, dead_other = Metrics(), Metrics(), Metrics()
    for registry, hits in ((mine, 3), (live_other, 4), (dead_other, 5)):
        for _ in range(hits):
            registry.record_request(0.02, method="GET", route="/x", status=200)
        registry.increment_counter("jobs", 2, {"kind": "a"})
        registry.set_gauge("queue_depth", hits)
        registry.record_cache_hit(hits)
        registry.observe_histogram("inference_seconds", 0.5)
    parent = os.getppid()  # alive for the whole test: stands for the other live worker
    _write_other(tmp_path, live_other, parent)
    _write_other(tmp_path, dead_other, _dead_pid())
    merged = SharedMetrics(mine, tmp_path).merged()

    assert merged.get_counter("http_requests_total", {"method": "GET", "route": "/x", "status": "200"}) == 12
    assert merged.get_counter("jobs", {"kind": "a"}) == 6  # a dead worker's counts stay: totals never fall
    assert merged.get_histogram("inference_seconds").count == 3
    assert merged.get_histogram("http_request_duration_seconds", {"method": "GET", "route": "/x"}).count == 12
    assert merged.get_cache_stats()["hits"] == 12
    gauges = {labels: value for (name, labels), value in merged._gauges.items() if name == "queue_depth"}  # noqa: SLF001
    assert gauges == {(("worker", str(os.getpid())),): 3.0, (("worker", str(parent)),): 4.0}  # the dead one's gone
    document = merged.export_metrics_json()
    assert document["throughput"]["workers"] == 2 and document["throughput"]["total_requests"] == 12
    assert document["latency"]["samples"] == 12
    text = merged.export_metrics_prometheus()
    assert "conduit_http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 12\n" in text
    assert f"conduit_queue_depth{{worker=\"{parent}\"}} 4\n" in text
    assert (tmp_path / f"worker-{os.getpid()}.json").exists()  # this worker wrote itself first


def test_a_state_round_trips(tmp_path: Path) -> None:
    metrics = Metrics()
    metrics.describe("size_bytes", "sizes", buckets=[10, 100])
    metrics.observe_histogram("size_bytes", 50, {"route": "/a"})
    metrics.increment_counter("done", 1)
    metrics.record_latency(12.0)
    again = Metrics.from_state(orjson.loads(orjson.dumps(metrics.state())))
    assert again.get_histogram("size_bytes", {"route": "/a"}).count == 1
    assert again.get_counter("done") == 1 and again.get_latency_stats()["samples"] == 1
    assert "conduit_size_bytes_bucket{route=\"/a\",le=\"100.0\"} 1\n" in again.export_metrics_prometheus()
