"""Turning a user's handler into the one coroutine shape the kernel awaits.

A handler may be sync or async and take:

- nothing, ``(request)``, or ``(request, response)`` — the seed's forms; a parameter
  named ``res``/``response`` or annotated ``HTTPResponse`` receives a fresh response
  to fill, and a ``None`` return then means "that response";
- path parameters by name (``def get_user(request, id: int)``), already converted.

It may return an :class:`HTTPResponse`, a ``dict``/``list``/dataclass (JSON), ``str``
(text/plain), ``bytes``, ``None`` (204, or the filled response), or a tuple
``(body, status)`` / ``(body, status, headers)``. Sync handlers run in a worker thread so a
slow one never stalls other connections. The signature is inspected once, at start-up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from typing import Any, Awaitable, Callable

import anyio
import anyio.from_thread
import anyio.to_thread

from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, StreamingResponse, dumps

__all__ = ["compile_handler", "to_response"]

logger = logging.getLogger("conduit.errors")

Invoker = Callable[[HTTPRequest], Awaitable[HTTPResponse]]


def to_response(result: Any, filled: HTTPResponse | None = None) -> HTTPResponse:
    """Convert what a handler returned into an HTTPResponse."""
    if isinstance(result, HTTPResponse):
        return result
    if result is None:
        return filled if filled is not None else HTTPResponse(204)
    if type(result) is tuple and 2 <= len(result) <= 3 and isinstance(result[1], int):  # not NamedTuples
        response = to_response(result[0], filled)
        response.status_code = result[1]
        if len(result) == 3:
            for k, v in dict(result[2]).items():
                response.headers[k] = v
        return response
    if isinstance(result, (dict, list)) or dataclasses.is_dataclass(result):
        response = filled or HTTPResponse()
        response._body = dumps(result)  # noqa: SLF001 - hot path, skip property checks
        response.headers["Content-Type"] = "application/json"
        return response
    if isinstance(result, str):
        return (filled or HTTPResponse()).text(result)
    if isinstance(result, (bytes, bytearray, memoryview)):
        return (filled or HTTPResponse()).bytes(bytes(result))
    if hasattr(result, "__aiter__") or inspect.isgenerator(result):
        return StreamingResponse(result)
    if hasattr(result, "tolist") or hasattr(result, "model_dump") or hasattr(result, "_asdict"):
        return (filled or HTTPResponse()).json(result)
    raise TypeError(
        f"handler returned {type(result).__name__}; return an HTTPResponse, dict, list, dataclass, "
        "str, bytes, a (body, status) tuple, or None"
    )


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


def compile_handler(fn: Callable[..., Any], path_params: set[str]) -> Invoker:
    """Build the invoker for ``fn``: argument mapping decided here, once."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    request_arg: str | None = None
    response_arg: str | None = None
    positional: list[str] = []  # in order: request, response
    kw_params: list[str] = []
    if sig is not None:
        for name, p in sig.parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            ann = p.annotation
            ann_name = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
            if name in path_params:
                kw_params.append(name)
            elif ann_name == "HTTPResponse" or name in ("res", "response", "resp"):
                response_arg = name
                positional.append("response")
            elif request_arg is None and p.default is p.empty:
                request_arg = name
                positional.append("request")
            elif p.default is p.empty:
                raise TypeError(
                    f"handler {getattr(fn, '__qualname__', fn)!r}: parameter {name!r} is neither the "
                    f"request, the response, nor a path parameter ({sorted(path_params) or 'none'})"
                )
    wants_response = response_arg is not None
    is_async = _is_async(fn)

    def build_args(request: HTTPRequest, response: HTTPResponse | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args = tuple(request if kind == "request" else response for kind in positional)
        kwargs = {k: request.params[k] for k in kw_params if k in request.params}
        return args, kwargs

    if not wants_response:
        simple = positional == ["request"] and not kw_params
        if is_async:
            if simple:

                async def invoke_async(request: HTTPRequest) -> HTTPResponse:
                    return to_response(await fn(request))

                return invoke_async

            async def invoke_async_args(request: HTTPRequest) -> HTTPResponse:
                args, kwargs = build_args(request, None)
                return to_response(await fn(*args, **kwargs))

            return invoke_async_args

        async def invoke_sync(request: HTTPRequest) -> HTTPResponse:
            args, kwargs = build_args(request, None)
            result = await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
            return to_response(result)

        return invoke_sync

    async def invoke_with_response(request: HTTPRequest) -> HTTPResponse:
        response = HTTPResponse()
        writer = _Writer(response)
        response._writer = writer  # noqa: SLF001
        args, kwargs = build_args(request, response)

        async def run() -> Any:
            try:
                if is_async:
                    return await fn(*args, **kwargs)
                return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
            finally:
                writer.finish()

        task = asyncio.ensure_future(run())
        await writer.decided.wait()
        if not writer.started:
            result = await task
            response._writer = None  # noqa: SLF001
            return to_response(result, response)
        return writer.streaming_response(task)

    return invoke_with_response


class _Writer:
    """Backs ``res.write()``: the first write turns the response into a chunked stream."""

    def __init__(self, response: HTTPResponse) -> None:
        self.response = response
        self.decided = asyncio.Event()
        self.started = False
        self._send: Any = None
        self._recv: Any = None

    def write(self, data: str | bytes) -> Any:
        chunk = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if asyncio._get_running_loop() is not None:
            return self._write_async(chunk)
        anyio.from_thread.run(self._write_async, chunk)
        return None

    async def _write_async(self, chunk: bytes) -> None:
        if not self.started:  # created on first use: most (req, res) handlers never write
            self._send, self._recv = anyio.create_memory_object_stream[bytes](max_buffer_size=8)
            self.started = True
            self.decided.set()
        await self._send.send(chunk)

    def finish(self) -> None:
        self.decided.set()
        if self._send is not None:
            self._send.close()

    def streaming_response(self, task: asyncio.Future[Any]) -> StreamingResponse:
        recv = self._recv

        async def body() -> Any:
            async with recv:
                async for chunk in recv:
                    yield chunk
            await asyncio.wait([task])
            exc = task.exception()
            if exc is not None:
                logger.error("streaming handler failed after the response started", exc_info=exc)
                raise exc

        src = self.response
        streamed = StreamingResponse(body(), src.status_code, None)
        streamed.headers = src.headers
        if "content-type" not in streamed.headers:
            streamed.headers["Content-Type"] = "application/octet-stream"
        return streamed
