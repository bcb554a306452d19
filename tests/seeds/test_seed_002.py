"""Seed 002 (the LLM chat wrapper's production notes).

The seed's usage example (lines 134-160) runs with its two imports changed to
``conduit_router.wrapper`` (docs/seeds.md), the seed's ``ChatbotWrapper`` API over
conduit-router's provider clients; the stand-in plays the paid provider. The seed's
environment variables (lines 110-117), set to the seed's defaults, configure the router's
provider clients in an app, and each feature the seed lists (validation, retry honouring
Retry-After, token-bucket rate limits, the LRU+TTL response cache, metrics with response
lengths) acts on calls to the stand-in. The last test does the same with a provider client.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import pytest

from conduit import Conduit
from conduit.testing import TestClient

from .samples import NoConduitEquivalent, blocks, python_blocks, run_lines_in, sample, seed_text

SEED = "002"
NOT_RUN = {121: "the same ChatbotWrapper(...) call as the usage example at line 134, without its import"}


def test_every_python_block_runs_or_says_why() -> None:
    run = run_lines_in(Path(__file__).read_text(encoding="utf-8"))
    assert not run - {b.line for b in blocks(SEED)}
    assert {b.line for b in python_blocks(SEED)} - run == set(NOT_RUN)


def test_the_usage_example_runs_with_its_imports_changed(monkeypatch: pytest.MonkeyPatch, standin: Any,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Lines 134-160 as written but for the two imports; the stand-in plays OpenAI (its base
    URL through the client's usual ``OPENAI_BASE_URL``), so the seed's placeholder key works."""
    from conduit_router.wrapper import get_metrics_collector

    standin.reset()
    get_metrics_collector().reset()
    monkeypatch.setenv("OPENAI_BASE_URL", standin.openai_url)
    sample(SEED, 134).run({"__name__": "seed_002_usage"})
    assert capsys.readouterr().out == "Total requests: 1\nError rate: 0.00%\n"
    stats = get_metrics_collector().get_stats()
    assert stats["request_counts"] == {"openai:gpt-3.5-turbo": 1} and stats["total_tokens"]["openai:gpt-3.5-turbo"] > 0


def _seed_defaults() -> dict[str, str]:
    """``MAX_RETRIES`` (default: 3) ... from the seed's configuration list (lines 111-117)."""
    return dict(re.findall(r"^\s*- `([A-Z_]+)` \(default: ([\w.]+)\)", seed_text(SEED), re.M))


@pytest.mark.slow
def test_the_seeds_variables_configure_the_provider_clients(monkeypatch: pytest.MonkeyPatch, standin: Any,
                                                            tmp_path: Path) -> None:
    from conduit_router.standin import Fault

    defaults = _seed_defaults()
    assert defaults == {"MAX_RETRIES": "3", "INITIAL_RETRY_DELAY": "1.0", "MAX_RETRY_DELAY": "60.0",
                        "CACHE_ENABLED": "true", "CACHE_TTL": "3600", "CACHE_MAX_SIZE": "1000",
                        "DEFAULT_RATE_LIMIT": "10.0"}
    for name, value in defaults.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("INITIAL_RETRY_DELAY", "0.05")  # not the seed's 1 s: keeps the retries below quick
    standin.reset()
    app = Conduit(plugins=["router"], router_embedder="hash", router_standin_url=standin.url,
                  router_history=f"sqlite:///{tmp_path / 'history.db'}")
    only = {"allowed_models": ["gpt-4o-mini"]}
    with TestClient(app) as client:
        # Plugins' settings are read when the app is prepared: each came from the seed's variable.
        assert {name: app.settings.sources[setting] for name, setting in (
            ("MAX_RETRIES", "router_max_retries"), ("INITIAL_RETRY_DELAY", "router_retry_initial_delay"),
            ("MAX_RETRY_DELAY", "router_retry_max_delay"), ("CACHE_ENABLED", "router_cache"),
            ("CACHE_TTL", "router_cache_ttl"), ("CACHE_MAX_SIZE", "router_cache_max_size"),
            ("DEFAULT_RATE_LIMIT", "router_rate_limit"))} == {name: f"${name}" for name in defaults}
        assert (app.settings.router_max_retries, app.settings.router_retry_max_delay) == (3, 60.0)
        # Input validation: temperature 0.0-2.0, max_tokens 1-100000.
        r = client.post("/v1/complete", json={"text": "hi", "temperature": 3.0, "constraints": only})
        assert r.status_code in (400, 422) and "temperature" in r.json()["detail"]
        r = client.post("/v1/complete", json={"text": "hi", "max_tokens": 0, "constraints": only})
        assert r.status_code in (400, 422) and "max_tokens" in r.json()["detail"]
        # Retry with backoff, honouring Retry-After: two 429s, then the answer.
        standin.inject("gpt-4o-mini", Fault.rate_limit(retry_after=0.1), Fault.rate_limit(retry_after=0.1))
        r = client.post("/v1/complete", json={"text": "Hello, how are you?", "temperature": 0.7, "max_tokens": 100,
                                              "constraints": only})
        assert r.status_code == 200, r.text
        assert r.json()["model"] == "gpt-4o-mini"
        # The response cache: the same request is answered without a provider call.
        calls = len(standin.requests)
        again = client.post("/v1/complete", json={"text": "Hello, how are you?", "temperature": 0.7,
                                                  "max_tokens": 100, "constraints": only})
        assert again.status_code == 200 and again.json()["text"] == r.json()["text"]
        assert len(standin.requests) == calls
        openai = client.get("/v1/stats").json()["providers"]["openai"]
    # Metrics: requests, errors, retries, cache hits, response lengths; the rate limit in force.
    assert openai["retries"] == 2 and openai["errors"] == {} and openai["successes"] == 1
    assert openai["cache_hits"] == 1
    assert openai["response_length"]["answers"] == 1 and openai["response_length"]["chars"]["total"] > 0
    assert openai["rate_limits"]["provider"] == 10.0


def test_the_usage_example_with_a_provider_client(standin: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Lines 146-159 with the nearest Conduit API: a provider client's ``chat`` (async) and its
    metrics. The key is the seed's placeholder; the stand-in plays OpenAI."""
    from conduit_router.providers import OpenAIClient, validate_chat

    standin.reset()

    async def main() -> None:
        client = OpenAIClient(api_key="sk-...", base_url=standin.openai_url, max_retries=3, rate_per_provider=10.0)
        try:
            response = await client.chat(validate_chat(model="gpt-3.5-turbo", messages="Hello, how are you?",
                                                       temperature=0.7, max_tokens=100))
            assert response.text and response.model == "gpt-3.5-turbo"
            cached = await client.chat(validate_chat(model="gpt-3.5-turbo", messages="Hello, how are you?",
                                                     temperature=0.7, max_tokens=100))
            assert cached.cached is True
            stats = client.metrics.to_dict()
            print(f"Total requests: {stats['requests']}")
            print(f"Error rate: {sum(stats['errors'].values()) / stats['requests'] * 100:.2f}%")
        finally:
            await client.aclose()

    anyio.run(main)
    assert capsys.readouterr().out == "Total requests: 1\nError rate: 0.00%\n"
