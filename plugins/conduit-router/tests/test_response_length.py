"""Seed 002's "response length tracking": each provider client records the length of every
answer it got (characters and completion tokens; total, mean, p50, p95, max), shown in
``/v1/stats`` ``providers`` and on ``/metrics``, measured through real calls to the stand-in."""

from __future__ import annotations

import orjson
import pytest
from conduit_router.providers.client import LengthStats
from conduit_router.standin import StandIn

from conduit import Conduit
from conduit.testing import TestClient


@pytest.fixture
def app(standin: StandIn) -> Conduit:
    standin.reset()
    return Conduit(plugins=["router"], router_embedder="hash", router_standin_url=standin.url,
                   router_max_retries=0, router_history="none")


def _ask(client: TestClient, text: str, model: str = "gpt-4o-mini") -> dict:
    r = client.post("/v1/complete", json={"text": text, "max_tokens": 60, "temperature": 0.0,
                                          "constraints": {"allowed_models": [model]}})
    assert r.status_code == 200, r.text
    return r.json()


def test_answer_lengths_are_tracked_per_provider_in_stats_and_metrics(app: Conduit) -> None:
    with TestClient(app) as client:
        answers = [_ask(client, "What is 2+2?"), _ask(client, "Tell me a short story about a lighthouse keeper")]
        cached = _ask(client, "What is 2+2?")
        stats = client.get("/v1/stats").json()["providers"]
        prometheus = client.get("/metrics?format=prometheus").text
    assert cached["cached"] is True  # a cache hit is not a provider answer: not counted again
    chars = sorted(len(a["text"]) for a in answers)
    tokens = sorted(a["usage"]["output_tokens"] for a in answers)
    assert all(chars) and all(tokens)
    length = stats["openai"]["response_length"]
    assert length == {
        "answers": 2,
        "chars": {"total": sum(chars), "mean": round(sum(chars) / 2, 1), "p50": chars[0], "p95": chars[1],
                  "max": chars[1]},
        "completion_tokens": {"total": sum(tokens), "mean": round(sum(tokens) / 2, 1), "p50": tokens[0],
                              "p95": tokens[1], "max": tokens[1]},
    }
    assert stats["anthropic"]["response_length"]["answers"] == 0
    assert stats["anthropic"]["response_length"]["chars"] == {"total": 0, "mean": None, "p50": None, "p95": None,
                                                             "max": None}
    assert 'conduit_router_provider_answers_total{provider="openai"} 2' in prometheus
    assert f'conduit_router_provider_response_chars_total{{provider="openai"}} {sum(chars)}' in prometheus
    assert f'conduit_router_provider_completion_tokens_total{{provider="openai"}} {sum(tokens)}' in prometheus
    assert f'conduit_router_provider_response_chars{{provider="openai",quantile="0.95"}} {chars[1]}' in prometheus


def test_a_streamed_answer_is_measured_by_the_text_that_was_streamed(app: Conduit) -> None:
    with TestClient(app) as client:
        r = client.post("/v1/chat/completions", json={
            "model": "claude-3-5-haiku-latest", "stream": True, "max_tokens": 80,
            "messages": [{"role": "user", "content": "Tell me a short story"}]})
        assert r.status_code == 200, r.text
        events = [orjson.loads(line[6:]) for line in r.text.splitlines()
                  if line.startswith("data: ") and line != "data: [DONE]"]
        length = client.get("/v1/stats").json()["providers"]["anthropic"]["response_length"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in events if c.get("choices"))
    usage = next(e["usage"] for e in events if e.get("usage"))
    assert len(text) > 20
    assert length["answers"] == 1
    assert length["chars"]["total"] == len(text) == length["chars"]["max"]
    assert length["completion_tokens"]["total"] == usage["completion_tokens"] > 0


def test_a_failed_call_records_no_length(app: Conduit, standin: StandIn) -> None:
    from conduit_router.standin import Fault

    standin.set_default("gpt-4o-mini", Fault.server_error(500))
    with TestClient(app) as client:
        r = client.post("/v1/complete", json={"text": "hi", "constraints": {"allowed_models": ["gpt-4o-mini"]}})
        assert r.status_code == 503
        openai = client.get("/v1/stats").json()["providers"]["openai"]
    assert openai["errors"] == {"server_error": 1}
    assert openai["response_length"]["answers"] == 0 and openai["response_length"]["chars"]["total"] == 0


def test_length_stats_percentiles_cover_the_recent_window_and_totals_everything() -> None:
    stats = LengthStats(window=10)
    assert stats.to_dict() == {"total": 0, "mean": None, "p50": None, "p95": None, "max": None}
    for n in range(1, 101):
        stats.add(n)
    assert stats.count == 100 and stats.total == 5050
    # p50/p95 over the last 10 answers (91..100), nearest rank; total, mean and max over all.
    assert stats.to_dict() == {"total": 5050, "mean": 50.5, "p50": 95, "p95": 100, "max": 100}
    whole = LengthStats()
    for n in range(1, 101):
        whole.add(n)
    assert (whole.percentile(50), whole.percentile(95), whole.percentile(100), whole.percentile(0)) == (50, 95, 100, 1)
