"""Every handler form the seed uses, their return values, and sync handlers off the loop."""

from __future__ import annotations

import dataclasses
import threading
from typing import NamedTuple

import pytest

from conduit import Conduit, HTTPResponse
from conduit.testing import TestClient


@pytest.fixture
def app() -> Conduit:
    return Conduit()


def test_request_only_handlers_sync_and_async(app: Conduit) -> None:
    @app.get("/sync")
    def sync_handler(request):
        return HTTPResponse().json({"thread": threading.current_thread().name != "MainThread"})

    @app.get("/async")
    async def async_handler(request):
        return HTTPResponse(202).json({"ok": True})

    with TestClient(app) as c:
        assert c.get("/sync").json() == {"thread": True}
        r = c.get("/async")
        assert r.status_code == 202 and r.json() == {"ok": True}


def test_req_res_handlers_fill_the_response(app: Conduit) -> None:
    @app.get("/fill")
    def fill(req, res):
        res.status_code = 201
        res.json({"filled": req.query.get("x")})

    @app.get("/afill")
    async def afill(req, res):
        res.set_header("X-Mine", "1")
        res.text("hi")

    with TestClient(app) as c:
        r = c.get("/fill?x=7")
        assert (r.status_code, r.json()) == (201, {"filled": "7"})
        r = c.get("/afill")
        assert (r.text, r.headers["x-mine"]) == ("hi", "1")


def test_res_write_streams_from_sync_and_async_handlers(app: Conduit) -> None:
    @app.get("/s")
    def s(req, res):
        res.set_header("Content-Type", "text/event-stream")
        for i in range(3):
            res.write(f"data: {i}\n\n")
            res.flush()

    @app.get("/a")
    async def a(req, res):
        await res.write(b"x")
        await res.write("y")

    with TestClient(app) as c:
        r = c.get("/s")
        assert r.chunks == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]
        assert r.headers["content-type"] == "text/event-stream"
        assert c.get("/a").content == b"xy"


def test_path_parameters_by_name(app: Conduit) -> None:
    @app.get("/items/{item_id:int}")
    def item(request, item_id: int):
        return {"id": item_id, "type": type(item_id).__name__}

    @app.get("/n/{name}")
    async def no_request(name: str):
        return name

    with TestClient(app) as c:
        assert c.get("/items/12").json() == {"id": 12, "type": "int"}
        assert c.get("/n/zed").text == "zed"


def test_return_value_conversions(app: Conduit) -> None:
    @dataclasses.dataclass
    class User:
        name: str

    @app.get("/dict")
    def d(r):
        return {"a": 1}

    @app.get("/list")
    def l(r):
        return [1, "two", None]

    @app.get("/dc")
    def dc(r):
        return User("ann")

    @app.get("/none")
    def none(r):
        return None

    @app.get("/tuple")
    def tup(r):
        return {"made": True}, 201, {"Location": "/x/1"}

    @app.get("/bytes")
    def raw(r):
        return b"\x00\x01"

    @app.get("/bad")
    def bad(r):
        return object()

    with TestClient(app) as c:
        assert c.get("/dict").json() == {"a": 1}
        assert c.get("/list").json() == [1, "two", None]
        assert c.get("/dc").json() == {"name": "ann"}
        assert c.get("/none").status_code == 204
        r = c.get("/tuple")
        assert (r.status_code, r.headers["location"], r.json()) == (201, "/x/1", {"made": True})
        assert c.get("/bytes").content == b"\x00\x01"
        r = c.get("/bad")
        assert r.status_code == 500 and "object" not in r.text


def test_a_namedtuple_is_json_not_a_body_status_pair(app: Conduit) -> None:
    class Score(NamedTuple):
        label: str
        value: int

    @app.get("/score")
    def score(r):
        return Score("cat", 3)

    with TestClient(app) as c:
        r = c.get("/score")
    assert (r.status_code, r.json()) == (200, {"label": "cat", "value": 3})


def test_a_slow_sync_handler_does_not_block_async_ones(app: Conduit) -> None:
    events: list[str] = []
    entered, release = threading.Event(), threading.Event()

    @app.get("/slow")
    def slow(r):
        events.append("slow entered")
        entered.set()
        release.wait(10)  # on the event loop this would hold /fast back until it times out
        events.append("slow answered")
        return {"slow": True}

    @app.get("/fast")
    async def fast(r):
        events.append("fast answered")
        return {"fast": True}

    with TestClient(app) as c:
        waiting = threading.Thread(target=c.get, args=("/slow",))
        waiting.start()
        entered.wait(10)
        c.get("/fast")  # sent while /slow is blocked in its handler
        release.set()
        waiting.join(10)
    assert events == ["slow entered", "fast answered", "slow answered"]


def test_unknown_handler_parameter_is_a_startup_error(app: Conduit) -> None:
    @app.get("/x")
    def x(request, mystery):
        return {}

    with pytest.raises(TypeError, match="mystery"):
        app.prepare()


def test_body_is_read_before_the_handler_and_streams_on_demand(app: Conduit) -> None:
    @app.post("/whole")
    async def whole(request):
        return {"len": len(request.content), "text": request.body[:5]}

    @app.post("/stream", stream=True)
    async def stream(request):
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
        return {"total": total}

    @app.post("/sync-stream", stream=True)
    def sync_stream(request):
        return {"total": sum(len(c) for c in request.stream())}

    with TestClient(app) as c:
        assert c.post("/whole", content="hello world").json() == {"len": 11, "text": "hello"}
        big = b"x" * 300_000
        assert c.post("/stream", content=big).json() == {"total": 300_000}
        assert c.post("/sync-stream", content=big).json() == {"total": 300_000}
