"""conduit.testing: the async client, the pytest fixtures offered to plugin authors, and the
helpers for real servers (free ports, waiting for a server, a fresh PostgreSQL schema)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest

import conduit
from conduit.http.response import HTTPResponse
from conduit.testing import (
    DEFAULT_POSTGRES_URL,
    POSTGRES_URL_ENV,
    AsyncTestClient,
    LiveServer,
    PostgresNotAvailable,
    PostgresSchema,
    TestClient,
    free_port,
    wait_until_serving,
)


@pytest.mark.anyio
async def test_async_client_runs_lifecycle_and_requests() -> None:
    app = conduit.Conduit()
    started: list[bool] = []
    app.on_startup(lambda: started.append(True))

    @app.post("/double")
    async def double(request):
        return {"value": (await request.json())["value"] * 2}

    async with AsyncTestClient(app) as client:
        r = await client.post("/double", json={"value": 21})
    assert r.json() == {"value": 42} and started == [True]



VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _echo_method_app() -> conduit.Conduit:
    app = conduit.Conduit()
    app.add_route("/method", lambda request: HTTPResponse(200, headers={"x-method": request.method}), methods=VERBS)
    return app


@pytest.mark.parametrize("verb", VERBS)
def test_each_client_method_sends_its_verb_and_is_named_for_it(verb: str) -> None:
    with TestClient(_echo_method_app()) as client:
        response = getattr(client, verb.lower())("/method", headers={"x-probe": "1"})
    assert (response.status_code, response.headers["x-method"]) == (200, verb)
    for cls in (TestClient, AsyncTestClient):
        method = getattr(cls, verb.lower())
        assert method.__name__ == verb.lower() and verb in method.__doc__


@pytest.mark.anyio
async def test_the_async_client_methods_send_their_verbs() -> None:
    async with AsyncTestClient(_echo_method_app()) as client:
        sent = [(await getattr(client, verb.lower())("/method")).headers["x-method"] for verb in VERBS]
    assert sent == list(VERBS)


def test_a_misspelled_request_keyword_is_a_type_error() -> None:
    with TestClient(_echo_method_app()) as client, pytest.raises(TypeError, match="jsn"):
        client.post("/method", jsn={"value": 1})

def test_fixtures_for_plugin_authors(app, register_plugin, request) -> None:
    class Plugin:
        __conduit_name__ = "authors-plugin"

        @conduit.hookimpl
        def conduit_register_routes(self, register):
            register("GET", "/from-plugin", lambda r: {"plugin": True})

    register_plugin(Plugin())
    client = request.getfixturevalue("client")
    assert client.get("/from-plugin").json() == {"plugin": True}


def test_register_plugin_after_the_app_started_is_an_error(app, register_plugin, client) -> None:
    with pytest.raises(RuntimeError, match="already started"):
        register_plugin(object(), name="late")


def test_live_server_stop_is_idempotent() -> None:
    live = LiveServer(conduit.Conduit()).start()
    live.stop()
    live.stop()


def test_background_tasks_run_in_the_test_client_too() -> None:
    app = conduit.Conduit()
    done: list[str] = []

    @app.get("/")
    def index(r):
        response = conduit.HTTPResponse().json({})
        response.background.append(lambda: done.append("ran"))
        return response

    with TestClient(app) as c:
        c.get("/")
    assert done == ["ran"]


# --- helpers for servers a test starts itself ---------------------------------------------------


def test_free_port_is_one_nothing_listens_on() -> None:
    port = free_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_wait_until_serving_returns_once_the_url_answers_any_status() -> None:
    with LiveServer(conduit.Conduit()) as live:
        wait_until_serving(live.url + "/no-such-page", timeout=10)  # a 404 is an answer: it serves


def test_wait_until_serving_times_out_while_nothing_answers() -> None:
    with pytest.raises(TimeoutError, match="did not answer within 0.3 s"):
        wait_until_serving(f"http://127.0.0.1:{free_port()}/", timeout=0.3)


def test_wait_until_serving_fails_as_soon_as_the_process_exits_with_its_output() -> None:
    process = subprocess.Popen([sys.executable, "-c", "print('port in use'); raise SystemExit(3)"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with pytest.raises(RuntimeError, match=r"exited with code 3 (.|\n)*port in use"):
        wait_until_serving(f"http://127.0.0.1:{free_port()}/", process=process, timeout=60)


# --- PostgreSQL ------------------------------------------------------------------------------


def _schemas(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace")}


def test_postgres_url_fixture_puts_connections_in_a_fresh_schema(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE made_here (x int)")
        (schema,) = conn.execute("SELECT table_schema FROM information_schema.tables "
                                 "WHERE table_name = 'made_here'").fetchone()
    assert re.fullmatch(r"conduit_test_[0-9a-f]{12}", schema)


def test_postgres_schema_is_dropped_with_its_tables_on_exit() -> None:
    try:
        with PostgresSchema(prefix="dropped") as schema:
            import psycopg

            with psycopg.connect(schema.url, autocommit=True) as conn:
                conn.execute("CREATE TABLE kept_until_exit (x int)")
            assert schema.name in _schemas(schema.base_url)
    except PostgresNotAvailable as exc:
        pytest.skip(str(exc))
    assert schema.name not in _schemas(schema.base_url)


def test_postgres_schema_keeps_the_options_the_url_already_has() -> None:
    schema = PostgresSchema(f"{DEFAULT_POSTGRES_URL}?application_name=mine&options=-cstatement_timeout%3D1234")
    assert schema.url == (f"{DEFAULT_POSTGRES_URL}?application_name=mine"
                          f"&options=-cstatement_timeout%3D1234%20-csearch_path%3D{schema.name}")


def test_postgres_schema_server_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POSTGRES_URL_ENV, "postgresql://ci@db.internal:6543/suite")
    assert PostgresSchema().url.startswith("postgresql://ci@db.internal:6543/suite?options=-csearch_path%3Dconduit_test_")


def test_postgres_schema_refuses_a_prefix_that_is_not_a_plain_identifier() -> None:
    with pytest.raises(ValueError, match="prefix must be"):
        PostgresSchema(prefix='x"; DROP SCHEMA public; --')


def test_no_postgres_answering_says_where_and_what_to_set_without_the_password() -> None:
    port = free_port()
    with pytest.raises(PostgresNotAvailable) as info:
        PostgresSchema(f"postgresql://postgres:s3cret@127.0.0.1:{port}/postgres").create()
    message = str(info.value)
    assert f"no PostgreSQL answers at 127.0.0.1:{port}/postgres" in message and POSTGRES_URL_ENV in message
    assert "s3cret" not in message


def test_postgres_schema_without_psycopg_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what an environment without psycopg sees
    with pytest.raises(PostgresNotAvailable, match=r"psycopg is not installed \(pip install"):
        PostgresSchema().create()


def test_postgres_url_fixture_skips_saying_why_when_no_server_answers(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv(POSTGRES_URL_ENV, f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL answers at 127.0.0.1"):
        request.getfixturevalue("postgres_url")


def test_redis_url_fixture_is_offered_by_the_plugin(redis_url: str) -> None:
    from urllib.parse import urlsplit

    from conduit.storage.testing import redis_answers

    assert redis_answers(port=urlsplit(redis_url).port or 6379)
