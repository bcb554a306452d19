"""The server over real sockets: keep-alive, pipelining, bodies, limits, timeouts, drain."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conduit.testing import LiveServer

from .conftest import RawClient, build_app


def test_keep_alive_serves_several_requests_on_one_connection(raw: RawClient) -> None:
    for _ in range(3):
        response, body = raw.request("GET", "/")
        assert response.status_code == 200 and body == b'{"hello":"world"}'
    headers = dict(response.headers)
    assert headers[b"server"] == b"conduit" and b"date" in headers


def test_pipelined_requests_are_answered_in_order(raw: RawClient) -> None:
    raw.send(
        b"GET /sleep/0.2 HTTP/1.1\r\nHost: t\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst"
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    results = raw.responses(3)
    assert [body for _, body in results] == [b'{"slept":0.2}', b"first", b'{"hello":"world"}']


def test_chunked_request_body_is_streamed_to_the_handler(raw: RawClient) -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [b"a" * 1000, b"b" * 70000, b"c"])
    raw.send(b"POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    (response, body), = raw.responses(1)
    assert response.status_code == 200 and body == b'{"bytes":71001}'


def test_expect_100_continue_gets_a_continue_before_the_body(raw: RawClient) -> None:
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    raw.sock.settimeout(3)
    interim = raw.sock.recv(1024)
    assert interim.startswith(b"HTTP/1.1 100 ")
    raw.send(b"ping")
    (response, body), = raw.responses(1)
    assert response.status_code == 200 and body == b"ping"


@pytest.mark.parametrize("length", ["9", "3", "five", "%EF%BC%95"])  # the last: a fullwidth 5
def test_a_handlers_wrong_content_length_gets_500_and_the_server_serves_on(raw: RawClient, server: LiveServer,
                                                                          length: str) -> None:
    raw.send(f"GET /declared/{length} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    data = raw.raw_response()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 ") and b"connection: close" in head.lower()
    assert b"Content-Length its body does not have" in body and b"hello" not in body
    response = httpx.get(server.url + "/declared/5")  # a new connection; the right length passes
    assert response.status_code == 200 and response.content == b"hello"


def test_declared_oversized_body_gets_413_and_a_closed_connection(raw: RawClient) -> None:
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n")
    data = raw.raw_response()
    assert data.startswith(b"HTTP/1.1 413 ") and b'"status":413' in data and b"2000000" in data


def test_streamed_oversized_body_gets_413(raw: RawClient) -> None:
    raw.send(b"POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    block = b"%x\r\n%s\r\n" % (100000, b"z" * 100000)
    try:
        for _ in range(12):
            raw.send(block)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert raw.raw_response().startswith(b"HTTP/1.1 413 ")


def test_oversized_headers_get_431(raw: RawClient) -> None:
    raw.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
    assert raw.raw_response().startswith(b"HTTP/1.1 431 ")


def test_slow_header_gets_408_and_is_cut(raw: RawClient) -> None:
    raw.send(b"GET / HTTP/1.1\r\nHost: t\r\n")  # never finished
    assert raw.read_until_closed().startswith(b"HTTP/1.1 408 ")


def test_idle_keep_alive_connection_is_closed_quietly(raw: RawClient) -> None:
    response, _ = raw.request("GET", "/")
    assert response.status_code == 200
    assert raw.read_until_closed() == b""  # closed after keepalive_timeout (0.5 s), with no 408


@pytest.mark.parametrize(
    "garbage",
    [b"NONSENSE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", b"\x00\xff\r\n\r\n",
     b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\n"],
)
def test_malformed_requests_get_400_and_the_server_keeps_serving(server: LiveServer, garbage: bytes) -> None:
    bad = RawClient(server.port)
    bad.send(garbage)
    data = bad.raw_response()
    bad.close()
    assert re.match(rb"HTTP/1\.1 (4\d\d|505) ", data) and b"Traceback" not in data
    assert b"connection: close" in data.lower()
    assert httpx.get(server.url + "/").status_code == 200


def test_streamed_responses_are_chunked(server: LiveServer) -> None:
    with httpx.stream("GET", server.url + "/stream") as r:
        assert r.headers["transfer-encoding"] == "chunked"
        assert r.read() == b"part0;part1;part2;part3;part4;"


def test_a_blocked_sync_handler_does_not_stall_other_connections(http: str) -> None:
    app = build_app(http=http)
    events: list[str] = []
    entered, release = threading.Event(), threading.Event()

    @app.get("/held")
    def held(request):
        events.append("held entered")
        entered.set()
        release.wait(10)  # blocking the event loop would hold "/" back until this times out
        events.append("held answered")
        return {"released": True}

    with LiveServer(app) as live:
        waiting = threading.Thread(target=httpx.get, args=(live.url + "/held",), kwargs={"timeout": 30})
        waiting.start()
        entered.wait(10)
        status = httpx.get(live.url + "/", timeout=30).status_code  # while /held is blocked in its handler
        events.append(f"/ answered {status}")
        release.set()
        waiting.join(30)
    assert events == ["held entered", "/ answered 200", "held answered"]


def test_a_request_knows_the_local_address_it_arrived_on(http: str) -> None:
    app = build_app(http=http)

    @app.get("/local-address")
    async def local_address(request):
        return {"server": list(request.server)}

    with LiveServer(app) as live:
        port = live.port
        answer = httpx.get(live.url + "/local-address", timeout=30).json()
    assert answer == {"server": ["127.0.0.1", port]}


def test_graceful_shutdown_finishes_in_flight_requests_and_refuses_new_ones(http: str) -> None:
    app = build_app(http=http)
    events: list[str] = []
    app.on_shutdown(lambda: events.append("shutdown hook"))
    live = LiveServer(app).start()
    results: list[int] = []

    def slow() -> None:
        results.append(httpx.get(live.url + "/sleep/0.8", timeout=10).status_code)

    threads = [threading.Thread(target=slow) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while app.state.sleeping < 4 and time.monotonic() < deadline:  # all four in flight
        time.sleep(0.02)
    assert app.state.sleeping == 4
    port = live.port
    stopper = threading.Thread(target=live.stop)
    stopper.start()
    for t in threads:
        t.join(10)
    stopper.join(10)
    assert results == [200, 200, 200, 200]  # none lost
    assert events == ["shutdown hook"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).recv(1) or (_ for _ in ()).throw(OSError("closed"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=300))
def test_random_bytes_never_crash_the_server(server: LiveServer, data: bytes) -> None:
    client = RawClient(server.port, timeout=2)
    try:
        client.send(data + b"\r\n\r\n")
        reply = client.raw_response(timeout=2)
    finally:
        client.close()
    assert reply == b"" or reply.startswith(b"HTTP/1.1 ")
    assert b"Traceback" not in reply
    assert httpx.get(server.url + "/", timeout=5).status_code == 200


def test_client_disconnect_stops_an_endless_stream() -> None:
    import anyio

    from conduit import Conduit, EventSourceResponse

    app = Conduit()
    cleaned = threading.Event()

    @app.get("/events")
    async def events(request):
        async def gen():
            try:
                while True:
                    yield {"data": "tick"}
                    await anyio.sleep(0.05)
            finally:
                cleaned.set()

        return EventSourceResponse(gen())

    with LiveServer(app) as live:
        client = RawClient(live.port)
        client.send(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        client.close()
        assert cleaned.wait(3), "the generator kept running after the client left"


def test_unread_body_of_a_streaming_route_is_drained_and_the_connection_reused(raw: RawClient, server: LiveServer) -> None:
    body = b"q" * 300_000
    raw.send(b"POST /ignore-body HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    (response, payload), = raw.responses(1)
    assert response.status_code == 202 and payload == b'{"ignored":true}'
    second, _ = raw.request("GET", "/")
    assert second.status_code == 200
