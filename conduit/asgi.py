"""ASGI in both directions.

- :class:`ASGIAdapter` (``app.asgi``) runs a Conduit app under any ASGI server
  (``uvicorn mymodule:app.asgi``), lifespan included.
- :func:`mount` (``app.mount(prefix, asgi_app)``) serves an ASGI application under a
  path prefix of a Conduit app: requests stream in, responses stream out, and Conduit's
  middleware (auth, rate limits, telemetry) applies to it like to any route.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from conduit.http.datastructures import Address, MutableHeaders
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, StreamingResponse

__all__ = ["ASGIAdapter", "mount"]

logger = logging.getLogger("conduit.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIAdapter:
    """An ASGI 3 application serving a Conduit app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "http":
            await self._http(scope, receive, send)
        else:  # websocket: not served by Conduit
            raise RuntimeError(f"Conduit does not serve ASGI {kind!r} connections")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.app.startup()
                except Exception as exc:  # noqa: BLE001 - reported to the server
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.app.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.app._started:
            await self.app.startup()
        more = True

        async def receive_body() -> bytes:
            nonlocal more
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    more = False
                    break
                more = message.get("more_body", False)
                body = message.get("body", b"")
                if body:
                    return body
            return b""

        raw_path = scope.get("raw_path")
        client = scope.get("client")
        request = HTTPRequest(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            list(scope.get("headers", [])),
            receive=receive_body,
            client=Address(client[0], client[1]) if client else None,
            server=Address(server[0], server[1] or 0) if (server := scope.get("server")) else None,
            scheme=scope.get("scheme", "http"),
            http_version=scope.get("http_version", "1.1"),
            raw_path=raw_path.decode("latin-1").partition("?")[0] if raw_path else scope["path"],
        )
        response = await self.app.handle(request)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.raw_items()]
        if not response.is_streaming:
            body = b"" if scope["method"] == "HEAD" else response.body
            if "content-length" not in response.headers and response.status_code not in (204, 304):
                headers.append((b"content-length", str(len(response.body)).encode("ascii")))
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        async for chunk in response.iter_bytes():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def mount(app: Any, prefix: str, asgi_app: Callable[..., Awaitable[None]], *, name: str | None = None) -> None:
    """Serve ``asgi_app`` for every path under ``prefix`` (the prefix becomes ``root_path``)."""
    prefix = prefix.rstrip("/")

    async def endpoint(request: HTTPRequest) -> HTTPResponse:
        return await _call_asgi(asgi_app, request, prefix)

    methods = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    label = name or getattr(asgi_app, "__name__", type(asgi_app).__name__)
    for path in (prefix or "/", f"{prefix}/{{path:path}}"):
        app.add_route(path, endpoint, methods, stream=True, include_in_schema=False, name=f"mount:{label}")


async def _call_asgi(asgi_app: Callable[..., Awaitable[None]], request: HTTPRequest, prefix: str) -> HTTPResponse:
    client = request.client
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": request.http_version,
        "method": request.method,
        "scheme": request.scheme,
        # ASGI (and Starlette's Mount): ``path`` is the full path; apps strip ``root_path``.
        "path": request.path,
        "raw_path": request.raw_path.encode("latin-1"),
        "root_path": prefix,
        "query_string": request.query_string.encode("latin-1"),
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "client": (client.host, client.port) if client else None,
        "server": None,
        "state": {},
    }
    body_iter = request.stream().__aiter__()
    body_done = False

    async def receive() -> Message:
        nonlocal body_done
        if body_done:
            await anyio.sleep_forever()
        try:
            chunk = await body_iter.__anext__()
            return {"type": "http.request", "body": chunk, "more_body": True}
        except StopAsyncIteration:
            body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}

    started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
    send_stream, recv_stream = anyio.create_memory_object_stream[bytes](max_buffer_size=16)

    async def send(message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if not started.done():
                started.set_result(message)
        elif kind == "http.response.body":
            body = message.get("body", b"")
            if body:
                await send_stream.send(bytes(body))
            if not message.get("more_body", False):
                send_stream.close()

    async def run() -> None:
        try:
            await asgi_app(scope, receive, send)
        except Exception as exc:
            if not started.done():
                started.set_exception(exc)
            else:
                logger.exception("mounted ASGI app failed after its response started")
        finally:
            send_stream.close()
            if not started.done():
                started.set_exception(RuntimeError("the mounted ASGI app returned without a response"))

    task = asyncio.ensure_future(run())
    start = await started

    async def body() -> Any:
        async with recv_stream:
            async for chunk in recv_stream:
                yield chunk
        await task

    response = StreamingResponse(body(), start.get("status", 200))
    response.headers = MutableHeaders()  # only what the ASGI app set
    for k, v in start.get("headers", []):
        name = k.decode("latin-1") if isinstance(k, bytes) else k
        value = v.decode("latin-1") if isinstance(v, bytes) else v
        if name.lower() in ("content-length", "transfer-encoding", "connection"):
            continue
        response.headers.add(name, value)
    return response
