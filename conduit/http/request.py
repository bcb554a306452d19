"""HTTPRequest: what a handler gets for one HTTP request.

The body is read for the handler before it runs (bounded by ``max_body_size``) unless
its route was declared ``stream=True``; then ``request.stream()`` yields chunks as they
arrive. Methods that read the body (``read``, ``json``) are awaitable in async code and
return the value directly in sync handlers, which run in worker threads: one name, used
the way the calling code runs.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, cast

import orjson

from conduit.errors import BadRequestError, PayloadTooLargeError
from conduit.http.datastructures import Address, Headers, QueryParams, State, parse_cookies

if TYPE_CHECKING:  # pragma: no cover
    from conduit.http.routing import Route

__all__ = ["HTTPRequest", "Receive"]

Receive = Callable[[], Awaitable[bytes]]  # next body chunk; b"" once the body is complete

_get_running_loop = asyncio._get_running_loop  # C-level, no exception when none runs
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]+")
_ID_PREFIX = secrets.token_hex(4) + "-"
_ID_COUNTER = itertools.count(1)


async def _no_body() -> bytes:
    return b""


class HTTPRequest:
    """One HTTP request. See the module docstring for how the body is read."""

    __slots__ = (
        "_body",
        "_cookies",
        "_json",
        "_portal",
        "_query",
        "_receive",
        "_request_id",
        "_state",
        "_stream_started",
        "app",
        "client",
        "endpoint",
        "headers",
        "http_version",
        "method",
        "params",
        "path",
        "query_string",
        "raw_path",
        "route",
        "scheme",
        "server",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str = "",
        headers: Headers | list[tuple[bytes, bytes]] | None = None,
        *,
        body: bytes | None = None,
        receive: Receive | None = None,
        client: Address | None = None,
        server: Address | None = None,
        scheme: str = "http",
        http_version: str = "1.1",
        app: Any = None,
        raw_path: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.raw_path = raw_path if raw_path is not None else path
        self.query_string = query_string
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.params: dict[str, Any] = {}
        self.client = client
        self.server = server  # the local address the connection arrived on
        self.scheme = scheme
        self.http_version = http_version
        self.route: Route | None = None
        self.endpoint: Any = None
        self.app = app
        self._request_id: str | None = None
        self._receive: Receive = receive or _no_body
        self._body: bytes | None = body
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._state: State | None = None
        self._json: Any = _UNSET
        self._stream_started = False

    # --- head ------------------------------------------------------------------------

    @property
    def query(self) -> QueryParams:
        """Query parameters: ``query.get("q", "")``, ``query.getlist("tag")``."""
        q = self._query
        if q is None:
            q = self._query = QueryParams(self.query_string)
        return q

    @property
    def cookies(self) -> dict[str, str]:
        c = self._cookies
        if c is None:
            c = self._cookies = parse_cookies(self.headers.getlist("cookie"))
        return c

    @property
    def state(self) -> State:
        """Per-request attribute bag for middleware and handlers."""
        s = self._state
        if s is None:
            s = self._state = State()
        return s

    @property
    def exception(self) -> BaseException | None:
        """The exception the error handler turned into this request's 5xx answer, if any
        (for telemetry's ``error.type``); reading it creates no :attr:`state`."""
        s = self._state
        return s.get("exception") if s is not None else None

    @property
    def request_id(self) -> str:
        """This request's id: a sane inbound ``X-Request-ID``, else a new one (made on first use)."""
        rid = self._request_id
        if rid is None:
            inbound = self.headers.get("x-request-id")
            if inbound and len(inbound) <= 128 and _SAFE_ID.fullmatch(inbound):
                rid = inbound
            else:
                rid = f"{_ID_PREFIX}{next(_ID_COUNTER):x}"
            self._request_id = rid
        return rid

    @request_id.setter
    def request_id(self, value: str) -> None:
        self._request_id = value

    @property
    def url(self) -> str:
        host = self.headers.get("host", "localhost")
        qs = f"?{self.query_string}" if self.query_string else ""
        return f"{self.scheme}://{host}{self.path}{qs}"

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def get_header(self, name: str, default: str = "") -> str:
        """A header's first value (case-insensitive), or ``default``."""
        return self.headers.get(name, default)

    # --- body ------------------------------------------------------------------------

    @property
    def content(self) -> bytes:
        """The whole body as bytes (read before the handler unless the route streams)."""
        if self._body is None:
            if _get_running_loop() is None:
                return self.read()
            raise RuntimeError(
                "the body of a stream=True route is not read yet: use `await request.read()` "
                "or `async for chunk in request.stream()`"
            )
        return self._body

    @property
    def body(self) -> str:
        """The whole body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def read(self) -> Any:
        """The whole body as bytes: ``await request.read()``, or ``request.read()`` in sync code."""
        if _get_running_loop() is not None:
            return self._read()
        if self._body is not None:
            return self._body
        return self._from_thread(self._read)

    async def _read(self) -> bytes:
        if self._body is None:
            if self._stream_started:
                raise RuntimeError("the body was already consumed through request.stream()")
            chunks = []
            async for chunk in self._iter():
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body

    def json(self) -> Any:
        """The body parsed as JSON, of any shape; invalid JSON raises a 400.

        ``await request.json()`` in async handlers, ``request.json()`` in sync ones.
        """
        if _get_running_loop() is not None:
            return self._json_async()
        return self._parse(self.read())

    async def _json_async(self) -> Any:
        return self._parse(await self._read())

    def parse_json(self) -> Any:
        """The seed's name for ``json()`` (sync): the parsed body, ``{}`` for an empty one."""
        if self._body is None and _get_running_loop() is not None:
            self.content  # raises the explanatory error  # noqa: B018
        return self._parse(self.content if self._body is not None else self.read())

    def _parse(self, raw: bytes) -> Any:
        if self._json is not _UNSET:
            return self._json
        if not raw.strip():
            self._json = {}
            return self._json
        try:
            self._json = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequestError(
                "Invalid JSON body",
                f"the request body is not valid JSON ({exc.msg} at position {exc.pos}); "
                "send a JSON document with Content-Type: application/json",
                code="invalid_json",
            ) from None
        return self._json

    def limit_body(self, max_bytes: int) -> None:
        """Refuse a body over ``max_bytes`` with a 413: now when it is declared or already
        read, otherwise while it streams in (so a chunked body cannot dodge the limit)."""
        declared = self.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
            raise _too_large(f"the request body is {int(declared)} bytes; the limit is {max_bytes} bytes")
        if self._body is not None:
            if len(self._body) > max_bytes:
                raise _too_large(f"the request body is {len(self._body)} bytes; the limit is {max_bytes} bytes")
            return
        receive = self._receive
        seen = 0

        async def counted() -> bytes:
            nonlocal seen
            chunk = await receive()
            seen += len(chunk)
            if seen > max_bytes:
                raise _too_large(f"the request body exceeds the limit of {max_bytes} bytes")
            return chunk

        self._receive = counted

    def stream(self) -> _BodyStream:
        """The body in chunks as they arrive: ``async for`` in async code, ``for`` in sync."""
        if self._stream_started:
            raise RuntimeError("request.stream() can be consumed only once")
        self._stream_started = True
        return _BodyStream(self)

    async def _iter(self) -> AsyncIterator[bytes]:
        if self._body is not None:
            if self._body:
                yield self._body
            return
        receive = self._receive
        while True:
            chunk = await receive()
            if not chunk:
                return
            yield chunk

    def _from_thread(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        import anyio.from_thread

        try:
            return anyio.from_thread.run(cast(Callable[[], Coroutine[Any, Any, Any]], fn))
        except RuntimeError as exc:
            if "event loop" in str(exc) or "not running" in str(exc) or "worker thread" in str(exc):
                raise RuntimeError(
                    "the request body can only be read from the request's handler "
                    "(sync handlers run in a worker thread that can reach the event loop)"
                ) from exc
            raise

    def __repr__(self) -> str:
        return f"<HTTPRequest {self.method} {self.path}>"


def _too_large(detail: str) -> PayloadTooLargeError:
    return PayloadTooLargeError("Payload Too Large", detail, code="body_too_large")


class _Unset:
    __slots__ = ()


_UNSET: Any = _Unset()


class _BodyStream:
    """Iterates the request body: asynchronously on the loop, blocking in a worker thread."""

    def __init__(self, request: HTTPRequest) -> None:
        self._request = request
        self._agen = request._iter()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._agen

    def __iter__(self) -> Iterator[bytes]:
        agen = self._agen
        while True:
            try:
                yield self._request._from_thread(agen.__anext__)
            except StopAsyncIteration:
                return
