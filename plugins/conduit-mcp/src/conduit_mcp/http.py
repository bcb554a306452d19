"""The Streamable HTTP transport, mounted on a Conduit app at one path.

``mount_mcp(app, "/mcp", server)`` adds one route answering:

- ``POST`` one JSON-RPC message (or a 2025-03-26 batch). ``initialize`` opens a
  session whose id comes back in ``Mcp-Session-Id``; every later request carries it
  (400 when missing, 404 when unknown, expired or deleted). Notifications and client
  responses get 202 with no body. Requests get an SSE stream (``event: message``) on
  which the request's own progress and log messages precede its response, or, with
  ``json_response=True``, one ``application/json`` body.
- ``GET`` the session's stream of server-initiated messages (``list_changed``, logs
  outside a request), kept open with SSE comments; one per session (409 for a second).
  ``get_stream=False`` answers 405 instead. With ``Last-Event-ID`` it resumes the
  stream that event belongs to (a POST's or this one) from the event after it.
- Streams are resumable (2025-11-25 sessions): each POST stream opens with a priming
  event (an id, empty data, ``retry``), every event has an id, and the request runs on
  whether or not a connection is listening; see :mod:`conduit_mcp.streams`.
- ``DELETE`` ends the session.

The checks the MCP specification asks for: ``Accept`` must list ``application/json``
and ``text/event-stream`` (406), ``Content-Type`` must be ``application/json`` (400),
an ``MCP-Protocol-Version`` header must name a served revision (400), an ``Origin``
that is not allowed gets 403, and a loopback client naming a non-loopback ``Host``
(DNS rebinding) gets 421. Because it is an ordinary route, the app's middleware (auth,
rate limits, telemetry, CORS) applies to it like to any other.

Sessions live in this process's memory: behind a load balancer with several workers,
route a session to one worker (sticky sessions on ``Mcp-Session-Id``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import orjson

from conduit.http.request import HTTPRequest
from conduit.http.response import EventSourceResponse, HTTPResponse
from conduit.storage import StoreUnavailableError
from conduit_mcp import modern
from conduit_mcp.convert import dumps
from conduit_mcp.errors import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, MCPError
from conduit_mcp.protocol import SUPPORTED_PROTOCOL_VERSIONS, ServerSession, error_response
from conduit_mcp.server import MCPServer
from conduit_mcp.sessions import SessionRecords
from conduit_mcp.streams import EventStream, TaskHost, parse_event_id

__all__ = ["SESSION_HEADER", "StreamableHTTPTransport", "mount_mcp"]

logger = logging.getLogger("conduit.mcp")

SESSION_HEADER = "Mcp-Session-Id"
VERSION_HEADER = "MCP-Protocol-Version"
LAST_EVENT_ID = "Last-Event-ID"
_RESUMABLE_SINCE = "2025-11-25"  # priming events confuse older clients (empty data)
_KEPT_STREAMS = 32  # finished POST streams a session keeps for a late resume
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_JSON = {"Content-Type": "application/json"}
_SERVED = (*modern.MODERN_PROTOCOL_VERSIONS, *SUPPORTED_PROTOCOL_VERSIONS)
HEADER_MISMATCH = -32020


def _hostname(authority: str) -> str:
    """``host[:port]`` (or ``[v6]:port``) -> host, lower-cased."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[: authority.find("]") + 1]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def _rpc_error(status: int, code: int, message: str, request_id: Any = None, **headers: str) -> HTTPResponse:
    body = dumps(error_response(request_id, MCPError(code, message)))
    return HTTPResponse(status, body, {**_JSON, **headers})


async def _sse_answer(session: ServerSession, message: Any) -> AsyncIterator[bytes]:
    """The SSE events answering ``message``: its progress and logs, then its response."""
    send, receive = anyio.create_memory_object_stream[Any](64)

    async def work() -> None:
        async with send:
            reply = await session.handle(message, send.send)
            if reply is not None:
                await send.send(reply)

    async with anyio.create_task_group() as tg:
        tg.start_soon(work)
        async with receive:
            async for item in receive:
                yield b"event: message\ndata: " + dumps(item) + b"\n\n"


async def _one_shot(session: ServerSession, message: Any) -> AsyncIterator[bytes]:
    """:func:`_sse_answer` for a session that lives for this one request (2026-07-28)."""
    try:
        async for event in _sse_answer(session, message):
            yield event
    finally:
        session.close()


