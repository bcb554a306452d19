"""examples/production.py, the seed's "Complete Production Example", through its public routes.

Each test loads a fresh copy of the example (its own app, rate-limit store and engine);
``_metrics`` and ``_health_check`` are process-wide, so metric checks compare before and
after. The in-process copies get a stand-in for ``setup_signal_handlers`` (pytest's own
process keeps its signals); the shutdown tests run the example in a real child process.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import signal
import subprocess
import sys
import types
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conduit.framework.edge_cases import GracefulShutdownHandler
from conduit.framework.monitoring import _metrics
from conduit.testing import LiveServer, TestClient, free_port, wait_until_serving

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "production.py"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}
# Iris rows, one of each class and two near the versicolor/virginica boundary.
SAMPLES = [
    [5.1, 3.5, 1.4, 0.2],
    [7.0, 3.2, 4.7, 1.4],
    [6.3, 3.3, 6.0, 2.5],
    [6.0, 2.2, 5.0, 1.5],
    [6.3, 2.8, 5.1, 1.5],
]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model build per session, outside the user's cache."""
    return tmp_path_factory.mktemp("example-models")


@pytest.fixture
def production(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    monkeypatch.setenv("CONDUIT_PLUGINS", "")
    monkeypatch.setenv("CONDUIT_EXAMPLES_CACHE", str(model_cache))
    monkeypatch.syspath_prepend(str(REPO))
    installed: list[GracefulShutdownHandler] = []
    monkeypatch.setattr(GracefulShutdownHandler, "setup_signal_handlers", lambda self: installed.append(self))
    name = f"production_example_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    assert installed == [module.shutdown]  # the example asks for signal handling
    try:
        yield module
    finally:
        module.engine.close()


@pytest.fixture
def client(production: types.ModuleType) -> Iterator[TestClient]:
    with TestClient(production.app) as test_client:
        yield test_client


def _estimator(production: types.ModuleType) -> object:
    with open(production.MODEL_PATH, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - the file this test session built


def test_home_names_the_service(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.json() == {"service": "Production API", "version": "1.0.0"}


def test_health_runs_the_model_check(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert body["checks"]["model"]["message"] == "Model loaded"
    # The built-in probes stay beside the example's own /health.
    assert client.get("/health/live").json() == {"status": "alive"}
    assert client.get("/health/ready").json()["checks"]["model"]["ok"] is True


def test_predictions_equal_the_models_own(production: types.ModuleType, client: TestClient) -> None:
    estimator = _estimator(production)
    expected = [int(v) for v in estimator.predict(SAMPLES)]  # type: ignore[attr-defined]
    assert len(set(expected)) == 3  # all three classes are exercised
    before = _metrics.get_counter("predictions.success")
    got = []
    for features in SAMPLES:
        r = client.post("/predict", json={"features": features})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["duration_ms"] > 0
        got.append(body["prediction"])
    assert got == expected
    assert _metrics.get_counter("predictions.success") - before == len(SAMPLES)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "'features' is required"),
        ({"inputs": [1, 2, 3, 4]}, "'features' is required"),
        ({"features": None}, "'features' is required"),
        ([[5.1, 3.5, 1.4, 0.2]], "the body must be a JSON object, got array"),
    ],
)
def test_predict_without_features_is_400(client: TestClient, body: object, detail: str) -> None:
    r = client.post("/predict", json=body)
    assert r.status_code == 400
    assert r.json()["error"] == "Validation failed"
    assert r.json()["detail"] == detail


@pytest.mark.parametrize("features", [[5.1, 3.5, 1.4, 1e308], [-1.0, 3.5, 1.4, 0.2]], ids=["huge", "negative"])
def test_predict_with_measurements_outside_0_to_100_cm_is_400_naming_them(client: TestClient, features: list) -> None:
    r = client.post("/predict", json={"features": features})
    assert r.status_code == 400 and r.json()["error"] == "Validation failed"
    assert "between 0.0 and 100.0" in r.json()["detail"]


def test_predict_with_invalid_json_is_400(client: TestClient) -> None:
    r = client.post("/predict", content=b"{features: [1,2]", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_json"


@pytest.mark.parametrize(
    "features",
    [[5.1, 3.5, 1.4], [5.1, 3.5, 1.4, 0.2, 9.9], [[5.1, 3.5], [1.4]], "5.1,3.5,1.4,0.2", []],
    ids=["three", "five", "ragged", "string", "empty"],
)
def test_predict_with_features_of_the_wrong_shape_is_422(client: TestClient, features: object) -> None:
    before = _metrics.get_counter("predictions.failed")
    r = client.post("/predict", json={"features": features})
    assert r.status_code == 422, r.text
    assert r.json()["status"] == 422
    assert _metrics.get_counter("predictions.failed") - before == 1


def test_rate_limit_answers_429_after_1000_requests(production: types.ModuleType) -> None:
    with TestClient(production.app, client=("203.0.113.7", 40000)) as c:
        for i in range(1000):
            r = c.get("/")
            assert r.status_code == 200, (i, r.text)
        assert r.headers["x-ratelimit-limit"] == "1000"
        assert r.headers["x-ratelimit-remaining"] == "0"
        refused = c.get("/", headers={"origin": "https://app.example.com"})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["code"] == "rate_limited"
        # The outer middleware still dress the refusal.
        assert refused.headers["access-control-allow-origin"] == "*"
        assert refused.headers["x-frame-options"] == "DENY"
        # Health probes are exempt, and another client (an API key) has its own window.
        assert c.get("/health").status_code == 200
        assert c.get("/", headers={"x-api-key": "another-client"}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/", {}, 200),
        ("get", "/health", {}, 200),
        ("get", "/metrics", {}, 200),
        ("post", "/predict", {"json": {"features": SAMPLES[0]}}, 200),
        ("post", "/predict", {"json": {}}, 400),
        ("get", "/nowhere", {}, 404),
        ("delete", "/predict", {}, 405),
    ],
)
def test_security_headers_are_on_every_response(
    client: TestClient, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value, name
    assert "strict-transport-security" not in r.headers  # plain HTTP (RFC 6797 7.2)


def test_cors_answers_preflight_and_marks_responses(client: TestClient) -> None:
    preflight = client.options(
        "/predict",
        headers={
            "origin": "https://app.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "Content-Type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"].split(", ")
    assert preflight.headers["access-control-allow-headers"] == "Content-Type, Authorization"
    assert preflight.headers["access-control-max-age"] == "600"
    r = client.post("/predict", json={"features": SAMPLES[0]}, headers={"origin": "https://app.example.com"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    refused = client.options(
        "/predict", headers={"origin": "https://app.example.com", "access-control-request-method": "TRACE"}
    )
    assert refused.status_code == 400 and refused.json()["code"] == "cors_preflight_refused"


def test_body_over_50_mb_is_413_before_it_is_read(client: TestClient) -> None:
    r = client.post("/predict", content=b"{}", headers={"content-length": str(50 * 1024 * 1024 + 1)})
    assert r.status_code == 413
    assert r.headers["x-content-type-options"] == "nosniff"


def test_metrics_serve_prometheus_text(client: TestClient) -> None:
    assert client.post("/predict", json={"features": SAMPLES[1]}).status_code == 200
    assert "latency" in client.get("/metrics").json()  # JSON by default (seed 003's document)
    for kwargs in ({"params": {"format": "prometheus"}}, {"headers": {"accept": "text/plain"}}):
        r = client.get("/metrics", **kwargs)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(r.text)}
        assert families["conduit_predictions_success"].type == "counter"
        assert families["conduit_predictions_success"].samples[0].value >= 1
        assert families["conduit_prediction_duration"].type == "histogram"
        requests = families["conduit_http_requests"].samples
        assert any(s.labels == {"method": "POST", "route": "/predict", "status": "200"} for s in requests)


def test_live_server_serves_the_stack_over_real_sockets(production: types.ModuleType) -> None:
    estimator = _estimator(production)
    with LiveServer(production.app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        r = http.post("/predict", json={"features": SAMPLES[2]}, headers={"origin": "https://app.example.com"})
        assert r.status_code == 200
        assert r.json()["prediction"] == int(estimator.predict([SAMPLES[2]])[0])  # type: ignore[attr-defined]
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-ratelimit-remaining"] == "999"
        assert http.post("/predict", json={"features": [1, 2]}).status_code == 422
        assert http.get("/health").json()["status"] == "ok"
        prom = http.get("/metrics", params={"format": "prometheus"}).text
        assert any(f.name == "conduit_http_requests" for f in text_string_to_metric_families(prom))


# --- shutdown, in a real child process -----------------------------------------------------------


def _child_env(model_cache: Path) -> dict[str, str]:
    return {**os.environ, "CONDUIT_PLUGINS": "", "CONDUIT_EXAMPLES_CACHE": str(model_cache), "PYTHONUNBUFFERED": "1"}


@pytest.mark.slow
def test_sigterm_while_serving_drains_then_runs_the_cleanup(model_cache: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conduit.cli", "run", "examples.production:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO, env=_child_env(model_cache), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/predict", process=proc)
        r = httpx.post(f"http://127.0.0.1:{port}/predict", json={"features": SAMPLES[0]}, timeout=30)
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert out.count("Cleanup complete") == 1, out


@pytest.mark.slow
def test_sigterm_outside_the_server_runs_the_cleanup_and_exits(model_cache: Path) -> None:
    # Run from examples/ as `python production.py` would, which also takes the example's
    # fallback import of the model builder; stop before app.run() and wait for a signal.
    script = "import runpy, time; runpy.run_path('production.py'); print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO / "examples", env=_child_env(model_cache),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == "ready", first + proc.stdout.read()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert out.count("Cleanup complete") == 1, out
