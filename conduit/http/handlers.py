"""Turning a user's handler into the one coroutine shape the kernel awaits.

A handler may be sync or async and take:

- nothing, ``(request)``, or ``(request, response)`` — the seed's forms; a parameter
  named ``res``/``response`` or annotated ``HTTPResponse`` receives a fresh response
  to fill, and a ``None`` return then means "that response";
- path parameters by name (``def get_user(request, id: int)``), already converted;
- query parameters as keyword parameters annotated with ``str``, ``int``, ``float``,
  ``bool``, ``UUID``, a ``Literal``, an ``Enum``, ``X | None`` or ``list[X]`` of those
  (``def search(request, q: str, page: int = 1, tag: list[str] = [])``): converted before
  the handler runs; a missing required one or a value that does not convert is a 422
  naming the parameter. Without a default a query parameter is required; ``list[X]``
  collects repeated keys (``?tag=a&tag=b``). Other parameters with defaults are left alone.

It may return an :class:`HTTPResponse`, a ``dict``/``list``/dataclass (JSON), ``str``
(text/plain), ``bytes``, ``None`` (204, or the filled response), or a tuple
``(body, status)`` / ``(body, status, headers)``. Sync handlers run in a worker thread so a
slow one never stalls other connections. The signature is inspected once, at start-up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import inspect
import logging
import types
import typing
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread

from conduit.errors import UnprocessableEntityError
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, StreamingResponse, dumps
from conduit.schema import text_converter, type_hints

__all__ = ["HandlerSignature", "QueryParam", "compile_handler", "inspect_handler", "query_type", "to_response"]

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
        response._body = dumps(result)
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


@dataclasses.dataclass(frozen=True)
class QueryParam:
    """A handler keyword parameter filled from the query string."""

    name: str
    annotation: Any  # the resolved annotation, ``X | None`` and ``list[X]`` included
    scalar: Any  # the type each value converts to: str, int, float, bool, UUID, an Enum or a Literal
    many: bool  # ``list[X]``: every value of a repeated key
    default: Any  # ``inspect.Parameter.empty`` when the parameter is required

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclasses.dataclass(frozen=True)
class HandlerSignature:
    """How the kernel calls a handler: decided once, from its signature."""

    positional: tuple[str, ...]  # "request" / "response", in the handler's order
    path_params: tuple[str, ...]
    query: tuple[QueryParam, ...]
    returns: Any  # the resolved return annotation; ``inspect.Signature.empty`` when unknown

    @property
    def takes_response(self) -> bool:
        return "response" in self.positional


def query_type(annotation: Any) -> tuple[Any, bool] | None:
    """``(scalar type, many)`` when ``annotation`` can be read from a query string, else None."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            return None
        return query_type(members[0])
    if origin is list:
        args = typing.get_args(annotation)
        inner = query_type(args[0]) if args else None
        return (inner[0], True) if inner is not None and not inner[1] else None
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        return (annotation, False) if all(isinstance(v, (str, int, bool)) for v in values) else None
    if annotation in (str, int, float, bool, uuid.UUID):
        return annotation, False
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation, False
    return None


def _type_hints(fn: Any) -> dict[str, Any]:
    """Resolved annotations of ``fn`` (or of a callable object's ``__call__``); those that
    don't resolve (a local class) are left out."""
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(type(fn), "__call__", fn)
    return type_hints(inspect.unwrap(target), strict=False)


def inspect_handler(fn: Callable[..., Any], path_params: set[str]) -> HandlerSignature:
    """Decide how ``fn`` is called: request/response slots, path and query parameters.

    Raises TypeError for a parameter without a default that is none of these.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return HandlerSignature((), (), (), inspect.Signature.empty)  # called with no arguments
    hints = _type_hints(fn)
    request_arg: str | None = None
    positional: list[str] = []
    path: list[str] = []
    query: list[QueryParam] = []
    for name, p in sig.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = p.annotation
        ann_name = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
        resolved = hints.get(name, p.empty)
        qtype = query_type(resolved) if resolved is not p.empty else None
        if name in path_params:
            path.append(name)
        elif ann_name == "HTTPResponse" or name in ("res", "response", "resp"):
            positional.append("response")
        elif qtype is not None and p.kind is not p.POSITIONAL_ONLY and not name.startswith("_"):
            query.append(QueryParam(name, resolved, qtype[0], qtype[1], p.default))
        elif request_arg is None and p.default is p.empty:
            request_arg = name
            positional.append("request")
        elif p.default is p.empty:
            raise TypeError(
                f"handler {getattr(fn, '__qualname__', fn)!r}: parameter {name!r} is neither the "
                f"request, the response, a path parameter ({sorted(path_params) or 'none'}) nor a "
                "query parameter (annotate it str, int, float, bool, UUID, a Literal, an Enum, "
                "X | None or list[X])"
            )
    returns = hints.get("return", sig.return_annotation if not isinstance(sig.return_annotation, str) else sig.empty)
    return HandlerSignature(tuple(positional), tuple(path), tuple(query), returns)


def _query_reader(params: tuple[QueryParam, ...]) -> Callable[[HTTPRequest], dict[str, Any]]:
    specs = [(q.name, q.many, q.required, *text_converter(q.scalar)) for q in params]

    def read(request: HTTPRequest) -> dict[str, Any]:
        query = request.query
        values: dict[str, Any] = {}
        for name, many, required, convert, what in specs:
            raw = query.getlist(name)
            if not raw:
                if required:
                    raise UnprocessableEntityError(
                        "Missing query parameter", f"query parameter {name!r} is required: {what}",
                        code="missing_query_parameter",
                    )
                continue
            try:
                values[name] = [convert(v) for v in raw] if many else convert(raw[-1])
            except (ValueError, LookupError):
                bad = next((v for v in raw if not _converts(convert, v)), raw[-1]) if many else raw[-1]
                shown = bad if len(bad) <= 40 else bad[:40] + "..."
                raise UnprocessableEntityError(
                    "Invalid query parameter", f"query parameter {name!r} must be {what}; got {shown!r}",
                    code="invalid_query_parameter",
                ) from None
        return values

    return read


def _converts(convert: Callable[[str], Any], raw: str) -> bool:
    try:
        convert(raw)
    except (ValueError, LookupError):
        return False
    return True


def compile_handler(fn: Callable[..., Any], path_params: set[str]) -> Invoker:
    """Build the invoker for ``fn``: argument mapping decided here, once."""
    signature = inspect_handler(fn, path_params)
    positional = list(signature.positional)
    kw_params = list(signature.path_params)
    read_query = _query_reader(signature.query) if signature.query else None
    wants_response = signature.takes_response
    is_async = _is_async(fn)

    def build_args(request: HTTPRequest, response: HTTPResponse | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args = tuple(request if kind == "request" else response for kind in positional)
        kwargs = {k: request.params[k] for k in kw_params if k in request.params}
        if read_query is not None:
            kwargs.update(read_query(request))
        return args, kwargs

    if not wants_response:
        simple = positional == ["request"] and not kw_params and read_query is None
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
        response._writer = writer
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
            response._writer = None
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