@dataclass(eq=False)
class _HttpSession:
    session_id: str
    session: ServerSession
    last_seen: float
    standalone: EventStream  # what the GET stream carries
    get_open: bool = False
    streams: dict[str, EventStream] = field(default_factory=dict)  # POST streams, oldest first

    def open_stream(self, max_events: int) -> EventStream:
        stream = EventStream(max_events=max_events)
        self.streams[stream.stream_id] = stream
        finished = [sid for sid, s in self.streams.items() if s.done]
        for sid in finished[: max(0, len(self.streams) - _KEPT_STREAMS)]:
            del self.streams[sid]
        return stream

    def find(self, stream_id: str) -> EventStream | None:
        if stream_id == self.standalone.stream_id:
            return self.standalone
        return self.streams.get(stream_id)


class StreamableHTTPTransport:
    """The state behind one mounted endpoint: its sessions and its policy."""

    def __init__(
        self,
        server: MCPServer,
        *,
        json_response: bool = False,
        get_stream: bool = True,
        allowed_origins: Iterable[str] | None = None,
        allowed_hosts: Iterable[str] | None = None,
        session_ttl: float = 3600.0,
        keepalive: float = 15.0,
        retry_ms: int | None = 1000,
        max_events: int = 1000,
        plugin_manager: Any = None,
        session_store: Any = None,
    ) -> None:
        self.server = server
        self.json_response = json_response
        self.get_stream = get_stream
        self.allowed_origins = None if allowed_origins is None else {o.rstrip("/").lower() for o in allowed_origins}
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.session_ttl = session_ttl
        self.keepalive = keepalive
        self.retry_ms = retry_ms
        self.max_events = max_events
        self.plugin_manager = plugin_manager
        # Shared session records (conduit_mcp.sessions): a state store, or a callable giving
        # one (the app's, made when first used), or None to keep sessions in this process.
        self._session_store = session_store
        self._records: SessionRecords | None = None
        self._relaying: Any = None  # the loop whose task host runs the reply listener
        self._publishing: set[asyncio.Task[Any]] = set()
        self.sessions: dict[str, _HttpSession] = {}
        self._host = TaskHost()

    # -- policy -------------------------------------------------------------------------

    def _check_origin_and_host(self, request: HTTPRequest) -> HTTPResponse | None:
        host = _hostname(request.get_header("host"))
        if self.allowed_hosts is not None:
            if "*" not in self.allowed_hosts and host not in self.allowed_hosts:
                return _rpc_error(421, INVALID_REQUEST, f"Misdirected Request: host {host!r} is not served here")
        elif host and request.client is not None and request.client[0] in _LOOPBACK and host not in _LOOPBACK:
            return _rpc_error(421, INVALID_REQUEST, "Misdirected Request: a local client must name a local host")
        origin = request.get_header("origin")
        if not origin:
            return None
        origin = origin.rstrip("/").lower()
        if self.allowed_origins is not None:
            allowed = "*" in self.allowed_origins or origin in self.allowed_origins
        else:
            origin_host = _hostname(urlsplit(origin).netloc)
            allowed = origin_host in _LOOPBACK or origin_host == host
        if not allowed:
            return _rpc_error(403, INVALID_REQUEST, "Forbidden: this Origin may not use the MCP endpoint")
        return None

    @property
    def records(self) -> SessionRecords | None:
        """Where session records are shared, or None when sessions live in this process only."""
        if self._records is None and self._session_store is not None:
            store = self._session_store() if callable(self._session_store) else self._session_store
            if store is not None:
                self._records = SessionRecords(store, self.session_ttl)
        return self._records

    async def _find_session(self, request: HTTPRequest, request_id: Any = None) -> _HttpSession | HTTPResponse:
        session_id = request.get_header(SESSION_HEADER)
        if not session_id:
            return _rpc_error(400, INVALID_REQUEST, f"Bad Request: the {SESSION_HEADER} header is required; "
                              "send initialize first", request_id)
        self._expire()
        entry = self.sessions.get(session_id)
        records = self.records
        if records is not None:
            # The shared record says whether the session still exists (a DELETE or the expiry may
            # have ended it elsewhere) and what another process changed in it.
            try:
                record = await records.load(session_id)
            except StoreUnavailableError:
                return _rpc_error(503, INTERNAL_ERROR, "Service Unavailable: the session store did not answer; "
                                  "try again", request_id, **{"Retry-After": "1"})
            if record is None:
                if entry is not None:
                    self._end(session_id)
                entry = None
            elif entry is None:
                entry = self._open_session(session_id, record)
            elif record != entry.session.snapshot():
                entry.session.restore(record)
        if entry is None:
            return _rpc_error(404, INVALID_REQUEST, "Session not found: it expired or was deleted; initialize again",
                              request_id)
        entry.last_seen = time.monotonic()
        return entry

    async def _ensure_relay(self) -> None:
        """With Redis, listen (once per event loop) for answers other processes pass on."""
        records = self.records
        if records is None or not records.relays:
            return
        loop = asyncio.get_running_loop()
        if self._relaying is not loop:
            self._relaying = loop
            await self._host.start_soon(records.listen, self._deliver)

    async def _deliver(self, kind: str, session_id: str, message: dict[str, Any]) -> None:
        entry = self.sessions.get(session_id)
        if entry is None:
            return
        if kind == "reply" and entry.session.awaits(message.get("id")):
            await entry.session.handle(message)
        elif kind == "notify" and entry.get_open:
            entry.session.post(message)

    def _relay_notification(self, session_id: str, message: dict[str, Any]) -> None:
        """From ServerSession.post, on any thread: publish on the listening loop."""
        loop = self._relaying
        records = self.records
        if loop is None or records is None or not records.relays or loop.is_closed():
            return

        def publish() -> None:
            task = loop.create_task(records.publish("notify", session_id, message))
            self._publishing.add(task)
            task.add_done_callback(self._published)

        loop.call_soon_threadsafe(publish)

    def _published(self, task: asyncio.Task[Any]) -> None:
        self._publishing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("MCP: a notification could not be passed on: %s", task.exception())

    async def _pass_on(self, entry: _HttpSession, items: list[Any]) -> list[Any]:
        """Publish the client's answers to server requests this process does not await (another
        process's tool does); the rest, to handle here."""
        records = self.records
        if records is None or not records.relays:
            return items
        kept = []
        for item in items:
            answer = isinstance(item, dict) and "id" in item and "method" not in item
            if answer and not entry.session.awaits(item.get("id")):
                await records.publish("reply", entry.session_id, item)
            else:
                kept.append(item)
        return kept

    async def _persist(self, entry: _HttpSession) -> None:
        """Write the session's record when shared (changed, or its expiry is due a push)."""
        records = self.records
        if records is None or entry.session_id not in self.sessions or not entry.session.initialized:
            return
        try:
            await records.save(entry.session_id, entry.session.snapshot())
        except StoreUnavailableError:
            logger.warning("MCP session %s: the session store did not answer; its record was not written",
                           entry.session_id)

    def _expire(self) -> None:
        deadline = time.monotonic() - self.session_ttl
        for session_id in [sid for sid, e in self.sessions.items() if e.last_seen < deadline and not e.get_open]:
            self._end(session_id)

    def _end(self, session_id: str) -> None:
        entry = self.sessions.pop(session_id, None)
        if entry is not None:
            entry.session.close()
            entry.standalone.finish()
            for stream in entry.streams.values():
                stream.finish()

    def close(self) -> None:
        """End every session (the app's shutdown does this, so open streams finish)."""
        for session_id in list(self.sessions):
            self._end(session_id)

    async def aclose(self) -> None:
        """:meth:`close`, then cancel and wait for the requests still running."""
        self.close()
        await self._host.aclose()

    # -- requests -----------------------------------------------------------------------

    async def __call__(self, request: HTTPRequest) -> HTTPResponse:
        refused = self._check_origin_and_host(request)
        if refused is not None:
            return refused
        version = request.get_header(VERSION_HEADER)
        if version and version not in _SERVED:
            return _rpc_error(400, INVALID_REQUEST, f"Bad Request: unsupported {VERSION_HEADER} {version}; "
                              f"this server speaks {', '.join(_SERVED)}")
        if request.method == "POST":
            return await self._post(request)
        if request.method == "GET":
            return await self._get(request)
        if request.method == "DELETE":
            found = await self._find_session(request)
            if isinstance(found, HTTPResponse):
                return found
            self._end(found.session_id)
            if self.records is not None:
                await self.records.delete(found.session_id)
            return HTTPResponse(200, b"", {})
        return HTTPResponse(405, b"", {"Allow": "GET, POST, DELETE"})

    async def _post(self, request: HTTPRequest) -> HTTPResponse:
        parsed = _read_post(request)
        if isinstance(parsed, HTTPResponse):
            return parsed
        message = parsed
        items = message if isinstance(message, list) else [message]
        first_id = items[0].get("id") if items and isinstance(items[0], dict) else None
        is_initialize = any(isinstance(m, dict) and m.get("method") == "initialize" for m in items)
        if not is_initialize and not request.get_header(SESSION_HEADER) and isinstance(message, dict):
            stateless = await self._stateless(request, message)
            if stateless is not None:
                return stateless
        entry = await self._session_for(request, items, first_id, is_initialize)
        if isinstance(entry, HTTPResponse):
            return entry
        headers = {SESSION_HEADER: entry.session_id}
        await self._ensure_relay()
        if not any(isinstance(m, dict) and "method" in m and "id" in m for m in items):
            return await self._accept(entry, message, items, headers)
        if self.json_response:
            return await self._answer_json(entry, message, is_initialize, headers)
        return await self._answer_stream(entry, message, items, headers)

    async def _session_for(self, request: HTTPRequest, items: list[Any], first_id: Any,
                           is_initialize: bool) -> _HttpSession | HTTPResponse:
        """A new session for initialize, else the request's own (or the error to answer)."""
        if not is_initialize:
            return await self._find_session(request, first_id)
        if len(items) != 1:
            return _rpc_error(400, INVALID_REQUEST, "Bad Request: initialize must be sent alone", first_id)
        return self._open_session()

    async def _accept(self, entry: _HttpSession, message: Any, items: list[Any], headers: dict[str, str]) -> HTTPResponse:
        """Notifications and answers only: 202, after handing them on."""
        kept = await self._pass_on(entry, items)
        if kept:
            await entry.session.handle(message if len(kept) == len(items) else kept)
        await self._persist(entry)
        return HTTPResponse(202, b"", headers)

    async def _answer_json(self, entry: _HttpSession, message: Any, is_initialize: bool,
                           headers: dict[str, str]) -> HTTPResponse:
        reply = await entry.session.handle(message)
        if is_initialize and (reply is None or "error" in reply):
            self._end(entry.session_id)
            headers.pop(SESSION_HEADER)
        await self._persist(entry)
        return HTTPResponse(200, dumps(reply), {**_JSON, **headers})

    async def _answer_stream(self, entry: _HttpSession, message: Any, items: list[Any],
                             headers: dict[str, str]) -> HTTPResponse:
        """An SSE stream the answer is written into by a task of its own (resumable)."""
        stream = entry.open_stream(self.max_events)
        if (entry.session.protocol_version or "") >= _RESUMABLE_SINCE:
            stream.prime(self.retry_ms)
        records = self.records
        if records is not None and records.relays:  # resumable from any process (Last-Event-ID)
            ids = [m["id"] for m in items if isinstance(m, dict) and "method" in m and isinstance(m.get("id"), (str, int))]
            stream.mirror = await records.mirror(entry.session_id, stream.stream_id, self.max_events, ids, stream.kept())
        await self._host.start_soon(self._work, entry, stream, message)
        return EventSourceResponse(stream.follow(), headers=headers)

    async def _stateless(self, request: HTTPRequest, message: dict[str, Any]) -> HTTPResponse | None:
        """Serve a 2026-07-28 request (no session), or None when it is not one."""
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        method = message.get("method")
        if not isinstance(method, str) or modern.envelope_version(method, meta, SUPPORTED_PROTOCOL_VERSIONS) is None:
            return None
        body_version = meta.get(modern.PROTOCOL_VERSION_KEY) if isinstance(meta, dict) else None
        if body_version is not None and request.get_header(VERSION_HEADER) != body_version:
            return _rpc_error(400, HEADER_MISMATCH, f"{VERSION_HEADER} header does not match the request's "
                              "protocol version", message.get("id"))
        session = self.server.create_session(None)
        session.plugin_manager = self.plugin_manager
        if "id" not in message:
            session.close()
            return HTTPResponse(202, b"", {})
        if self.json_response:
            try:
                reply = await session.handle(message)
            finally:
                session.close()
            return HTTPResponse(200, dumps(reply), _JSON)
        return EventSourceResponse(_one_shot(session, message))

    def _open_session(self, session_id: str | None = None, record: dict[str, Any] | None = None) -> _HttpSession:
        """A new session, or (with ``record``) this process's replica of one begun elsewhere."""
        session_id = session_id or secrets.token_hex(16)

        standalone = EventStream(max_events=self.max_events)
        entry = _HttpSession(session_id, self.server.create_session(standalone.send), time.monotonic(), standalone)
        entry.session.plugin_manager = self.plugin_manager
        if record is not None:
            entry.session.restore(record)
        if self._session_store is not None:  # replicas elsewhere: keep server request ids apart
            entry.session.number_requests_from(secrets.randbits(40))
            entry.session.relay = lambda message: self._relay_notification(session_id, message)
        self.sessions[session_id] = entry
        return entry

    async def _work(self, entry: _HttpSession, stream: EventStream, message: Any) -> None:
        """Answer ``message`` into ``stream``, whether or not a connection follows it."""
        try:
            reply = await entry.session.handle(message, stream.send, stream.close_followers)
            if reply is not None and reply.get("result") is not None and entry.session.initialized:
                await self._persist(entry)  # before the answer: the client's next request may go elsewhere
            if reply is not None:
                stream.add(reply)
        finally:
            stream.finish()

    async def _get(self, request: HTTPRequest) -> HTTPResponse:
        if not self.get_stream or "text/event-stream" not in request.get_header("accept").lower():
            return HTTPResponse(405, b"", {"Allow": "POST, DELETE"})
        found = await self._find_session(request)
        if isinstance(found, HTTPResponse):
            return found
        headers = {SESSION_HEADER: found.session_id}
        after: int | None = None
        stream = found.standalone
        last_event_id = request.get_header(LAST_EVENT_ID)
        if last_event_id:
            parsed = parse_event_id(last_event_id)
            resumed = found.find(parsed[0]) if parsed is not None else None
            records = self.records
            if (parsed is not None and resumed is None and records is not None and records.relays
                    and await records.has_events(found.session_id, parsed[0])):
                # A POST stream another process ran: replay its events from Redis, then follow.
                return EventSourceResponse(records.replay(found.session_id, parsed[0], parsed[1], self.keepalive),
                                           headers=headers)
            if parsed is None or resumed is None or not resumed.has(parsed[1]):
                return _rpc_error(404, INVALID_REQUEST, f"Not Found: {LAST_EVENT_ID} {last_event_id!r} names no "
                                  "stream this session can resume; open a new GET stream without it")
            stream, after = resumed, parsed[1]
            if stream is not found.standalone:  # the rest of a POST's answer
                return EventSourceResponse(stream.follow(after), headers=headers)
        if found.get_open:
            return _rpc_error(409, INVALID_REQUEST, "Conflict: this session already has a GET stream open")
        found.get_open = True
        return EventSourceResponse(self._server_stream(found, after), headers=headers)

    async def _server_stream(self, entry: _HttpSession, after: int | None) -> AsyncIterator[bytes]:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(entry.session.run_outbox)
                yield b": stream open\n\n"
                async for event in entry.standalone.follow(after, from_end=True, keepalive=self.keepalive):
                    yield event
                tg.cancel_scope.cancel()
        finally:
            entry.get_open = False


