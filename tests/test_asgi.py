"""ASGI both ways: a Conduit app under uvicorn, and ASGI apps mounted in a Conduit app."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from conduit import Conduit
from conduit.testing import LiveServer, TestClient, free_port


async def sl_hello(request: Request) -> JSONResponse:
    return JSONResponse({"path": request.url.path, "root": request.scope["root_path"], "q": request.query_params.get("q")})


async def sl_echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"len": len(body)}, status_code=201, headers={"x-from": "starlette"})


async def sl_stream(request: Request) -> StreamingResponse:
    async def gen():
        for i in range(3):
            yield f"{i};"

    return StreamingResponse(gen(), media_type="text/plain")


starlette_app = Starlette(routes=[Route("/hello", sl_hello), Route("/echo", sl_echo, methods=["POST"]), Route("/stream", sl_stream)])


def make_app() -> Conduit:
    app = Conduit()
    seen: list[str] = []
    app.state.seen = seen

    async def audit(request, call_next):
        seen.append(request.path)
        response = await call_next(request)
        response.headers["X-Audited"] = "1"
        return response

    app.use(audit)
    app.mount("/legacy", starlette_app)

    @app.get("/native")
    def native(r):
        return {"native": True}

    return app


def test_mounted_asgi_app_gets_prefix_as_root_path_and_middleware_applies() -> None:
    app = make_app()
    with TestClient(app) as c:
        r = c.get("/legacy/hello?q=x")
        assert r.json() == {"path": "/legacy/hello", "root": "/legacy", "q": "x"}
        assert r.headers["x-audited"] == "1"
        r = c.post("/legacy/echo", content=b"a" * 100_000)
        assert (r.status_code, r.json(), r.headers["x-from"]) == (201, {"len": 100_000}, "starlette")
        assert c.get("/legacy/stream").content == b"0;1;2;"
        assert c.get("/legacy/missing").status_code == 404
        assert c.get("/native").json() == {"native": True}
    assert app.state.seen[0] == "/legacy/hello"


def test_mounted_app_over_real_sockets() -> None:
    with LiveServer(make_app()) as live:
        r = httpx.post(live.url + "/legacy/echo", content=b"xyz")
        assert r.status_code == 201 and r.json() == {"len": 3}


@pytest.mark.slow
def test_conduit_app_runs_under_uvicorn_with_lifespan() -> None:
    import uvicorn

    app = make_app()
    events: list[str] = []
    app.on_startup(lambda: events.append("startup"))
    app.on_shutdown(lambda: events.append("shutdown"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app.asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/native").json() == {"native": True}
        r = httpx.get(base + "/nope")
        assert r.status_code == 404 and r.json()["status"] == 404
        assert httpx.head(base + "/native").content == b""
    finally:
        server.should_exit = True
        thread.join(10)
    assert events == ["startup", "shutdown"]
