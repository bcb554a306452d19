"""A live server on a real socket for the transport tests, and a raw-socket client."""

from __future__ import annotations

import socket
import time
from typing import Iterator

import anyio
import h11
import pytest

from conduit import Conduit, HTTPResponse, StreamingResponse
from conduit.testing import LiveServer


def build_app(**settings) -> Conduit:
    app = Conduit(
        max_body_size=1024 * 1024,
        max_header_size=4096,
        header_timeout=0.5,
        keepalive_timeout=0.5,
        shutdown_timeout=5.0,
        **settings,
    )
    app.state.sleeping = 0  # requests that reached the /sleep handler

    @app.get("/")
    async def index(request):
        return {"hello": "world"}

    @app.post("/echo")
    async def echo(request):
        return HTTPResponse().bytes(request.content, request.content_type or "application/octet-stream")

    @app.post("/count", stream=True)
    async def count(request):
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
        return {"bytes": total}

    @app.post("/ignore-body", stream=True)
    async def ignore_body(request):
        return HTTPResponse(202).json({"ignored": True})

    @app.get("/sleep/{seconds:float}")
    async def sleep(request, seconds: float):
        app.state.sleeping += 1
        await anyio.sleep(seconds)
        return {"slept": seconds}

    @app.get("/declared/{length}")
    async def declared(request, length: str):  # a handler's own Content-Length, right or wrong
        response = HTTPResponse().bytes(b"hello", "text/plain")
        response.headers["Content-Length"] = length
        return response

    @app.get("/stream")
    async def stream(request):
        async def gen():
            for i in range(5):
                yield f"part{i};"

        return StreamingResponse(gen(), media_type="text/plain")

    return app


def _protocols() -> list:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return ["h11", pytest.param("httptools", marks=pytest.mark.skip(reason="httptools is not installed"))]
    return ["h11", "httptools"]


@pytest.fixture(params=_protocols())
def http(request: pytest.FixtureRequest) -> str:
    """The conformance parameter: each live test runs on h11 (the reference) and httptools."""
    return request.param


@pytest.fixture
def protocol_class(http: str) -> type:
    """The protocol state class behind ``http``, for the raw-byte tests."""
    from conduit.server.runner import http_protocol

    return http_protocol(http)


@pytest.fixture
def server(http: str) -> Iterator[LiveServer]:
    app = build_app(http=http)
    with LiveServer(app) as live:
        yield live


class RawClient:
    """A socket, and an h11 client parser for what comes back (pipelining included)."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._leftover = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _parser(self, method: str) -> h11.Connection:
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "t")]))
        conn.send(h11.EndOfMessage())
        return conn

    def responses(self, count: int, method: str = "GET") -> list[tuple[h11.Response, bytes]]:
        """Read ``count`` responses (interim 1xx skipped) from the byte stream."""
        out: list[tuple[h11.Response, bytes]] = []
        while len(out) < count:
            conn = self._parser(method)
            if self._leftover:  # h11 reads an empty feed as end-of-file
                conn.receive_data(self._leftover)
            self._leftover = b""
            current: h11.Response | None = None
            body = b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = self.sock.recv(65536)
                    conn.receive_data(data)
                    if not data:
                        return out
                    continue
                if isinstance(event, h11.Response):
                    current = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    assert current is not None
                    out.append((current, body))
                    self._leftover = conn.trailing_data[0]
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    return out
        return out

    def request(self, method: str, target: str, headers=(), body: bytes = b"") -> tuple[h11.Response, bytes]:
        lines = [f"{method} {target} HTTP/1.1", "Host: test", *(f"{k}: {v}" for k, v in headers)]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        (result,) = self.responses(1, method)
        return result

    def raw_response(self, timeout: float = 5.0) -> bytes:
        """Everything the server sends until it closes the connection."""
        self.sock.settimeout(timeout)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    def read_until_closed(self, timeout: float = 30.0) -> bytes:
        """Everything the server sends until it closes the connection (end of file). A
        server that keeps the connection open past ``timeout`` fails the test with
        ``socket.timeout``; unlike :meth:`raw_response`, silence is not taken for a close."""
        self.sock.settimeout(timeout)
        data = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(server: LiveServer) -> Iterator[RawClient]:
    client = RawClient(server.port)
    yield client
    client.close()
