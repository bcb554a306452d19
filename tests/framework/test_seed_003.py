"""Seed 003's modules, used as the seed documents them with only the import lines changed:
``lib.error_handler`` -> conduit.framework.error_handler, ``lib.metrics_collector`` ->
conduit.framework.metrics_collector, ``lib.config_validator`` -> conduit.framework.config_validator."""

from __future__ import annotations

import time

import pytest

from conduit import Conduit
from conduit.framework.config_validator import ConfigValidator, DependencyError, ValidationError
from conduit.framework.error_handler import CacheError, ErrorHandler, NetworkError, OOMError
from conduit.framework.metrics_collector import MetricsCollector, MetricType
from conduit.testing import TestClient


def test_the_seeds_integration_example_runs() -> None:
    """The seed's "Enable Production Hardening" example, in a Conduit app."""
    error_handler = ErrorHandler(enable_graceful_degradation=True)
    metrics = MetricsCollector(enable_memory_tracking=True)
    validator = ConfigValidator()
    config_result = validator.validate_all_config()
    assert config_result["valid"], config_result

    app = Conduit(plugins=[])
    seen: list[dict] = []

    @app.post("/v1/completions")
    async def handle_completion(request):
        start = time.time()
        try:
            if (await request.json()).get("break_cache"):
                raise CacheError("cache backend at /var/cache/llm is gone")
            metrics.record_cache_hit()
            return {"ok": True}
        except CacheError as e:
            result = error_handler.handle_cache_error(e)
            seen.append(result)
            return {"ok": True, "cached": result["cache_enabled"]}
        finally:
            elapsed = (time.time() - start) * 1000
            metrics.record_latency(elapsed)
            metrics.record_throughput()
            metrics.record_memory_usage()

    with TestClient(app) as client:
        assert client.post("/v1/completions", json={}).json() == {"ok": True}
        for _ in range(3):
            client.post("/v1/completions", json={"break_cache": True})
    assert [r["cache_enabled"] for r in seen] == [True, True, False]  # degraded after 3 in a row
    assert seen[0] == {"status": "degraded", "cache_enabled": True, "fallback_available": True,
                       "error": "cache backend at <path> is gone"}
    stats = metrics.get_latency_stats()
    assert len(stats["latencies"]) == 4 and stats["p99"] >= stats["p50"] >= 0
    assert metrics.get_cache_stats()["hits"] == 1 and metrics.get_memory_stats()["current_mb"] > 0
    assert metrics.get_throughput_stats()["total_requests"] == 4


def test_retry_with_backoff_retries_what_may_pass_and_gives_up_after_max_retries() -> None:
    handler = ErrorHandler(max_retries=3, retry_backoff_ms=1)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise NetworkError("connection reset")
        return "answer"

    assert handler.retry_with_backoff(flaky) == "answer" and len(calls) == 3
    calls.clear()

    def down() -> None:
        calls.append(1)
        raise NetworkError("still down")

    with pytest.raises(NetworkError, match="still down"):
        handler.retry_with_backoff(down)
    assert len(calls) == 4  # the call and 3 retries

    def bug() -> None:
        calls.append(1)
        raise KeyError("a programming error is not retried")

    calls.clear()
    with pytest.raises(KeyError):
        handler.retry_with_backoff(bug)
    assert len(calls) == 1


def test_handle_oom_error_clears_the_registered_caches() -> None:
    handler = ErrorHandler()
    cache = {n: bytes(1000) for n in range(100)}
    handler.register_cache(cache.clear)
    try:
        raise OOMError("no memory left for /models/big.onnx")
    except OOMError as e:
        result = handler.handle_oom_error(e)
    assert cache == {} and result["status"] == "oom_handled" and result["cache_cleared"] and result["fallback_mode"]
    assert result["memory_freed_mb"] >= 0 and isinstance(OOMError("x"), MemoryError)
    assert isinstance(NetworkError("x"), ConnectionError)


def test_metric_types_and_the_config_validators_exceptions() -> None:
    metrics = MetricsCollector(enable_latency_tracking=False)
    metrics.record(MetricType.LATENCY, 5.0)  # latency tracking off: not recorded
    metrics.record(MetricType.CACHE_MISS)
    metrics.record("throughput")
    assert metrics.get_latency_stats()["latencies"] == [] and metrics.get_cache_stats()["misses"] == 1
    with pytest.raises(ValidationError, match="port must be between 0 and 65535"):
        ConfigValidator().validate_port(70000)
    with pytest.raises(ValidationError):  # the seed catches DependencyError as its own class too
        ConfigValidator().validate_dependency("surely-not-installed-package-xyz")
    assert issubclass(DependencyError, ValidationError)


def test_retry_with_backoff_retries_the_http_clients_network_errors() -> None:
    """requests' ConnectionError is an OSError, not a ConnectionError: it is retried too (the
    seed's own example calls requests.get), while an error that will not pass is not."""
    requests = pytest.importorskip("requests")
    from conduit.framework.error_handler import ErrorHandler

    handler = ErrorHandler(max_retries=2, retry_backoff_ms=1)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise requests.exceptions.ConnectionError("connection refused")
        return "ok"

    assert handler.retry_with_backoff(flaky) == "ok" and len(calls) == 3
    calls.clear()

    def broken() -> str:
        calls.append(1)
        raise FileNotFoundError("/no/such/model")

    with pytest.raises(FileNotFoundError):
        handler.retry_with_backoff(broken)
    assert len(calls) == 1
