"""Redis, psycopg and sqlite3 calls are CLIENT spans under the request's span (real servers)."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import anyio.to_thread
import conduit_otel
import pytest
import redis.asyncio
from conduit_otel.clients import instrumented as instrumented_libraries
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from conduit import Conduit
from conduit.framework.security import rate_limit
from conduit.storage.testing import unique_prefix
from conduit.testing import TestClient


def client_spans(t, system: str) -> list:
    return [s for s in t.finished() if s.kind is SpanKind.CLIENT and s.attributes.get("db.system") == system]


def assert_children_of(spans: list, server) -> None:
    assert spans, "no client span was recorded"
    for span in spans:
        assert span.context.trace_id == server.context.trace_id
        assert span.parent is not None and span.parent.span_id == server.context.span_id, span.name


def test_redis_commands_of_the_rate_limiter_are_client_spans_under_the_server_span(instrumented, redis_url) -> None:
    t = instrumented(redis_url=redis_url)
    t.app.use(rate_limit(5, 60, prefix=unique_prefix("otel-rl")))
    t.app.get("/items")(lambda request: ["a"])

    with TestClient(t.app) as client:
        assert client.get("/items").status_code == 200
    server = t.span("GET /items")
    spans = client_spans(t, "redis")
    assert_children_of(spans, server)
    assert "EVALSHA" in {s.name for s in spans}  # the limiter's sliding-window script
    evalsha = next(s for s in spans if s.name == "EVALSHA")
    assert evalsha.attributes["net.peer.name"] == "127.0.0.1" and evalsha.attributes["net.peer.port"] == 6379
    assert evalsha.instrumentation_scope.name == "opentelemetry.instrumentation.redis"


def test_state_store_commands_in_a_handler_are_children_of_the_request_span(instrumented, redis_url) -> None:
    t = instrumented(redis_url=redis_url)
    key = f"{unique_prefix('otel-store')}greeting"

    @t.app.post("/remember")
    async def remember(request):
        store = request.app.state_store
        await store.set(key, b"hello", ttl=60)
        return {"value": (await store.get(key)).decode()}

    with TestClient(t.app) as client:
        assert client.post("/remember").json() == {"value": "hello"}
    spans = client_spans(t, "redis")
    assert [s.name for s in spans] == ["SET", "GET"]
    assert_children_of(spans, t.span("POST /remember"))
    assert spans[0].attributes["db.statement"] == "SET ? ? ? ?"  # values are not recorded


def test_sqlite_statements_are_spans_the_connection_shortcuts_included(instrumented, tmp_path: Path) -> None:
    t = instrumented()

    def work() -> int:
        conn = sqlite3.connect(tmp_path / "notes.db")
        try:
            conn.execute("CREATE TABLE notes (body TEXT)")
            conn.executemany("INSERT INTO notes VALUES (?)", [("a",), ("b",)])
            cursor = conn.cursor()
            cursor.execute("SELECT count(*) FROM notes")
            return int(cursor.fetchone()[0])
        finally:
            conn.close()

    @t.app.get("/notes")
    async def notes(request):
        return {"count": await anyio.to_thread.run_sync(work)}

    with TestClient(t.app) as client:
        assert client.get("/notes").json() == {"count": 2}
    spans = client_spans(t, "sqlite")
    assert [s.attributes["db.statement"] for s in spans] == [
        "CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES (?)", "SELECT count(*) FROM notes",
    ]
    assert_children_of(spans, t.span("GET /notes"))


def test_psycopg_statements_are_spans_under_the_request(instrumented, postgres_url) -> None:
    import psycopg

    t = instrumented()

    @t.app.get("/answer")
    async def answer(request):
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
            async with conn.cursor() as cursor:
                await cursor.execute("SELECT %s::int + 1", (41,))
                row = await cursor.fetchone()
        return {"answer": row[0]}

    with TestClient(t.app) as client:
        assert client.get("/answer").json() == {"answer": 42}
    spans = client_spans(t, "postgresql")
    assert [s.attributes["db.statement"] for s in spans] == ["SELECT %s::int + 1"]
    server = urlsplit(postgres_url)
    assert spans[0].attributes["db.name"] == server.path.lstrip("/")
    assert spans[0].attributes["net.peer.port"] == (server.port or 5432)
    assert_children_of(spans, t.span("GET /answer"))


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_the_router_history_database_calls_are_spans(instrumented, history_url: str) -> None:
    history_module = pytest.importorskip("conduit_router.history")
    t = instrumented()
    query_id = uuid.uuid4().hex

    @t.app.post("/decide")
    async def decide(request):
        history = history_module.create_history(history_url)
        history.record_decision({"query_id": query_id, "ts": time.time(), "model": "small", "policy": "thompson"})
        await history.close()  # writes everything recorded
        return {"ok": True}

    with TestClient(t.app) as client:
        assert client.post("/decide").json() == {"ok": True}
    system = "sqlite" if history_url.startswith("sqlite") else "postgresql"
    statements = [s.attributes["db.statement"] for s in client_spans(t, system)]
    assert any(s.startswith("INSERT") and "router_decisions" in s for s in statements), statements


def test_a_sampled_out_request_records_no_redis_span(instrumented, redis_url) -> None:
    t = instrumented({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, redis_url=redis_url)
    key = f"{unique_prefix('otel-sampled')}k"

    @t.app.get("/count")
    async def count(request):
        return {"n": await request.app.state_store.incr(key, ttl=60)}

    with TestClient(t.app) as client:
        assert client.get("/count").json() == {"n": 1}
    assert t.finished() == []


def test_spans_go_to_the_app_whose_request_runs(instrumented, redis_url) -> None:
    first, second = instrumented(redis_url=redis_url), instrumented(redis_url=redis_url)
    key = f"{unique_prefix('otel-two')}k"
    for t in (first, second):
        t.app.get("/touch")(_toucher(key))

    with TestClient(first.app) as one, TestClient(second.app) as two:
        assert two.get("/touch").status_code == 200
        assert one.get("/touch").status_code == 200
    # Each app holds its own request's commands, none of the other's (other trace, other parent).
    assert len(client_spans(first, "redis")) == len(client_spans(second, "redis"))
    for t in (first, second):
        assert_children_of(client_spans(t, "redis"), t.span("GET /touch"))


def _toucher(key: str):
    async def touch(request):
        return {"n": await request.app.state_store.incr(key, ttl=60)}

    return touch


def test_the_libraries_are_restored_when_the_last_app_shuts_down(instrumented) -> None:
    assert not RedisInstrumentor().is_instrumented_by_opentelemetry
    first, second = instrumented(), instrumented()
    with TestClient(first.app):
        with TestClient(second.app):
            assert instrumented_libraries() == ("psycopg", "redis", "sqlite3")
            assert hasattr(redis.asyncio.Redis.execute_command, "__wrapped__")
        assert instrumented_libraries() == ("psycopg", "redis", "sqlite3")  # the first app still runs
    assert instrumented_libraries() == ()
    assert not RedisInstrumentor().is_instrumented_by_opentelemetry
    assert not hasattr(redis.asyncio.Redis.execute_command, "__wrapped__")
    assert not hasattr(sqlite3.connect, "__wrapped__")


def test_otel_instrumentations_empty_leaves_every_library_alone(instrumented, redis_url, otel_env) -> None:
    otel_env.setenv("CONDUIT_OTEL_INSTRUMENTATIONS", "")
    t = instrumented(redis_url=redis_url)
    t.app.get("/touch")(_toucher(f"{unique_prefix('otel-off')}k"))

    with TestClient(t.app) as client:
        assert instrumented_libraries() == ()
        assert client.get("/touch").status_code == 200
    assert [s.name for s in t.finished()] == ["GET /touch"]


def test_otel_python_disabled_instrumentations_leaves_one_library_alone(instrumented, redis_url) -> None:
    t = instrumented({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "redis"}, redis_url=redis_url)
    t.app.get("/touch")(_toucher(f"{unique_prefix('otel-some')}k"))

    with TestClient(t.app) as client:
        assert instrumented_libraries() == ("psycopg", "sqlite3")
        assert client.get("/touch").status_code == 200
    assert client_spans(t, "redis") == []


def test_a_library_instrumented_by_someone_else_is_left_to_them(instrumented, redis_url) -> None:
    theirs = TracerProvider()
    RedisInstrumentor().instrument(tracer_provider=theirs)
    try:
        t = instrumented(redis_url=redis_url)
        t.app.get("/touch")(_toucher(f"{unique_prefix('otel-theirs')}k"))
        with TestClient(t.app) as client:
            assert "redis" not in instrumented_libraries()
            assert client.get("/touch").status_code == 200
        assert RedisInstrumentor().is_instrumented_by_opentelemetry  # not undone by the app's shutdown
        assert client_spans(t, "redis") == []  # their provider got them
    finally:
        RedisInstrumentor().uninstrument()
        theirs.shutdown()


def test_no_library_is_patched_while_the_plugin_or_tracing_is_off(instrumented, otel_env) -> None:
    off = Conduit(plugins=["otel"])
    off.get("/")(lambda request: {"ok": True})
    with TestClient(off) as client:
        assert client.get("/").status_code == 200
        assert instrumented_libraries() == ()
        assert not hasattr(sqlite3.connect, "__wrapped__")
    untraced = instrumented({"OTEL_TRACES_ENABLED": "false"})
    with TestClient(untraced.app):
        assert instrumented_libraries() == ()
