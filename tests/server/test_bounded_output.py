"""Output is bounded: a client that pipelines requests and never reads holds at most about one
response's worth of unsent bytes, and is disconnected after write_timeout without progress."""

from __future__ import annotations

import socket
import time

from conduit import Conduit, HTTPResponse, StreamingResponse
from conduit.testing import LiveServer

BIG = b"x" * 65536


def _app(http: str) -> Conduit:
    app = Conduit(http=http, write_timeout=1.0, header_timeout=5.0, keepalive_timeout=5.0)

    @app.get("/big")
    async def big(request):
        return HTTPResponse(200, BIG, {"Content-Type": "application/octet-stream"})

    app.state.stream_closed = False

    @app.get("/endless")
    async def endless(request):
        async def gen():
            try:
                while True:
                    yield BIG
            finally:
                app.state.stream_closed = True

        return StreamingResponse(gen(), media_type="application/octet-stream")

    return app


def _unsent(server: LiveServer) -> list[int]:
    return [c.transport.get_write_buffer_size() for c in list(server.server.state.connections) if c.transport]


def _wait(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_never_reading_pipelined_flood_holds_bounded_output_then_is_closed(http: str) -> None:
    app = _app(http)
    with LiveServer(app) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n" * 2000)  # ~60 KB of requests for ~128 MB of answers
        _wait(lambda: server.server.state.total_requests >= 2)
        time.sleep(0.3)  # let it write as far as the socket and the high-water mark allow
        answered = server.server.state.total_requests
        peak = max(_unsent(server) or [0])
        assert answered < 100, answered  # it stopped answering the pipeline: nobody reads
        assert peak < 4 * len(BIG), peak  # about one response beyond the socket's buffers, not 2,000
        _wait(lambda: not server.server.state.connections)  # write_timeout: closed, output freed
        sock.close()


def test_a_stream_nobody_reads_is_closed_after_write_timeout_and_its_generator_ends(http: str) -> None:
    app = _app(http)
    with LiveServer(app) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        _wait(lambda: app.state.stream_closed)
        assert not server.server.state.connections
        sock.close()


def test_a_slow_reader_that_keeps_reading_is_not_cut(http: str) -> None:
    app = _app(http)
    with LiveServer(app) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n" * 4)
        received = b""
        deadline = time.monotonic() + 20
        while received.count(b"HTTP/1.1 200") < 4 or len(received) < 4 * len(BIG):
            assert time.monotonic() < deadline
            received += sock.recv(8192)
            time.sleep(0.01)  # ~800 KB/s: slow, but always reading
        sock.close()


def test_a_body_trickling_in_below_the_minimum_rate_is_408(http: str) -> None:
    app = Conduit(http=http, header_timeout=0.5, body_min_rate=1000)

    @app.post("/upload")
    async def upload(request):
        return {"bytes": len(await request.body())}

    with LiveServer(app) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        started = time.monotonic()
        answer = b""
        sock.settimeout(0.2)
        while b"\r\n\r\n" not in answer:
            assert time.monotonic() - started < 10, "a trickling body was never cut"
            try:
                sock.sendall(b"x")  # one byte every 0.2 s: every read comes in time, the pace does not
                answer += sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"slower than 1000 bytes a second" in answer and b"connection: close" in answer.lower()
        sock.close()


def test_max_connections_answers_503_past_the_cap_and_serves_again_below_it(http: str) -> None:
    app = Conduit(http=http, max_connections=2, keepalive_timeout=5.0)

    @app.get("/")
    async def index(request):
        return {"ok": True}

    with LiveServer(app) as server:
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
        _wait(lambda: len(server.server.state.connections) == 2)
        extra = socket.create_connection(("127.0.0.1", server.port))
        extra.settimeout(5)
        refused = extra.recv(4096)
        assert refused.startswith(b"HTTP/1.1 503") and b"Connection: close" in refused and b'"code":"busy"' in refused
        extra.close()
        held[0].close()
        _wait(lambda: len(server.server.state.connections) == 1)
        again = socket.create_connection(("127.0.0.1", server.port))
        again.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        again.settimeout(5)
        assert again.recv(4096).startswith(b"HTTP/1.1 200")
        for sock in (again, held[1]):
            sock.close()


def test_max_requests_per_connection_closes_after_the_last_one_saying_so(http: str) -> None:
    app = Conduit(http=http, max_requests_per_connection=3)

    @app.get("/")
    async def index(request):
        return {"ok": True}

    with LiveServer(app) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 5)
        sock.settimeout(5)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sock.close()
    answers = data.split(b"HTTP/1.1 200")[1:]
    assert len(answers) == 3, data
    assert b"connection: close" not in answers[0].lower() and b"connection: close" in answers[2].lower()
