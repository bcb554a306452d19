"""Seed 003 (the text-generation server's hardening API): its samples, run from the seed's text
with ``lib.*`` imports rewritten to ``conduit.framework.*`` by docs/seeds.md.

What the samples leave to the reader is supplied: ``handler`` / ``metrics`` / ``validator``
(made by the seed's own initialisation samples), a ``logger``, ``sys`` and ``time``, and, for
``CacheError``, which the seed uses without an import, the Conduit class (docs/seeds.md). A
``# cache operation`` placeholder becomes the operation failing, a ``/path/to/model``
placeholder a real directory. The seed's ``Returns:`` blocks are evaluated and compared,
key for key, with what Conduit returns; its JSON and Prometheus examples of ``/v1/metrics``
with what the endpoint serves.

``tests/framework/test_seed_003.py`` exercises the same classes through retyped code; this
module runs the seed's own.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conduit import Conduit
from conduit.testing import TestClient

from .samples import block, blocks, conduit_globals, python_blocks, run_lines_in, sample

SEED = "003"
NOT_RUN: dict[int, str] = {}  # every python block of seed 003 runs


@pytest.fixture
def ns() -> dict[str, Any]:
    return {"__name__": "seed_003_sample", **conduit_globals(SEED), "logger": logging.getLogger("seed003"),
            "sys": sys, "time": time}


def _shape(value: Any) -> Any:
    """The keys of a (nested) dict, to compare a seed's ``Returns:`` block with a real result."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__ if value is not Ellipsis else "..."


def _returns(returns: Any) -> dict[str, Any]:
    """A seed ``Returns:`` block (a dict literal, ``...`` for elided items) as a value."""
    return ast.literal_eval(returns.code.replace("...", "None"))


def test_every_python_block_runs_or_says_why() -> None:
    run = run_lines_in(Path(__file__).read_text(encoding="utf-8"))
    assert not run - {b.line for b in blocks(SEED)}
    assert {b.line for b in python_blocks(SEED)} - run == set(NOT_RUN)


# --- ErrorHandler --------------------------------------------------------------------------------


def test_exceptions_are_caught_by_the_seeds_except_clauses(ns: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="seed003"):
        sample(SEED, 178, ("# cache operation", "raise CacheError('kv cache unreadable')")).run(ns)
        sample(SEED, 189, ("# memory-intensive operation", "raise OOMError('no memory for the batch')")).run(ns)
        sample(SEED, 202, ("# network operation", "raise NetworkError('upstream reset')")).run(ns)
    assert [r.getMessage() for r in caplog.records] == [
        "Cache operation failed: kv cache unreadable", "Out of memory: no memory for the batch",
        "Network error: upstream reset"]


