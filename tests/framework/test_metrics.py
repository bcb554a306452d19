"""Metrics: counters, gauges, histograms, timers, labels, bounded memory, seed 003's document."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from conduit.framework.metrics import Metrics, MetricsError
from conduit.framework.process import memory_usage


def test_seed_counter_gauge_histogram_and_timer() -> None:
    m = Metrics()
    m.increment_counter("requests", 1)
    m.increment_counter("requests", 1)
    assert m.get_counter("requests") == 2.0
    m.set_gauge("active_connections", 10)
    assert m.get_gauge("active_connections") == 10.0
    m.observe_histogram("response_time", 0.05)
    m.observe_histogram("response_time", 0.12)
    stats = m.get_histogram("response_time")
    assert stats.count == 2 and stats.sum == pytest.approx(0.17)
    assert stats.samples == (0.05, 0.12)
    m.start_timer("request")
    time.sleep(0.02)
    duration = m.stop_timer("request")
    assert 0.02 <= duration < 5
    assert m.get_histogram("request").count == 1


def test_labels_make_separate_series_whatever_their_order() -> None:
    m = Metrics()
    m.increment_counter("hits", labels={"route": "/a", "method": "GET"})
    m.increment_counter("hits", labels={"method": "GET", "route": "/a"})
    m.increment_counter("hits", labels={"route": "/b", "method": "GET"})
    assert m.get_counter("hits", {"route": "/a", "method": "GET"}) == 2
    assert m.get_counter("hits", {"route": "/b", "method": "GET"}) == 1
    assert m.get_counter("hits") == 0


def test_misuse_raises_metrics_error() -> None:
    m = Metrics()
    m.increment_counter("x")
    with pytest.raises(MetricsError, match="counter"):
        m.set_gauge("x", 1)
    with pytest.raises(MetricsError, match="only go up"):
        m.increment_counter("y", -1)
    with pytest.raises(MetricsError, match="not started"):
        m.stop_timer("never")


def test_percentiles_come_from_a_bounded_ring_of_recent_values() -> None:
    m = Metrics(reservoir_size=100)
    for v in range(1, 1001):
        m.observe_histogram("lat", float(v))
    stats = m.get_histogram("lat")
    assert stats.count == 1000  # totals cover everything
    assert stats.sum == sum(range(1, 1001))
    assert len(stats.samples) == 100  # memory is bounded
    assert stats.samples[0] == 901.0
    assert stats.p50 == pytest.approx(950.5)
    assert stats.p99 == pytest.approx(999.01)
    assert stats.min == 1.0 and stats.max == 1000.0


def test_empty_histogram_reads_as_zeros() -> None:
    stats = Metrics().get_histogram("nothing")
    assert (stats.count, stats.p50, stats.p99, stats.samples) == (0, 0.0, 0.0, ())


def test_concurrent_timers_with_one_name_do_not_clobber_each_other() -> None:
    m = Metrics()

    async def timed(delay: float) -> float:
        m.start_timer("work")
        await asyncio.sleep(delay)
        return m.stop_timer("work")

    async def main() -> list[float]:
        return await asyncio.gather(timed(0.15), timed(0.01))

    slow, fast = asyncio.run(main())
    assert slow >= 0.15 and fast < 0.15
    assert m.get_histogram("work").count == 2


def test_timers_in_threads_are_kept_apart() -> None:
    m = Metrics()
    results: dict[str, float] = {}
    barrier = threading.Barrier(2)

    def worker(name: str, delay: float) -> None:
        barrier.wait()
        m.start_timer("job")
        time.sleep(delay)
        results[name] = m.stop_timer("job")

    threads = [threading.Thread(target=worker, args=("slow", 0.15)), threading.Thread(target=worker, args=("fast", 0.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["slow"] >= 0.15 and results["fast"] < 0.15


def test_updates_from_many_threads_are_all_counted() -> None:
    m = Metrics()

    def work() -> None:
        for i in range(2000):
            m.increment_counter("n")
            m.observe_histogram("h", i)
            m.record_request(0.001, method="GET", route="/", status=200)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert m.get_counter("n") == 16000
    assert m.get_histogram("h").count == 16000
    assert m.get_counter("http_requests_total", {"method": "GET", "route": "/", "status": "200"}) == 16000
    assert m.get_throughput_stats()["total_requests"] == 16000


def test_export_json_has_seed_003_shape_and_real_values() -> None:
    m = Metrics(window_seconds=60)
    for ms in (10.0, 20.0, 30.0, 40.0):
        m.record_request(ms / 1000, method="GET", route="/x", status=200)
    m.record_cache_hit(3)
    m.record_cache_miss()
    doc = m.export_metrics_json()
    assert set(doc) == {"timestamp", "uptime_seconds", "cache", "latency", "memory", "throughput"}
    assert doc["timestamp"] == pytest.approx(time.time(), abs=5)
    assert doc["uptime_seconds"] >= 0
    assert doc["cache"] == {"hits": 3, "misses": 1, "hit_rate": 0.75}
    assert doc["latency"]["p50_ms"] == pytest.approx(25.0)
    assert doc["latency"]["samples"] == 4
    assert set(doc["memory"]) == {"current_mb", "peak_mb", "initial_mb", "growth_mb"}
    assert doc["memory"]["current_mb"] > 1
    assert doc["memory"]["peak_mb"] >= doc["memory"]["current_mb"]
    assert doc["throughput"] == {"requests_per_second": 4.0, "total_requests": 4, "window_seconds": 60}


def test_memory_usage_reports_resident_memory_that_grows_with_allocation() -> None:
    before = memory_usage()
    ballast = bytearray(64 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page so it is resident
    after = memory_usage()
    assert after.current_mb - before.current_mb > 40
    assert after.peak_mb >= after.current_mb
    del ballast


def test_reset_forgets_everything() -> None:
    m = Metrics()
    m.increment_counter("a")
    m.record_request(0.1)
    m.reset()
    assert m.get_counter("a") == 0
    assert m.export_metrics_json()["throughput"]["total_requests"] == 0


def test_a_batch_of_requests_lands_in_the_same_buckets_as_one_observation_each() -> None:
    """Requests are counted in batches; the histogram must read as if each was observed alone,
    bucket bounds themselves and values past the last bound included."""
    import random

    from conduit.framework.metrics import DEFAULT_BUCKETS, QUEUE_LIMIT

    rng = random.Random(7)
    durations = [rng.choice(DEFAULT_BUCKETS) for _ in range(40)] + [rng.uniform(0, 12) for _ in range(3 * QUEUE_LIMIT)]
    batched, one_by_one = Metrics(), Metrics()
    for d in durations:
        batched.record_request(d, method="GET", route="/", status=200)
        one_by_one.observe_histogram("http_request_duration_seconds", d, {"method": "GET", "route": "/"})
    labels = {"method": "GET", "route": "/"}
    a, b = batched.get_histogram("http_request_duration_seconds", labels), one_by_one.get_histogram(
        "http_request_duration_seconds", labels)
    assert (a.count, a.min, a.max, a.samples) == (b.count, b.min, b.max, b.samples)
    assert a.sum == pytest.approx(b.sum)
    bucket_lines = [line for line in batched.export_metrics_prometheus().splitlines()
                    if line.startswith("conduit_http_request_duration_seconds_bucket")]
    assert bucket_lines == [line for line in one_by_one.export_metrics_prometheus().splitlines()
                            if line.startswith("conduit_http_request_duration_seconds_bucket")]


def test_a_request_counts_towards_throughput_in_the_second_it_ended_not_when_counted() -> None:
    m = Metrics(window_seconds=60)
    now = time.perf_counter()
    for _ in range(3):
        m.record_request(0.01, method="GET", route="/", status=200, end=now - 120)  # outside the window
    for _ in range(2):
        m.record_request(0.01, method="GET", route="/", status=200, end=now)
    stats = m.get_throughput_stats()
    assert (stats["total_requests"], stats["requests_per_second"]) == (5, 2.0)


def test_queued_requests_stay_bounded_without_any_read() -> None:
    from conduit.framework.metrics import QUEUE_LIMIT

    m = Metrics()
    for _ in range(10 * QUEUE_LIMIT + 3):
        m.record_request(0.001, method="GET", route="/", status=200)
    assert len(m.request_queue) < QUEUE_LIMIT
