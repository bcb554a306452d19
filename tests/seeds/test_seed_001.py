"""Seed 001 (the router service's production notes): its production deployment, run.

The seed's "Production Deployment" block (lines 290-307) exports seven variables and starts the
service. This test exports the same variables, from the seed's text, with its placeholders
filled by real local services: ``DATABASE_URL="postgresql://..."`` a PostgreSQL schema,
``REDIS_URL="redis://..."`` a Redis database, ``http://your-collector:4318`` an OTLP receiver.
``uvicorn conduit.api.app:app ...`` becomes ``conduit run app:app`` on a Conduit app with the
router plugin (docs/seeds.md: the service is an app with conduit-router enabled), whose provider
calls go to conduit-router's stand-in instead of OpenAI. Then it checks what the seed says the
configuration does: bearer auth on ``/v1/*`` with its error codes and ``WWW-Authenticate``,
the health probes exempt, the 10 KB body limit with GET exempt, state in Redis, history in
PostgreSQL, and traces and metrics exported over OTLP.

The seed's only Python block (lines 206-211, ``setup_telemetry(app)`` / ``setup_middleware(app)``)
runs with the two functions from ``conduit.framework.setup`` (docs/seeds.md).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from conduit.testing import free_port

from .conftest import OTLPReceiver, stored_rows
from .samples import ServedScript, block, blocks, python_blocks, run_lines_in, sample

SEED = "001"
NOT_RUN = {
    86: "a list of metric names, not code (each has a row in docs/seeds.md, checked there)",
}
APP = "from conduit import Conduit\n\napp = Conduit()\n"


def test_every_python_block_runs_or_says_why() -> None:
    run = run_lines_in(Path(__file__).read_text(encoding="utf-8"))
    assert not run - {b.line for b in blocks(SEED)}
    assert {b.line for b in python_blocks(SEED)} - run == set(NOT_RUN)


def test_the_setup_calls_run_on_a_conduit_app() -> None:
    """Seed lines 206-211, with ``setup_telemetry`` and ``setup_middleware`` from the table's
    import (the block itself has no import line): OpenTelemetry is enabled for the app and the
    seed's middleware stack is on it, in the seed's order."""
    from conduit import Conduit
    from conduit.framework.setup import setup_middleware, setup_telemetry

    app = Conduit()
    sample(SEED, 206).run({"app": app, "setup_telemetry": setup_telemetry, "setup_middleware": setup_middleware})
    layers = [type(m).__name__ for m, owner in app.middleware if owner == "app"]  # outermost first
    assert "otel" in app.plugin_manager.enabled
    assert layers == ["RequestSizeLimit", "RateLimiter", "LoggerMiddleware"], layers


def _exports(line: int) -> dict[str, str]:
    """The ``export NAME=value`` lines of the seed block at ``line``, quotes removed."""
    return {name: value for name, _, value in
            re.findall(r"^export (\w+)=(\"?)(.*?)\2[ \t]*$", block(SEED, line).code, re.M)}


@pytest.mark.slow
def test_the_production_deployment_with_auth_required(tmp_path: Path, postgres_url: str, redis_url: str,
                                                      standin: Any, otlp_collector: OTLPReceiver) -> None:
    exported = _exports(290)
    assert exported == {
        "API_KEY": "your-secure-random-key-here", "API_REQUIRE_AUTH": "true", "API_MAX_REQUEST_SIZE": "10000",
        "DATABASE_URL": "postgresql://...", "REDIS_URL": "redis://...", "OTEL_ENABLED": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://your-collector:4318",
    }
    placeholders = {"postgresql://...": postgres_url, "redis://...": redis_url,
                    "http://your-collector:4318": otlp_collector.url}
    env = {name: placeholders.get(value, value) for name, value in exported.items()}
    # The service is an app with conduit-router; conduit-otel must be enabled too for OTEL_ENABLED
    # to act (see test_otel_enabled_alone_turns_telemetry_on below). Flush intervals are shortened.
    env.update(CONDUIT_PLUGINS="router,otel", CONDUIT_ROUTER_STANDIN_URL=standin.url, CONDUIT_ROUTER_EMBEDDER="hash",
               OTEL_SERVICE_NAME="conduit-router", OTEL_BSP_SCHEDULE_DELAY="200", OTEL_METRIC_EXPORT_INTERVAL="500")
    command = block(SEED, 290).code.split("# 3. Run with production server", 1)[1]
    assert "uvicorn conduit.api.app:app" in command and "--workers 4" in command
    port = free_port()
    conduit = str(Path(sys.executable).with_name("conduit"))
    key = env["API_KEY"]
    with ServedScript(APP, tmp_path, env, name="app.py",
                      command=[conduit, "run", "app:app", "--host", "127.0.0.1", "--port", str(port)]) as served:
        base = f"http://127.0.0.1:{port}"
        text = {"text": "What is 2+2?", "user_id": "ada"}
        # Authentication: "Protects /v1/* endpoints", Bearer tokens, specific error codes, WWW-Authenticate.
        r = httpx.post(base + "/v1/route", json=text)
        assert r.status_code == 401 and r.json()["code"] == "missing_api_key"
        assert r.headers["www-authenticate"].startswith("Bearer")
        r = httpx.post(base + "/v1/route", json=text, headers={"Authorization": "Bearer wrong-key"})
        assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"
        r = httpx.post(base + "/v1/route", json=text, headers={"Authorization": "Token " + key})
        assert r.status_code == 401 and r.json()["code"] == "invalid_authorization_header"
        auth = {"Authorization": f"Bearer {key}"}
        r = httpx.post(base + "/v1/route", json=text, headers=auth)
        assert r.status_code == 200, r.text
        decision = r.json()
        r = httpx.post(base + "/v1/complete", json={"text": "Say hi", "max_tokens": 20}, headers=auth)
        assert r.status_code == 200 and r.json()["text"], r.text
        r = httpx.post(base + "/v1/feedback", json={"query_id": decision["query_id"], "rating": 5}, headers=auth)
        assert r.status_code == 200, r.text
        assert httpx.get(base + "/v1/stats").status_code == 401
        # "Health check exemption for Kubernetes probes"; readiness checks the database.
        for probe in ("/health/live", "/health/ready", "/health/startup"):
            assert httpx.get(base + probe).status_code == 200, probe
        assert httpx.get(base + "/health/ready").json()["checks"]["router"]["ok"] is True
        # Request size limit: 10000 bytes, "clear error messages with actual size", GET exempt.
        big = {"text": "x" * 12_000}
        r = httpx.post(base + "/v1/route", json=big, headers=auth)
        assert r.status_code == 413
        assert re.fullmatch(r"the request body is 120\d\d bytes; the limit is 10000 bytes", r.json()["detail"])
        r = httpx.request("GET", base + "/v1/stats", content=b"x" * 12_000, headers=auth)
        assert r.status_code == 200
    assert served.returncode == 0, served.output
    assert "Server running at http://127.0.0.1:" in served.output

    # REDIS_URL: the router's state (posteriors, decisions, caches) is in Redis.
    import redis

    keys = redis.Redis.from_url(redis_url).keys("conduit:*")
    assert keys, "nothing of the app's state reached Redis"
    # DATABASE_URL: the decision and its feedback are in PostgreSQL.
    decisions = stored_rows(postgres_url, "router_decisions")
    assert decision["query_id"] in {row[0] for row in decisions}
    assert decision["query_id"] in {row[0] for row in stored_rows(postgres_url, "router_feedback")}
    # OTEL_ENABLED / OTEL_EXPORTER_OTLP_ENDPOINT: traces and metrics reached the collector.
    spans = otlp_collector.spans()
    assert ("conduit-router", "POST /v1/route") in spans, spans
    assert {"http.server.request.duration", "conduit.routing.decisions"} <= otlp_collector.metric_names()


@pytest.mark.slow
def test_otel_enabled_alone_turns_telemetry_on(tmp_path: Path, otlp_collector: OTLPReceiver) -> None:
    """Seed lines 297-299 with the plugin installed but not listed in ``plugins``."""
    import subprocess

    env = {**_exports(290), "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    env = {k: env[k] for k in ("OTEL_ENABLED", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_BSP_SCHEDULE_DELAY")}
    code = (APP + "from conduit.testing import TestClient\n\n@app.get('/hello')\ndef hello(request):\n"
            "    return {'hello': 'world'}\n\nwith TestClient(app) as client:\n    client.get('/hello')\n")
    import os

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDUIT_", "OTEL_"))}
    done = subprocess.run([sys.executable, "-c", code], env={**base_env, **env}, cwd=tmp_path, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ("conduit", "GET /hello") in otlp_collector.spans()
