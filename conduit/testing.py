"""Testing helpers: an in-process client, a live server, and pytest fixtures.

- :class:`TestClient` drives an app in-process (no sockets) from sync code; the app
  runs on an event loop in a helper thread, as it would under the server.
- :class:`AsyncTestClient` does the same from async tests (``async with``).
- :class:`LiveServer` serves an app on a real socket on 127.0.0.1 with a free port.
- :func:`free_port` and :func:`wait_until_serving`, for servers a test starts itself
  (a child process, a third-party server).
- :class:`PostgresSchema`: a uniquely named schema on a real PostgreSQL, dropped after.

This module is also a pytest plugin (entry point ``pytest11``) offering the fixtures
``app``, ``client`` and ``register_plugin`` to plugin authors, and ``postgres_url``,
``redis_url`` and ``private_redis`` for tests that need the real services (each skips,
saying why, where the service is missing).
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, TypedDict, Unpack
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson

from conduit.app import Conduit
from conduit.http.datastructures import MutableHeaders
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, dumps
from conduit.storage.testing import free_port

__all__ = [
    "DEFAULT_POSTGRES_URL",
    "POSTGRES_URL_ENV",
    "AsyncTestClient",
    "LiveServer",
    "PostgresNotAvailable",
    "PostgresSchema",
    "TestClient",
    "TestResponse",
    "free_port",
    "wait_until_serving",
]


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


class _RequestOptions(TypedDict, total=False):
    """The keywords of a test client's ``request()`` (see :meth:`TestClient.request`)."""

    params: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    json: Any
    content: bytes | str | None
    data: Mapping[str, Any] | None


