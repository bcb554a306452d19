"""HTTPResponse and its streaming kinds.

``HTTPResponse(status).json(data)`` is the seed's style and returns the response for
chaining; ``json`` takes any JSON-able value (orjson: dicts, lists, numbers, dataclasses,
datetimes, numpy arrays). A streamed body is any iterable or async iterable of ``bytes``
or ``str``; :class:`EventSourceResponse` frames Server-Sent Events.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import orjson

from conduit.errors import HTTPError, InternalServerError
from conduit.http.datastructures import MutableHeaders

__all__ = [
    "EventSourceResponse",
    "HTTPResponse",
    "StreamingResponse",
    "dumps",
    "error_response",
    "format_sse",
]

logger = logging.getLogger("conduit.errors")

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic: in JSON mode, so URLs, decimals and the like become JSON too
        try:
            return dump(mode="json")
        except TypeError:
            return dump()
    for attr in ("tolist", "to_dict", "_asdict"):
        fn = getattr(value, attr, None)
        if callable(fn):
            return fn()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(data: Any) -> bytes:
    """Serialise ``data`` to JSON bytes with orjson (numpy, dataclasses, sets, pydantic)."""
    return orjson.dumps(data, default=_default, option=_JSON_OPTIONS)


class HTTPResponse:
    """A complete (non-streamed) HTTP response.

    ``body`` may be ``str`` or ``bytes``; headers are case-insensitive.
    """

    __slots__ = ("_body", "_writer", "background", "headers", "status_code")

    media_type: str | None = None

    def __init__(
        self,
        status_code: int = 200,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = MutableHeaders(headers)
        self._body: bytes = b""
        self.background: list[Any] = []
        self._writer: Any = None
        if body is not None:
            self.body = body
        media = media_type or self.media_type
        if media and "content-type" not in self.headers:
            self.headers["Content-Type"] = media

    # --- the seed's API ---------------------------------------------------------------

    @property
    def body(self) -> bytes:
        return self._body

    @body.setter
    def body(self, value: str | bytes) -> None:
        if isinstance(value, str):
            self._body = value.encode("utf-8")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._body = bytes(value)
        else:
            raise TypeError(f"response body must be str or bytes, got {type(value).__name__}; use .json() for data")

    @property
    def text_body(self) -> str:
        return self._body.decode("utf-8", "replace")

    def set_header(self, name: str, value: str) -> HTTPResponse:
        self.headers[name] = value
        return self

    def get_header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def json(self, data: Any, status_code: int | None = None) -> HTTPResponse:
        """Set a JSON body (any JSON-able value) and ``Content-Type: application/json``."""
        self._body = dumps(data)
        self.headers["Content-Type"] = "application/json"
        if status_code is not None:
            self.status_code = status_code
        return self

    def text(self, text: str, status_code: int | None = None) -> HTTPResponse:
        self._body = text.encode("utf-8")
        self.headers["Content-Type"] = "text/plain; charset=utf-8"
        if status_code is not None:
            self.status_code = status_code
        return self

    def html(self, html: str, status_code: int | None = None) -> HTTPResponse:
        self._body = html.encode("utf-8")
        self.headers["Content-Type"] = "text/html; charset=utf-8"
        if status_code is not None:
            self.status_code = status_code
        return self

    def bytes(self, data: bytes, media_type: str = "application/octet-stream") -> HTTPResponse:
        self._body = bytes(data)
        self.headers["Content-Type"] = media_type
        return self

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: datetime | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
    ) -> HTTPResponse:
        """Add a ``Set-Cookie`` field (several cookies give several fields)."""
        from http.cookies import SimpleCookie

        cookie: SimpleCookie = SimpleCookie()
        cookie[key] = value
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = max_age
        if expires is not None:
            if isinstance(expires, datetime):
                morsel["expires"] = format_datetime(expires.astimezone(UTC), usegmt=True)
            else:
                morsel["expires"] = expires
        if path is not None:
            morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            if samesite.lower() not in {"strict", "lax", "none"}:
                raise ValueError("samesite must be 'strict', 'lax' or 'none'")
            morsel["samesite"] = samesite
        self.headers.add("Set-Cookie", morsel.OutputString())
        return self

    def delete_cookie(self, key: str, path: str = "/", domain: str | None = None) -> HTTPResponse:
        return self.set_cookie(key, "", max_age=0, expires=0, path=path, domain=domain)

    # --- streaming from a (req, res) handler ------------------------------------------

    def write(self, data: str | builtins.bytes) -> Any:  # .bytes() is a method of this class
        """Send part of the body now (seed: ``res.write(...)`` in a streaming handler).

        The first call sends the status and headers; the body is then chunked. Awaitable
        in async handlers, blocking (with back-pressure) in sync ones.
        """
        if self._writer is None:
            raise RuntimeError("res.write() works only on the response object passed to a (req, res) handler")
        return self._writer.write(data)

    def flush(self) -> None:
        """Kept for the seed's API: every ``write`` is already sent when it returns."""

    @property
    def is_streaming(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code}>"


