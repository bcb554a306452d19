"""The routes bench/http/hostile.py sends hostile input to: ``app`` for ``conduit run``, and
``asgi``, the same routes as a pure ASGI app, for uvicorn.

GET / (a short text), POST /echo (the request body back), GET /big (64 KiB),
GET /stream (64 KiB chunks, without end); anything else is 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from conduit import Conduit, HTTPRequest, HTTPResponse, StreamingResponse

BIG = b"x" * 65536
CHUNK = b"y" * 65536

app = Conduit(plugins=[])


@app.get("/")
async def index(request: HTTPRequest) -> HTTPResponse:
    return HTTPResponse().text("hello")


@app.post("/echo")
async def echo(request: HTTPRequest) -> HTTPResponse:
    return HTTPResponse().bytes(request.content)


@app.get("/big")
async def big(request: HTTPRequest) -> HTTPResponse:
    return HTTPResponse().bytes(BIG)


@app.get("/stream")
async def stream(request: HTTPRequest) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        while True:
            yield CHUNK

    return StreamingResponse(chunks(), media_type="application/octet-stream")


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _answer(send: Send, status: int, body: bytes, media_type: bytes) -> None:
    headers = [(b"content-type", media_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def asgi(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The same routes for uvicorn, with nothing between the server and them."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    route = (scope["method"], scope["path"])
    if route == ("GET", "/"):
        await _answer(send, 200, b"hello", b"text/plain; charset=utf-8")
    elif route == ("POST", "/echo"):
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await _answer(send, 200, bytes(body), b"application/octet-stream")
    elif route == ("GET", "/big"):
        await _answer(send, 200, BIG, b"application/octet-stream")
    elif route == ("GET", "/stream"):
        start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]}
        await send(start)
        while True:
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
    else:
        await _answer(send, 404, b"Not Found", b"text/plain; charset=utf-8")
