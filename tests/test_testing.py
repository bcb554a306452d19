"""conduit.testing: the async client and the pytest fixtures offered to plugin authors."""

from __future__ import annotations

import pytest

import conduit
from conduit.testing import AsyncTestClient, LiveServer, TestClient


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