def _read_post(request: HTTPRequest) -> Any:
    """The POSTed JSON-RPC message, or the error response for a bad Accept, type or body."""
    accept = request.get_header("accept").lower()
    if "*/*" not in accept and not ("application/json" in accept and "text/event-stream" in accept):
        return _rpc_error(406, INVALID_REQUEST, "Not Acceptable: Accept must list application/json and "
                          "text/event-stream")
    if request.get_header("content-type").split(";")[0].strip().lower() != "application/json":
        return _rpc_error(400, INVALID_REQUEST, "Bad Request: Content-Type must be application/json")
    try:
        return orjson.loads(request.content)
    except orjson.JSONDecodeError:
        return _rpc_error(400, PARSE_ERROR, "Parse error: the body is not valid JSON")


def mount_mcp(app: Any, path: str, server: MCPServer, **options: Any) -> StreamableHTTPTransport:
    """Serve ``server`` over Streamable HTTP at ``path`` of the Conduit ``app``.

    ``options`` are :class:`StreamableHTTPTransport`'s: ``json_response``,
    ``get_stream``, ``allowed_origins``/``allowed_hosts`` (``"*"`` for any; the default
    allows same-origin or loopback origins, and loopback ``Host`` names for loopback
    clients), ``session_ttl`` (seconds an idle session lives), ``keepalive``,
    ``retry_ms`` (the reconnection delay sent in priming events; None sends none) and
    ``max_events`` (events kept per stream for resuming), ``session_store`` (a
    ``conduit.storage`` state store, or a callable returning one, where session records are
    shared; by default the app's when ``redis_url`` is configured, else sessions stay in
    this process). The app's shutdown ends this process's sessions, so open GET streams
    finish; shared records live on until DELETE or their TTL.
    """
    options.setdefault("plugin_manager", getattr(app, "plugin_manager", None))
    if "session_store" not in options and app.settings.get("redis_url"):
        # Several workers or hosts share the app's Redis: so do the sessions (any process serves any).
        options["session_store"] = lambda: app.state_store
    transport = StreamableHTTPTransport(server, **options)

    async def mcp_endpoint(request: HTTPRequest) -> HTTPResponse:
        return await transport(request)

    app.add_route(path, mcp_endpoint, methods=("GET", "POST", "DELETE"), include_in_schema=False,
                  risk="runs the MCP server's tools")
    app.on_shutdown(transport.aclose)
    return transport
