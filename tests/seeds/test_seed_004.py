"""Seed 004 (the router's README): its quick start, run from the seed's text, and its
environment configuration, run against real PostgreSQL and Redis.

The quick start (lines 22-33) imports from ``conduit.engines.router`` and
``conduit.core.models``, Conduit's own paths, and runs offline (no provider call: routing
only). The ``.env`` block (lines 73-90) is applied with its placeholders filled by local
services (``DATABASE_URL`` a PostgreSQL schema, ``REDIS_URL`` a Redis database) to an app
with the router plugin, whose provider calls go to conduit-router's stand-in instead of the
providers (the API keys are the seed's placeholders). In Conduit these variables configure the
router of an app; a ``Router()`` made in code, like the quick start's, takes ``state=`` and
``history=`` instead (docs/seeds.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conduit import Conduit
from conduit.testing import TestClient

from .conftest import stored_rows
from .samples import block, blocks, python_blocks, run_lines_in, sample

SEED = "004"
NOT_RUN: dict[int, str] = {}


def test_every_python_block_runs_or_says_why() -> None:
    run = run_lines_in(Path(__file__).read_text(encoding="utf-8"))
    assert not run - {b.line for b in blocks(SEED)}
    assert {b.line for b in python_blocks(SEED)} - run == set(NOT_RUN)


def test_the_quick_start(capsys: pytest.CaptureFixture[str]) -> None:
    quick_start = sample(SEED, 22)
    assert "from conduit.engines.router import Router" in quick_start.source  # the seed's imports, unchanged
    quick_start.run({"__name__": "seed_004_quick_start"})
    out = capsys.readouterr().out
    match = re.fullmatch(r"Route to: (\S+) \(confidence: (\d+)%\)\n", out)
    assert match, out
    from conduit.engines.router import Router

    assert match.group(1) in {m.name for m in Router().models} and 0 <= int(match.group(2)) <= 100


def _env_file() -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(\S+)", block(SEED, 73).code, re.M))


@pytest.mark.slow
def test_the_environment_configuration_stores_history_in_postgres_and_state_in_redis(
        monkeypatch: pytest.MonkeyPatch, postgres_url: str, redis_url: str, standin: Any) -> None:
    env = _env_file()
    assert set(env) == {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GROQ_API_KEY", "SUPABASE_URL",
                        "SUPABASE_ANON_KEY", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "ENVIRONMENT"}
    assert env["DATABASE_URL"].startswith("postgresql://") and env["REDIS_URL"] == "redis://localhost:6379"
    env.update(DATABASE_URL=postgres_url, REDIS_URL=redis_url)  # the seed's Supabase and Redis, here
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = Conduit(plugins=["router"], router_embedder="hash", router_standin_url=standin.url)
    assert app.settings.sources["redis_url"] == "$REDIS_URL"
    assert (app.settings.log_level, app.settings.sources["log_level"]) == ("info", "$LOG_LEVEL")  # LOG_LEVEL=INFO
    with TestClient(app) as client:
        decision = client.post("/v1/route", json={"text": "What is 2+2?", "user_id": "ada"}).json()
        completion = client.post("/v1/complete", json={"text": "Explain recursion briefly", "max_tokens": 40})
        assert completion.status_code == 200, completion.text
        feedback = client.post("/v1/feedback", json={"query_id": decision["query_id"], "rating": 5})
        assert feedback.status_code == 200, feedback.text
        again = client.post("/v1/route", json={"text": "What is 2+2?", "user_id": "ada"}).json()
        stats = client.get("/v1/stats").json()
    assert stats["decisions"] == 3
    # PostgreSQL (routing history): both decisions and the explicit and implicit feedback.
    decided = {row[0] for row in stored_rows(postgres_url, "router_decisions")}
    assert {decision["query_id"], again["query_id"], completion.json()["decision"]["query_id"]} <= decided
    sources = {row[3] for row in stored_rows(postgres_url, "router_feedback")}
    assert {"explicit", "implicit"} <= sources
    # Redis: the learned posteriors and the query-feature cache are shared there.
    import redis

    keys = {k.decode() for k in redis.Redis.from_url(redis_url).keys("conduit:*")}
    assert keys, "nothing reached Redis"