def test_error_handler_degrades_the_cache_and_handles_oom(ns: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    sample(SEED, 217).run(ns)
    handler = ns["handler"]
    assert (handler.enable_graceful_degradation, handler.max_retries, handler.retry_backoff_ms) == (True, 3, 100)
    failing = sample(SEED, 233, ("# cache operation", "raise OSError('cache file /var/cache/kv.bin is corrupt')"))
    with caplog.at_level(logging.WARNING, logger="seed003"):
        for _ in range(3):
            failing.run(ns)
            if ns["result"]["cache_enabled"]:
                assert not [r for r in caplog.records if r.name == "seed003"]
    assert ns["result"] == {"status": "degraded", "cache_enabled": False, "fallback_available": True,
                            "error": "cache file <path> is corrupt"}  # "Safe error message": no path
    assert [r.getMessage() for r in caplog.records if r.name == "seed003"] == ["Cache disabled due to persistent errors"]
    assert _shape(ns["result"]) == {**_shape(_returns(block(SEED, 245))), "error": "str"}

    cache = {"prompt": bytes(10_000)}
    handler.register_cache(cache.clear)
    with caplog.at_level(logging.INFO, logger="seed003"):
        sample(SEED, 258, ("# memory operation", "raise OOMError('out of memory loading /models/llama.bin')")).run(ns)
    assert cache == {} and "Cache cleared to free memory" in caplog.messages
    assert _shape(ns["result"]) == _shape(_returns(block(SEED, 271)))


def test_retry_with_backoff_and_sanitize(ns: dict[str, Any]) -> None:
    sample(SEED, 217).run(ns)
    ns["handler"].retry_backoff_ms = 1

    class Remote:
        """A stand-in for the ``requests`` module the sample calls: two resets, then an answer."""

        calls = 0

        def get(self, url: str) -> str:
            Remote.calls += 1
            if Remote.calls < 3:
                raise ns["NetworkError"](f"connection to {url} reset")
            return "200 OK"

    sample(SEED, 284).run(ns, requests=Remote())
    assert ns["response"] == "200 OK" and Remote.calls == 3

    sample(SEED, 295).run(ns, path="/srv/models/secret/config.yaml", error="permission denied")
    assert "/srv/models" not in ns["safe_msg"] and "permission denied" in ns["safe_msg"]  # "path redacted"


def test_retry_with_backoff_retries_the_seeds_requests_call(ns: dict[str, Any]) -> None:
    requests = pytest.importorskip("requests")

    from conduit.testing import free_port

    sample(SEED, 217).run(ns)
    ns["handler"].retry_backoff_ms = 1
    calls = []

    class Counting:
        def get(self, url: str) -> Any:
            calls.append(url)
            return requests.get(url, timeout=2)

    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: a connection error, no DNS needed
    with pytest.raises(requests.exceptions.ConnectionError):
        sample(SEED, 284, ("'http://remote-api'", repr(closed))).run(ns, requests=Counting())
    assert len(calls) == 1 + ns["handler"].max_retries  # the call and 3 retries, as the seed says


# --- MetricsCollector ----------------------------------------------------------------------------


def test_metrics_collector_samples(ns: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    sample(SEED, 309).run(ns)
    assert {m.name for m in ns["MetricType"]} == {"CACHE_HIT", "CACHE_MISS", "LATENCY", "MEMORY", "THROUGHPUT"}
    sample(SEED, 323).run(ns)
    sample(SEED, 338).run(ns, cache_match_found=True)
    sample(SEED, 338).run(ns)
    sample(SEED, 338).run(ns)
    sample(SEED, 347).run(ns, cache_match_not_found=True)
    sample(SEED, 356).run(ns)
    assert capsys.readouterr().out == "Hit rate: 75.00%\n"
    assert ns["stats"] == {"hits": 3, "misses": 1, "hit_rate": 0.75}
    assert _shape(ns["stats"]) == _shape(_returns(block(SEED, 363)))
    sample(SEED, 375).run(ns)
    sample(SEED, 386).run(ns)
    assert re.fullmatch(r"P99 latency: \d+\.\dms\n", capsys.readouterr().out)
    assert {"latencies", "p50", "p95", "p99"} <= set(ns["stats"]) and len(ns["stats"]["latencies"]) == 1
    assert set(_returns(block(SEED, 393))) <= set(ns["stats"])
    sample(SEED, 406).run(ns)
    sample(SEED, 414).run(ns)
    current, peak = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Current: \d+\.\dMB", current) and re.fullmatch(r"Peak: \d+\.\dMB", peak)
    assert _shape(ns["stats"]) == {k: "float" for k in _returns(block(SEED, 422))}
    sample(SEED, 435).run(ns)
    sample(SEED, 443).run(ns)
    assert capsys.readouterr().out.startswith("Requests/sec: ")
    assert ns["stats"]["total_requests"] == 1 and set(_returns(block(SEED, 450))) <= set(ns["stats"])
    sample(SEED, 462).run(ns)
    seed_document = json.loads(block(SEED, 33).code)
    assert _keys(ns["metrics_json"]) >= _keys(seed_document)
    assert ns["metrics_json"]["cache"] == {"hits": 3, "misses": 1, "hit_rate": 0.75}
    sample(SEED, 471).run(ns)
    assert "conduit_cache_hits_total 3" in ns["prometheus_text"].splitlines()


def _keys(document: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in document.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= _keys(value, prefix + key + ".")
    return keys


# --- The /v1/metrics endpoint --------------------------------------------------------------------


def _jq_paths(line: int) -> list[str]:
    return re.findall(r"jq '(\.[\w.]+)", block(SEED, line).code)


def _jq(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.strip(".").split("."):
        value = value[part]
    return value


def test_v1_metrics_serves_the_seeds_json_and_prometheus_documents() -> None:
    """``GET /v1/metrics`` (seed lines 19-21) against an app: the JSON document has every field
    of the seed's example (33-58) and table (63-80); the Prometheus text every series of the
    seed's example (85-127), named ``conduit_*`` where the seed has ``mlx_server_*``; the
    seed's ``jq`` lines (155-162, 665-669) find their fields."""
    app = Conduit()

    @app.get("/work")
    def work(request: Any) -> dict[str, bool]:
        return {"ok": True}

    with TestClient(app) as client:
        for _ in range(3):
            client.get("/work")
        default = client.get("/v1/metrics")
        as_json = client.get("/v1/metrics?format=json")
        prometheus = client.get("/v1/metrics?format=prometheus")
    assert default.status_code == as_json.status_code == prometheus.status_code == 200
    document = as_json.json()
    seed_document = json.loads(block(SEED, 33).code)
    assert _keys(document) >= _keys(seed_document) and _keys(default.json()) >= _keys(seed_document)
    fields = re.findall(r"^\| `([\w.]+)` \| (float|int) \|", "\n".join(block_text_lines(61, 81)), re.M)
    assert len(fields) == 16
    for field_name, kind in fields:
        value = _jq(document, field_name)
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (field_name, value)
        if kind == "int":
            assert float(value).is_integer(), (field_name, value)
    assert document["throughput"]["total_requests"] >= 3 and document["latency"]["samples"] >= 3
    assert 0.0 <= document["cache"]["hit_rate"] <= 1.0
    for line in (155, 662):
        for path in _jq_paths(line):
            assert isinstance(_jq(document, path), (int, float)), path

    assert prometheus.headers["content-type"].startswith("text/plain")
    ours = {f.name: f.type for f in text_string_to_metric_families(prometheus.text)}
    theirs = {f.name: f.type for f in text_string_to_metric_families(block(SEED, 85).code)}
    assert len(theirs) == 11
    for name, kind in theirs.items():
        conduit_name = "conduit_" + name.removeprefix("mlx_server_")
        assert conduit_name in ours, f"no {conduit_name} (the seed's {name})"
        if name != "mlx_server_uptime_seconds":  # the seed calls uptime a counter; it is a gauge
            assert ours[conduit_name] == kind, (name, kind, ours[conduit_name])


def block_text_lines(first: int, last: int) -> list[str]:
    from .samples import seed_text

    return seed_text(SEED).split("\n")[first - 1: last]


# --- ConfigValidator -------------------------------------------------------------------------------


def test_config_validator_samples(ns: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  caplog: pytest.LogCaptureFixture) -> None:
    sample(SEED, 516).run(ns)
    sample(SEED, 528).run(ns)
    assert ns["result"]["valid"] is True and ns["result"]["port"] == 80 and "privileged" in ns["result"]["warning"]
    assert ns["validator"].validate_port(8080) == {"valid": True, "port": 8080}

    monkeypatch.delenv("PORT", raising=False)
    with caplog.at_level(logging.ERROR, logger="seed003"), pytest.raises(SystemExit) as stopped:
        sample(SEED, 488).run(ns)  # PORT required and unset: the seed's except clause exits
    assert stopped.value.code == 1 and caplog.messages[-1].startswith("Config validation failed: ")
    monkeypatch.setenv("PORT", "8080")
    sample(SEED, 488).run(ns)

    with caplog.at_level(logging.ERROR, logger="seed003"), pytest.raises(SystemExit):
        sample(SEED, 502).run(ns)  # torch is not installed here
    assert "torch" in caplog.messages[-1] and caplog.messages[-1].startswith("Missing dependency: ")

    monkeypatch.setenv("MAX_REQUESTS", "100")
    monkeypatch.setenv("MODEL_PATH", "/models/llama")
    sample(SEED, 542).run(ns)
    assert ns["result"].items() >= {"valid": True, "value": "/models/llama", "var_name": "MODEL_PATH"}.items()
    assert ns["validator"].validate_env_var("MAX_REQUESTS", required=True, var_type="int", min_value=1,
                                            max_value=10000)["value"] == 100
    assert set(_returns(block(SEED, 562))) <= set(ns["result"])

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    sample(SEED, 574, ("'/path/to/model'", repr(str(model_dir)))).run(ns)
    assert ns["result"]["valid"] is True and ns["result"]["exists"] is True

    with pytest.raises(ns["DependencyError"], match="mlx"):
        sample(SEED, 583).run(ns)  # "Raises DependencyError if dependency is missing": mlx is

    sample(SEED, 597).run(ns)
    assert ns["result"]["valid"] is True and set(_returns(block(SEED, 607))) <= set(ns["result"])


# --- The integration example -----------------------------------------------------------------------


def test_the_integration_example_in_a_conduit_app(ns: dict[str, Any]) -> None:
    """Seed lines 621-657 as written (imports rewritten), its ``app`` a Conduit app, its
    ``# ... process request ...`` the request failing on a broken cache when asked to."""
    app = Conduit()
    integration = sample(SEED, 621, (
        "# ... process request ...",
        "if request.query.get('cache') == 'broken':\n            raise CacheError('kv cache at /var/cache/mlx is corrupt')",
    ))
    integration.run(ns, app=app, response={"text": "Hello!"})
    assert ns["config_result"]["valid"] is True
    with TestClient(app) as client:
        assert client.post("/v1/completions").json() == {"text": "Hello!"}
        fallbacks = [client.post("/v1/completions?cache=broken").status_code for _ in range(3)]
        metrics_document = client.get("/v1/metrics").json()
    assert all(status in (200, 204) for status in fallbacks)  # the error is handled, not a 500
    handler, metrics = ns["error_handler"], ns["metrics"]
    assert handler.cache_enabled is False  # "Disable cache on persistent errors"
    assert metrics.get_cache_stats()["hits"] == 1
    assert len(metrics.get_latency_stats()["latencies"]) == 4  # the finally clause ran every time
    assert metrics.get_throughput_stats()["total_requests"] == 4 and metrics.get_memory_stats()["peak_mb"] > 0
    assert metrics_document["throughput"]["total_requests"] >= 4  # the app's own /v1/metrics counted them too
