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
from conduit.http.middleware import route_middleware
from conduit.testing import AsyncTestClient, LiveServer, TestClient


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


@pytest.mark.anyio
async def test_request_timeout_gives_each_request_its_own_deadline() -> None:
    # One timer serves every in-flight request: when the first one's deadline passes,
    # a later one that is still within its own must run on to completion.
    app = Conduit(plugins=[])
    app.use(request_timeout(timeout_seconds=1.0))

    @app.get("/sleep/{seconds:float}")
    async def sleep(request, seconds: float):
        await anyio.sleep(seconds)
        return {"slept": seconds}

    results: dict[str, int] = {}
    async with AsyncTestClient(app) as client:

        async def get(name: str, seconds: float) -> None:
            results[name] = (await client.get(f"/sleep/{seconds}")).status_code

        async with anyio.create_task_group() as tg:
            tg.start_soon(get, "first", 30)
            await anyio.sleep(0.6)
            tg.start_soon(get, "second", 0.6)  # ends 0.2 s after the first one's deadline
        assert (await client.get("/sleep/0")).status_code == 200  # the app still serves
    assert results == {"first": 504, "second": 200}


@pytest.mark.anyio
async def test_request_timeout_answers_504_even_when_the_handler_swallows_the_cancellation() -> None:
    app = Conduit(plugins=[])
    app.use(request_timeout(timeout_seconds=0.2))

    @app.get("/stubborn")
    async def stubborn(request):
        try:
            await anyio.sleep(30)
        except BaseException:  # noqa: BLE001 - the point of the test
            return {"finished": "anyway"}
        return {"finished": "late"}

    async with AsyncTestClient(app) as client:
        r = await client.get("/stubborn")
        assert r.status_code == 504 and r.json()["code"] == "request_timeout"
        assert (await client.get("/stubborn/nope")).status_code == 404  # the task is not left cancelled


@pytest.mark.anyio
async def test_request_timeout_used_app_wide_and_on_a_route_times_each_request_once() -> None:
    # The same middleware instance sees the request twice (the app's stack, then the route's):
    # finishing the inner pass must not read as the outer deadline having fired.
    timeout = request_timeout(timeout_seconds=0.3)
    app = Conduit(plugins=[])
    app.use(timeout)

    @app.get("/sleep/{seconds:float}")
    @route_middleware(timeout)
    async def sleep(request, seconds: float):
        await anyio.sleep(seconds)
        return {"slept": seconds}

    async with AsyncTestClient(app) as client:
        assert (await client.get("/sleep/0")).status_code == 200
        late = await client.get("/sleep/5")
        assert late.status_code == 504 and late.json()["code"] == "request_timeout"
        assert (await client.get("/sleep/0.01")).status_code == 200


@pytest.mark.anyio
async def test_request_timeout_lets_other_cancellations_through() -> None:
    # A client that leaves (the server cancels the request) is not turned into a 504.
    app = Conduit(plugins=[])
    app.use(request_timeout(timeout_seconds=5.0))
    entered = anyio.Event()

    @app.get("/slow")
    async def slow(request):
        entered.set()
        await anyio.sleep(30)
        return {}

    got: list[int] = []
    async with AsyncTestClient(app) as client:
        with anyio.move_on_after(5) as outer:
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    got.append((await client.get("/slow")).status_code)

                tg.start_soon(call)
                await entered.wait()
                tg.cancel_scope.cancel()
        assert not outer.cancelled_caught
        assert (await client.get("/slow/x")).status_code == 404
    assert got == []


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
