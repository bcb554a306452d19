"""The decision and feedback history: SQLite by default, PostgreSQL by URL (a real server)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conduit_router import Query, Router
from conduit_router.history import PostgresHistory, SQLiteHistory, create_history
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS

from conduit.framework.errors import ConfigurationError

pytestmark = pytest.mark.anyio

async def exercise(router: Router) -> tuple[str, str]:
    first = await router.route(Query(text="What is the capital of Kenya?", user_id="ada"))
    await router.feedback(first.query_id, rating=4, latency_ms=900, cost=0.0004)
    second = await router.route(Query(text="What is the capital of Kenya?", user_id="ada"))  # a retry
    return first.query_id, second.query_id


async def check(router: Router, first: str, second: str) -> None:
    assert router.history is not None
    rows = await router.history.decisions(limit=10)
    assert [r["query_id"] for r in rows][:2] == [second, first]
    assert rows[1]["domain"] == "factual" and rows[1]["user_id"] == "ada" and rows[1]["policy"] == "thompson"
    feedback = await router.history.feedback_for(first)
    assert [(f["source"], f["kind"]) for f in feedback] == [("explicit", "rating"), ("implicit", "retry")]
    assert feedback[0]["reward"] == 0.75 and feedback[0]["latency_ms"] == 900 and feedback[0]["cost"] == 0.0004
    assert feedback[1]["reward"] == 0.0


async def test_sqlite_history_records_decisions_and_feedback(tmp_path: Path) -> None:
    router = Router(MODELS, embedder="hash", history=f"sqlite:///{tmp_path / 'router.db'}")
    assert isinstance(router.history, SQLiteHistory)
    first, second = await exercise(router)
    await check(router, first, second)
    await router.aclose()
    reopened = create_history(tmp_path / "router.db")
    assert reopened is not None and len(await reopened.decisions()) == 2  # it is on disk
    await reopened.close()


async def test_postgres_history_records_decisions_and_feedback(postgres_url: str) -> None:
    history = PostgresHistory(postgres_url)
    router = Router(MODELS, embedder="hash", history=history)
    first, second = await exercise(router)
    await check(router, first, second)
    await router.aclose()


def test_history_urls() -> None:
    assert create_history(None) is None and create_history("none") is None
    assert isinstance(create_history("sqlite://"), SQLiteHistory)
    with pytest.raises(ConfigurationError, match="mysql"):
        create_history("mysql://db/x")


async def test_decisions_are_recorded_without_waiting_for_the_disk(tmp_path: Path) -> None:
    history = SQLiteHistory(tmp_path / "h.db")
    router = Router(MODELS, embedder="hash", history=history)
    ids = [(await router.route(f"question {uuid.uuid4()}")).query_id for _ in range(50)]
    await history.flush()
    assert history.written == 50 and history.errors == 0
    assert {r["query_id"] for r in await history.decisions(limit=100)} == set(ids)
    await router.aclose()


@pytest.mark.parametrize("used", [False, True], ids=["before-first-use", "after-first-use"])
def test_readiness_fails_while_the_postgres_history_is_unreachable(used: bool, monkeypatch,
                                                                   request: pytest.FixtureRequest) -> None:
    """Seed 001: /health/ready checks the database; a history server that does not answer
    makes it 503 naming the router, whether or not the router has routed yet."""
    from conduit import Conduit
    from conduit.testing import TestClient

    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS", raising=False)

    def ready(url: str) -> tuple[int, dict]:
        app = Conduit(plugins=["router"], router_history=url, router_embedder="hash")
        with TestClient(app) as client:
            if used:
                assert client.post("/v1/route", json={"text": "hello"}).status_code == 200
            answer = client.get("/health/ready")
            return answer.status_code, answer.json()

    status, report = ready("postgresql://postgres@127.0.0.1:1/test")  # nothing listens on port 1
    assert status == 503 and "router" in report["failing"], report
    assert "router history database unavailable" in str(report)
    status, report = ready(request.getfixturevalue("postgres_url"))  # the reachable half (or a skip)
    assert status == 200, report