def _build_request(
    app: Conduit,
    method: str,
    url: str,
    *,
    client: tuple[str, int],
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    content: bytes | str | None = None,
    data: Mapping[str, Any] | None = None,
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


def _verb(method: str) -> Callable[Concatenate[_Methods, str, ...], Any]:
    """The client method named for ``method``: ``client.get(url, **kw)`` is ``client.request("GET", url, **kw)``."""

    def verb(self: _Methods, url: str, **kw: Any) -> Any:
        return self.request(method, url, **kw)

    verb.__name__ = method.lower()
    verb.__qualname__ = f"_Methods.{verb.__name__}"
    verb.__doc__ = f"Send a {method} request to ``url``; the keywords are those of ``request()``."
    return verb


class _Methods:
    get = _verb("GET")
    post = _verb("POST")
    put = _verb("PUT")
    patch = _verb("PATCH")
    delete = _verb("DELETE")
    head = _verb("HEAD")
    options = _verb("OPTIONS")

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

    def request(self, method: str, url: str, **options: Unpack[_RequestOptions]) -> TestResponse:
        """Send ``method`` to ``url`` and return the response.

        ``params`` are added to the query string and ``headers`` to the request's; the body
        is ``json`` (encoded), else form ``data``, else ``content`` as given.
        """
        self._ensure_started()
        request = _build_request(self.app, method, url, client=self.client_address, **options)
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

    async def request(self, method: str, url: str, **options: Unpack[_RequestOptions]) -> TestResponse:
        """:meth:`TestClient.request`, awaited."""
        await self.app.startup()
        request = _build_request(self.app, method, url, client=self.client_address, **options)
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


# --- servers a test starts itself ----------------------------------------------------------


def wait_until_serving(
    url: str, *, process: subprocess.Popen[Any] | None = None, timeout: float = 60.0
) -> None:
    """Return once ``url`` answers HTTP (any status: the server is up), polling.

    With ``process`` (the server's child process), raise ``RuntimeError`` as soon as it
    exits, with what it printed when its output is a pipe; after ``timeout`` seconds
    without an answer, raise ``TimeoutError``. Wait on this, never on a fixed sleep.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"wait_until_serving needs an http:// URL with a host, got {url!r}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the server process exited with code {process.returncode} before {url} answered"
                + _process_output(process)
            )
        probe_timeout = max(0.1, min(5.0, deadline - time.monotonic()))
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=probe_timeout)
        try:
            connection.request("GET", target)
            connection.getresponse().read()
            return
        except (OSError, http.client.HTTPException):  # refused, reset, timed out: not serving yet
            pass
        finally:
            connection.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:g} s")
        time.sleep(0.05)


def _process_output(process: subprocess.Popen[Any]) -> str:
    if process.stdout is None and process.stderr is None:
        return ""
    try:
        out, err = process.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError):  # a grandchild still holds the pipe, or it was read
        return ""
    printed = "".join(x.decode(errors="replace") if isinstance(x, bytes) else x for x in (out, err) if x)
    return f"; it printed:\n{printed}" if printed else ""


# --- PostgreSQL ----------------------------------------------------------------------------

#: The environment variable naming the PostgreSQL server tests use (a ``postgresql://`` URL).
POSTGRES_URL_ENV = "CONDUIT_TEST_POSTGRES_URL"
#: The server used when the variable is unset: a local one, user postgres, no password.
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

_SCHEMA_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,39}")


class PostgresNotAvailable(RuntimeError):
    """psycopg is not installed, or no PostgreSQL answers at the URL."""


def _with_search_path(url: str, schema: str) -> str:
    """``url`` with ``options=-csearch_path=<schema>`` added to its query (other options kept)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = [value for key, value in query if key == "options"]
    rest = [(key, value) for key, value in query if key != "options"]
    option = " ".join([*options, f"-csearch_path={schema}"])
    return urlunsplit(parts._replace(query=urlencode([*rest, ("options", option)], quote_via=quote)))


class PostgresSchema:
    """A uniquely named schema on a real PostgreSQL, created on entry and dropped (with
    everything in it) on exit::

        with PostgresSchema() as schema:
            psycopg.connect(schema.url)  # its tables land in schema.name

    ``url`` is the server (default: ``$CONDUIT_TEST_POSTGRES_URL``, else
    ``postgresql://postgres@127.0.0.1:5432/postgres``). ``schema.url`` is that URL with
    ``options=-csearch_path=<name>``, so any libpq client (psycopg, SQLAlchemy, a child
    process given it as ``DATABASE_URL``) creates and finds its tables in the schema.
    Raises :class:`PostgresNotAvailable` when psycopg is missing or no server answers.
    psycopg is imported only here: the kernel does not depend on it.
    """

    def __init__(self, url: str | None = None, *, prefix: str = "conduit_test", connect_timeout: int = 5) -> None:
        self.base_url = url or os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL
        if not self.base_url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"expected a postgresql:// URL, got {self.base_url!r}; set {POSTGRES_URL_ENV}")
        if not _SCHEMA_PREFIX.fullmatch(prefix):
            raise ValueError(f"prefix must be lower-case letters, digits and _ (at most 40), got {prefix!r}")
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.url = _with_search_path(self.base_url, self.name)
        self.connect_timeout = connect_timeout

    def _where(self) -> str:
        parts = urlsplit(self.base_url)  # host, port and database only: never the password
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"

    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError:
            raise PostgresNotAvailable("psycopg is not installed (pip install 'psycopg[binary]')") from None
        try:
            return psycopg.connect(self.base_url, autocommit=True, connect_timeout=self.connect_timeout)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PostgresNotAvailable(
                f"no PostgreSQL answers at {self._where()} ({reason}); start one or set {POSTGRES_URL_ENV}"
            ) from None

    def create(self) -> None:
        """Create the schema (raises :class:`PostgresNotAvailable`)."""
        with self._connect() as conn:
            from psycopg import sql

            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        """Drop the schema and everything in it (waiting at most 10 s for locks the test's
        own connections still hold, then failing rather than hanging)."""
        with self._connect() as conn:
            from psycopg import sql

            conn.execute("SET lock_timeout = '10s'")
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.name)))

    def __enter__(self) -> PostgresSchema:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()


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

    @pytest.fixture
    def postgres_url() -> Iterator[str]:
        """A real PostgreSQL's URL whose connections work in a fresh schema, dropped after the
        test (see :class:`PostgresSchema`); a skip saying why where there is none."""
        schema = PostgresSchema()
        try:
            schema.create()
        except PostgresNotAvailable as exc:
            pytest.skip(str(exc))
        try:
            yield schema.url
        finally:
            schema.drop()

    # A real Redis (started when none answers on 127.0.0.1:6379), and a private one.
    from conduit.storage.testing import private_redis, redis_url  # noqa: F401 - fixtures
