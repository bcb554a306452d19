"""Testing helpers: an in-process client, a live server, and pytest fixtures.

- :class:`TestClient` drives an app in-process (no sockets) from sync code; the app
  runs on an event loop in a helper thread, as it would under the server.
- :class:`AsyncTestClient` does the same from async tests (``async with``).
- :class:`LiveServer` serves an app on a real socket on 127.0.0.1 with a free port.

This module is also a pytest plugin (entry point ``pytest11``) offering the fixtures
``app``, ``client`` and ``register_plugin`` to plugin authors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from conduit.app import Conduit
from conduit.http.datastructures import MutableHeaders
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, dumps

__all__ = ["AsyncTestClient", "LiveServer", "TestClient", "TestResponse"]


@dataclass
class TestResponse:
    """What the test client got back."""

    __test__ = False

    status_code: int
    headers: MutableHeaders
    content: bytes
    request_method: str = "GET"
    chunks: list[bytes] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


def _build_request(
    app: Conduit,
    method: str,
    url: str,
    *,
    params: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
    json: Any,
    content: bytes | str | None,
    data: Mapping[str, Any] | None,
    client: tuple[str, int],
) -> HTTPRequest:
    parts = urlsplit(url)
    raw_path = parts.path or "/"
    query = parts.query
    if params:
        extra = urlencode(params, doseq=True)
        query = f"{query}&{extra}" if query else extra
    body = b""
    hdrs: dict[str, str] = {"host": parts.netloc or "testserver", "user-agent": "conduit-testclient"}
    if json is not None:
        body = dumps(json)
        hdrs["content-type"] = "application/json"
    elif data is not None:
        body = urlencode(data, doseq=True).encode()
        hdrs["content-type"] = "application/x-www-form-urlencoded"
    elif content is not None:
        body = content.encode() if isinstance(content, str) else bytes(content)
    if body:
        hdrs["content-length"] = str(len(body))
    for k, v in (headers or {}).items():
        hdrs[k.lower()] = v
    from urllib.parse import unquote

    from conduit.framework.errors import PayloadTooLargeError

    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in hdrs.items()]
    request = HTTPRequest(
        method.upper(),
        unquote(raw_path),
        query,
        raw_headers,
        body=None,
        client=None,
        raw_path=raw_path,
    )
    from conduit.http.datastructures import Address

    request.client = Address(*client)
    limit = app.settings.max_body_size
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]

    async def receive() -> bytes:
        if len(body) > limit:
            raise PayloadTooLargeError(
                "Payload Too Large", f"the body exceeds the limit of {limit} bytes", code="body_too_large"
            )
        return chunks.pop(0) if chunks else b""

    request._receive = receive
    if not body:
        request._body = b""
    return request


async def _collect(app: Conduit, request: HTTPRequest) -> TestResponse:
    response: HTTPResponse = await app.handle(request)
    chunks: list[bytes] = []
    if response.is_streaming:
        async for chunk in response.iter_bytes():  # type: ignore[attr-defined]
            chunks.append(chunk)
        content = b"".join(chunks)
    else:
        content = response.body
    if response.background:
        from conduit.server.transport import _run_background

        await _run_background(response.background)
    if request.method == "HEAD":
        content = b""
    headers = MutableHeaders()
    for k, v in response.headers.raw_items():
        headers.add(k, v)
    if not response.is_streaming and "content-length" not in headers and response.status_code not in (204, 304):
        headers["Content-Length"] = str(len(response.body))
    return TestResponse(response.status_code, headers, content, request.method, chunks)


class _Methods:
    def get(self, url: str, **kw: Any) -> Any:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.request("DELETE", url, **kw)

    def head(self, url: str, **kw: Any) -> Any:
        return self.request("HEAD", url, **kw)

    def options(self, url: str, **kw: Any) -> Any:
        return self.request("OPTIONS", url, **kw)

    request: Callable[..., Any]  # each client defines it


class TestClient(_Methods):
    """Call an app in-process from sync code: ``with TestClient(app) as c: c.get("/")``.

    Entering runs the app's start-up (plugins' ``conduit_startup``, ``on_startup``);
    leaving runs its shutdown. Without ``with``, the first request starts it.
    """

    __test__ = False

    def __init__(self, app: Conduit, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self.client_address = client
        self._portal_cm: Any = None
        self._portal: Any = None

    def __enter__(self) -> TestClient:
        self._ensure_started()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _ensure_started(self) -> None:
        if self._portal is None:
            from anyio.from_thread import start_blocking_portal

            self._portal_cm = start_blocking_portal(backend="asyncio")
            self._portal = self._portal_cm.__enter__()
            self._portal.call(self.app.startup)

    def close(self) -> None:
        if self._portal is not None:
            try:
                self._portal.call(self.app.shutdown)
            finally:
                self._portal_cm.__exit__(None, None, None)
                self._portal = self._portal_cm = None

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TestResponse:
        self._ensure_started()
        request = _build_request(
            self.app, method, url, params=params, headers=headers, json=json, content=content, data=data,
            client=self.client_address,
        )
        return self._portal.call(_collect, self.app, request)


class AsyncTestClient(_Methods):
    """``async with AsyncTestClient(app) as c: r = await c.get("/")``."""

    __test__ = False

    def __init__(self, app: Conduit, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self.client_address = client

    async def __aenter__(self) -> AsyncTestClient:
        await self.app.startup()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.app.shutdown()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TestResponse:
        await self.app.startup()
        request = _build_request(
            self.app, method, url, params=params, headers=headers, json=json, content=content, data=data,
            client=self.client_address,
        )
        return await _collect(self.app, request)


class LiveServer:
    """Serve ``app`` on a real socket (127.0.0.1, a free port) in a background thread.

    ``with LiveServer(app) as server: httpx.get(server.url + "/")``. Leaving stops it
    gracefully (in-flight requests finish, shutdown hooks run).
    """

    def __init__(self, app: Conduit, host: str = "127.0.0.1", *, loop: str = "asyncio") -> None:
        from conduit.server.runner import Server, bind_socket

        self.app = app
        self.host = host
        self.sock = bind_socket(host, 0)
        self.server = Server(app, self.sock, install_signal_handlers=False)
        self.loop = loop
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveServer:
        def target() -> None:
            try:
                self.server.run(self.loop)
            except BaseException as exc:  # noqa: BLE001 - surfaced in start()/stop()
                self._error = exc
                self.server.started.set()

        self._thread = threading.Thread(target=target, name="conduit-live-server", daemon=True)
        self._thread.start()
        if not self.server.started.wait(30):
            raise RuntimeError("the live server did not start within 30 s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        self.server.request_stop()
        self._thread.join(timeout)
        self._thread = None
        self.sock.close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# --- pytest plugin -------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional at run time
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def app() -> Conduit:
        """A fresh app with no entry-point plugins loaded (add yours with register_plugin)."""
        return Conduit(plugins=[])

    @pytest.fixture
    def register_plugin(app: Conduit) -> Any:
        """``register_plugin(obj_or_module, name=None)``: register a plugin on ``app``, enabled."""

        def register(plugin: Any, name: str | None = None) -> Any:
            from conduit.plugins import plugin_name_of

            if app.prepared:
                raise RuntimeError(
                    "the app already started, so a plugin registered now would be ignored: "
                    "call register_plugin before the client fixture is used (request it first)"
                )

            app.enable_plugin(name or plugin_name_of(plugin), plugin)
            return plugin

        return register

    @pytest.fixture
    def client(app: Conduit) -> Iterator[TestClient]:
        """A started TestClient for ``app``."""
        with TestClient(app) as test_client:
            yield test_client