class StreamingResponse(HTTPResponse):
    """A response whose body is produced while it is sent (chunked transfer encoding).

    ``content`` is an iterable or async iterable of ``bytes``/``str``. A sync iterable
    is advanced in a worker thread so a slow generator never blocks the event loop.
    """

    __slots__ = ("content",)

    media_type = "application/octet-stream"

    def __init__(
        self,
        content: Iterable[Any] | AsyncIterable[Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        media_type: str | None = None,
    ) -> None:
        super().__init__(status_code, None, headers, media_type=media_type)
        self.content = content

    @property
    def is_streaming(self) -> bool:
        return True

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        content = self.content
        if hasattr(content, "__aiter__"):
            async for chunk in content:
                yield _to_bytes(chunk)
            return
        import anyio.to_thread

        iterator = iter(content)
        sentinel = object()
        while True:
            chunk = await anyio.to_thread.run_sync(next, iterator, sentinel)
            if chunk is sentinel:
                return
            yield _to_bytes(chunk)


def _to_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"a streamed body yields bytes or str, got {type(chunk).__name__}")


def format_sse(
    data: Any, *, event: str | None = None, id: str | None = None, retry: int | None = None
) -> bytes:
    """Frame one Server-Sent Event; non-str data is sent as JSON, multi-line data split."""
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    if id is not None:
        lines.append(f"id: {id}")
    if retry is not None:
        lines.append(f"retry: {retry}")
    text = data if isinstance(data, str) else dumps(data).decode("utf-8")
    for line in text.splitlines() or [""]:
        lines.append(f"data: {line}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


class EventSourceResponse(StreamingResponse):
    """Server-Sent Events: each item becomes one event.

    Items may be already framed ``bytes``, a ``dict`` with ``data`` (and optional
    ``event``, ``id``, ``retry``), or any other value, sent as the event's data.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        events: Iterable[Any] | AsyncIterable[Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(events, status_code, headers)
        self.headers.setdefault("Cache-Control", "no-cache")
        self.headers.setdefault("X-Accel-Buffering", "no")

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        async for item in _aiter_items(self.content):
            if isinstance(item, bytes):
                yield item
            elif isinstance(item, dict) and "data" in item:
                yield format_sse(item["data"], event=item.get("event"), id=item.get("id"), retry=item.get("retry"))
            else:
                yield format_sse(item)


async def _aiter_items(content: Any) -> AsyncIterator[Any]:
    if hasattr(content, "__aiter__"):
        async for item in content:
            yield item
        return
    import anyio.to_thread

    iterator = iter(content)
    sentinel = object()
    while True:
        item = await anyio.to_thread.run_sync(next, iterator, sentinel)
        if item is sentinel:
            return
        yield item


def error_response(exc: BaseException, request: Any = None, *, expose_type: bool = False) -> HTTPResponse:
    """Render an exception as the JSON error body; log unexpected ones with a traceback."""
    request_id = getattr(request, "request_id", "") or ""
    if request is not None and hasattr(request, "state"):
        request.state.exception = exc  # for telemetry (error.type) in outer middleware
    if isinstance(exc, HTTPError):
        error = exc
    else:
        where = f"{request.method} {request.path}" if request is not None else "request"
        logger.error("unhandled %s in %s [request_id=%s]", type(exc).__name__, where, request_id, exc_info=exc)
        detail = "an unexpected error occurred; quote the request_id when reporting it"
        state = getattr(request, "_state", None)
        if expose_type or (state is not None and state.get("expose_error_type")):
            detail = f"{type(exc).__name__}: {detail}"
        error = InternalServerError("Internal Server Error", detail)
    body = error.to_dict()
    if error.status_code >= 500 and error is exc:
        # A 5xx detail is often an exception's text passed along (InferenceError("failed", str(e))):
        # paths and secrets are redacted for the client (seed 003, VUL-003); the log keeps it whole.
        from conduit.http.sanitize import sanitize_error_message

        for field in ("error", "detail"):
            if isinstance(body.get(field), str):
                clean = sanitize_error_message(body[field])
                if clean != body[field]:
                    logger.warning("%s [request_id=%s]: %s (redacted in the response)",
                                   type(exc).__name__, request_id, body[field])
                    body[field] = clean
    if request_id:
        body["request_id"] = request_id
    response = HTTPResponse(error.status_code).json(body)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def http_date(now: float | None = None) -> str:
    return format_datetime(datetime.fromtimestamp(now or time.time(), UTC), usegmt=True)
