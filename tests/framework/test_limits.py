"""request_size_limit (413), request_timeout (504) and the connection cap (503)."""

from __future__ import annotations

import threading

import anyio
import httpx
import pytest

from conduit.app import Conduit
from conduit.framework.edge_cases import (
    connection_limit,
    create_connection_pool,
    request_size_limit,
    request_timeout,
)
from conduit.testing import LiveServer, TestClient


def sized_app(**limit) -> Conduit:
    app = Conduit(plugins=[])
    app.use(request_size_limit(**limit))

    @app.post("/echo")
    def echo(request):
        return {"bytes": len(request.content)}

    @app.post("/stream", stream=True)
    async def stream(request):
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
        return {"bytes": total}

    return app


def test_declared_content_length_over_the_limit_is_413_with_the_size() -> None:
    with TestClient(sized_app(max_bytes=1000)) as client:
        ok = client.post("/echo", content=b"x" * 1000)
        big = client.post("/echo", content=b"x" * 1001)
    assert ok.status_code == 200 and ok.json() == {"bytes": 1000}
    assert big.status_code == 413
    assert big.json()["detail"] == "the request body is 1001 bytes; the limit is 1000 bytes"
    assert big.json()["code"] == "body_too_large"


def test_seed_max_mb_reads_megabytes() -> None:
    with TestClient(sized_app(max_mb=1)) as client:
        assert client.post("/echo", content=b"x" * (1024 * 1024)).status_code == 200
        assert client.post("/echo", content=b"x" * (1024 * 1024 + 1)).status_code == 413


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/echo", "/stream"])
def test_chunked_body_without_length_is_cut_off_while_streaming(path: str) -> None:
    def chunks():
        for _ in range(64):
            yield b"y" * 1024

    with LiveServer(sized_app(max_bytes=10_000)) as server:
        small = httpx.post(server.url + path, content=iter([b"a" * 100, b"b" * 100]))
        big = httpx.post(server.url + path, content=chunks())  # 64 KiB fits the socket buffers
    assert small.status_code == 200 and small.json() == {"bytes": 200}
    assert big.status_code == 413
    assert big.json()["detail"] == "the request body exceeds the limit of 10000 bytes"


def timeout_app(seconds: float) -> tuple[Conduit, threading.Event]:
    release = threading.Event()
    app = Conduit(plugins=[])
    app.use(request_timeout(timeout_seconds=seconds))

    @app.get("/slow-async")
    async def slow_async(request):
        await anyio.sleep(30)
        return {"done": True}

    @app.get("/slow-sync")
    def slow_sync(request):
        release.wait(30)
        return {"done": True}

    @app.get("/fast")
    def fast(request):
        return {"done": True}

    return app, release


@pytest.mark.parametrize("path", ["/slow-async", "/slow-sync"])
def test_request_timeout_answers_504_at_the_deadline(path: str) -> None:
    app, release = timeout_app(0.2)
    try:
        with TestClient(app) as client:
            fast = client.get("/fast")
            slow = client.get(path)  # a sync handler's thread keeps waiting on `release`
            assert not release.is_set()
    finally:
        release.set()
    assert fast.status_code == 200
    assert slow.status_code == 504
    assert slow.json()["code"] == "request_timeout"
    assert slow.json()["detail"] == "the request did not complete within 0.2s"


def test_connection_cap_answers_503_with_retry_after_while_full() -> None:
    entered = threading.Event()
    release = threading.Event()
    app = Conduit(plugins=[])
    app.use(connection_limit(max_connections=1, retry_after=3))

    @app.get("/work")
    def work(request):
        entered.set()
        release.wait(10)
        return {"ok": True}

    results: dict[str, httpx.Response] = {}
    with LiveServer(app) as server:
        first = threading.Thread(target=lambda: results.setdefault("first", httpx.get(server.url + "/work")))
        first.start()
        assert entered.wait(10)
        busy = httpx.get(server.url + "/work")
        release.set()
        first.join(10)
        after = httpx.get(server.url + "/work")
    assert results["first"].status_code == 200
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "3"
    assert busy.json()["code"] == "too_many_connections"
    assert after.status_code == 200


def test_seed_connection_pool_counts_and_refuses_unmatched_release() -> None:
    pool = create_connection_pool(max_connections=2)
    assert pool.acquire_connection() and pool.acquire_connection()
    assert not pool.acquire_connection()
    pool.release_connection()
    assert pool.active == 1 and pool.acquire_connection()
    pool.release_connection()
    pool.release_connection()
    with pytest.raises(RuntimeError, match="without a matching"):
        pool.release_connection()
