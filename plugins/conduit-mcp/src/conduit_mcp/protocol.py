"""JSON-RPC 2.0 dispatch of MCP messages for one client session (no I/O).

A :class:`ServerSession` holds the state of one connection (negotiated protocol
version, log level, requests in flight) and answers decoded messages:
``await session.handle(message)`` returns the response object, a list of them for a
batch, or None when nothing is owed (a notification, a cancelled request, a client's
response). Messages the server sends on its own (progress, log messages,
``list_changed``) go out through the ``send`` callable the transport provides; a
request's own progress and log messages, and the requests a tool sends the client
(``sampling/createMessage``, ``elicitation/create``, ``roots/list``, through
:meth:`ServerSession.request`), through the ``send`` given with it, so the Streamable
HTTP transport can put them on that request's SSE stream. The client's responses to
those come back through :meth:`ServerSession.handle` like any message.

Transports (stdio, Streamable HTTP) own the bytes; this module owns the protocol: MCP
revision 2025-11-25, negotiating down to 2025-06-18 and 2025-03-26 in ``initialize``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import orjson

from conduit_mcp import modern
from conduit_mcp.context import LOG_LEVELS, Context
from conduit_mcp.convert import ArgumentError, dumps
from conduit_mcp.errors import (
    CONNECTION_CLOSED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    REQUEST_TIMEOUT,
    RESOURCE_NOT_FOUND,
    MCPError,
)

if TYPE_CHECKING:
    from conduit_mcp.server import MCPServer

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "ServerSession",
    "error_response",
    "negotiate_version",
]

logger = logging.getLogger("conduit.mcp")

LATEST_PROTOCOL_VERSION = "2025-11-25"
SUPPORTED_PROTOCOL_VERSIONS: tuple[str, ...] = ("2025-11-25", "2025-06-18", "2025-03-26")
"""Handshake-era revisions served, newest first."""
_BATCHES_UNTIL = "2025-03-26"  # JSON-RPC batches exist in 2025-03-26 only

Send = Callable[[dict[str, Any]], Awaitable[None]]
CloseStream = Callable[[], None]
Handler = Callable[["ServerSession", dict[str, Any], Context], Awaitable[dict[str, Any]]]


def negotiate_version(requested: Any) -> str:
    """The version to answer ``initialize`` with: the client's when served, else the latest."""
    return requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION


def error_response(request_id: Any, error: MCPError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_dict()}


def _invalid_params(message: str) -> MCPError:
    return MCPError(INVALID_PARAMS, message)


def _string_param(params: Mapping[str, Any], key: str, method: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid_params(f"{method} needs params.{key} (a non-empty string)")
    return value


class ServerSession:
    """The protocol state of one client connection to an :class:`MCPServer`."""

    def __init__(self, server: MCPServer, send: Send | None = None) -> None:
        self.server = server
        self.protocol_version: str | None = None
        self.client_info: dict[str, Any] | None = None
        self.client_capabilities: dict[str, Any] = {}
        self.initialized = False  # initialize answered
        self.ready = False  # notifications/initialized received
        self.log_level: str | None = "debug"
        self.closed = False
        self._send = send
        self._in_flight: dict[str | int, anyio.CancelScope] = {}
        self._loop_thread: int | None = None
        self._token: Any = None
        self._outbox: Any = None
        self.subscriptions: set[str] = set()  # resources/subscribe URIs
        self.plugin_manager: Any = None  # the app's, for telemetry spans (None: the process-wide one)
        self._next_request_id = 0
        self._pending: dict[int, _Pending] = {}  # server-to-client requests awaiting an answer
        # Called with what post() could not deliver here (no stream open in this process): the
        # transport passes it to the process holding the session's GET stream, when shared.
        self.relay: Callable[[dict[str, Any]], None] | None = None

    # -- what outlives a process --------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The negotiated state another process needs to go on with this session: version,
        client info and capabilities, lifecycle flags, log level, subscriptions (JSON-able)."""
        return {
            "version": self.protocol_version,
            "client_info": self.client_info,
            "client_capabilities": self.client_capabilities,
            "initialized": self.initialized,
            "ready": self.ready,
            "log_level": self.log_level,
            "subscriptions": sorted(self.subscriptions),
        }

    def restore(self, record: dict[str, Any]) -> None:
        """Take over the state :meth:`snapshot` recorded (in another process, or before a restart)."""
        self.protocol_version = record.get("version")
        self.client_info = record.get("client_info")
        self.client_capabilities = dict(record.get("client_capabilities") or {})
        self.initialized = bool(record.get("initialized"))
        self.ready = bool(record.get("ready"))
        self.log_level = record.get("log_level")
        self.subscriptions = set(record.get("subscriptions") or ())

    # -- outgoing ---------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """Send a server-initiated message (dropped when the transport cannot send)."""
        if self._send is not None and not self.closed:
            await self._send(message)

    async def run_outbox(self) -> None:
        """Deliver what :meth:`post` queued; the transport runs this in its task group."""
        send_stream, receive_stream = anyio.create_memory_object_stream[dict[str, Any]](256)
        self._outbox = send_stream
        self._loop_thread = threading.get_ident()
        self._token = anyio.lowlevel.current_token()
        try:
            async with receive_stream:
                async for message in receive_stream:
                    await self.send(message)
        finally:
            self._outbox = None
            send_stream.close()

    def post(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for :meth:`run_outbox`, from the loop or a worker thread."""
        outbox = self._outbox
        if self.closed:
            return
        if outbox is None:  # no stream of this session is open in this process
            if self.relay is not None:
                self.relay(message)  # to the process that holds it, if another does
            return
        try:
            if threading.get_ident() == self._loop_thread:
                outbox.send_nowait(message)
            else:
                anyio.from_thread.run_sync(outbox.send_nowait, message, token=self._token)
        except (RuntimeError, anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            logger.debug("dropped %s: the session is closed", message.get("method"))

    async def request(
        self, method: str, params: dict[str, Any] | None = None, send: Send | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send the client a request and wait for its result.

        ``send`` is the channel to use (a request's own SSE stream); the session's by
        default. An error answer raises :class:`MCPError` with the client's code;
        no answer within ``timeout`` seconds raises one with -32001 (and tells the client
        the request is cancelled); so does cancelling the caller.
        """
        if self.closed:
            raise MCPError(CONNECTION_CLOSED, "the client session is closed")
        self._next_request_id += 1
        request_id = self._next_request_id
        pending = self._pending[request_id] = _Pending()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            await (send or self.send)(message)
            with anyio.fail_after(timeout):
                await pending.done.wait()
        except (TimeoutError, anyio.get_cancelled_exc_class()) as exc:
            with anyio.CancelScope(shield=True):
                reason = "timed out" if isinstance(exc, TimeoutError) else "cancelled"
                await self._cancel_request(request_id, reason, send)
            if isinstance(exc, TimeoutError):
                raise MCPError(REQUEST_TIMEOUT, f"the client did not answer {method} within {timeout} s") from None
            raise
        finally:
            self._pending.pop(request_id, None)
        if pending.error is not None:
            raise pending.error
        return pending.result

    async def _cancel_request(self, request_id: int, reason: str, send: Send | None) -> None:
        if self.closed:
            return
        note = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id, "reason": reason}}
        try:
            await (send or self.send)(note)
        except Exception:  # noqa: BLE001 - the channel may be gone; the client learns nothing more
            logger.debug("could not tell the client that request %s was %s", request_id, reason)

    def awaits(self, request_id: Any) -> bool:
        """Whether a server-to-client request of this process with ``request_id`` awaits an answer."""
        return isinstance(request_id, int) and request_id in self._pending

    def number_requests_from(self, base: int) -> None:
        """Number this replica's server-to-client requests from ``base`` on, so that replicas
        of one session in several processes never send the client two requests with one id."""
        self._next_request_id = max(self._next_request_id, base)

    def _answer(self, message: dict[str, Any]) -> None:
        """Resolve the pending server-to-client request a client's response answers."""
        request_id = message.get("id")
        pending = self._pending.get(request_id) if isinstance(request_id, int) else None
        if pending is None:
            logger.debug("MCP client answered unknown request id %r", request_id)
            return
        error = message.get("error")
        if error is not None:
            error = error if isinstance(error, dict) else {}
            code = error.get("code")
            pending.error = MCPError(code if isinstance(code, int) else INTERNAL_ERROR,
                                     str(error.get("message") or "the client answered with an error"), error.get("data"))
        else:
            result = message.get("result")
            pending.result = result if isinstance(result, dict) else {}
        pending.done.set()

    # -- incoming ---------------------------------------------------------------------

    async def handle_bytes(self, data: bytes | str, send: Send | None = None) -> bytes | None:
        """Decode, :meth:`handle` and encode one JSON-RPC payload."""
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            return dumps(error_response(None, MCPError(PARSE_ERROR, "Parse error: the message is not valid JSON")))
        reply = await self.handle(message, send)
        return None if reply is None else dumps(reply)

    async def handle(self, message: Any, send: Send | None = None, close_stream: CloseStream | None = None) -> Any:
        """Answer one decoded message (or batch); None when no response is owed.

        ``send`` carries the request's own notifications and server requests;
        ``close_stream`` (Streamable HTTP) ends the request's SSE stream early for
        ``Context.close_sse_stream``, the client resuming it with ``Last-Event-ID``.
        """
        if isinstance(message, list):
            return await self._batch(message, send, close_stream)
        return await self._one(message, send, close_stream)

    async def _batch(
        self, messages: list[Any], send: Send | None, close_stream: CloseStream | None
    ) -> list[Any] | dict[str, Any] | None:
        if not messages:
            return error_response(None, MCPError(INVALID_REQUEST, "Invalid Request: empty batch"))
        if self.protocol_version is not None and self.protocol_version > _BATCHES_UNTIL:
            return error_response(
                None,
                MCPError(
                    INVALID_REQUEST,
                    f"Invalid Request: JSON-RPC batches are not part of protocol {self.protocol_version}; "
                    "send one message at a time",
                ),
            )
        replies: list[Any] = []

        async def run(item: Any) -> None:
            reply = await self._one(item, send, close_stream)
            if reply is not None:
                replies.append(reply)

        async with anyio.create_task_group() as tg:
            for item in messages:
                tg.start_soon(run, item)
        return replies or None

    async def _one(self, message: Any, send: Send | None, close_stream: CloseStream | None) -> dict[str, Any] | None:
        if not isinstance(message, dict):
            return error_response(None, MCPError(INVALID_REQUEST, "Invalid Request: a message is a JSON object"))
        request_id = message.get("id")
        has_id = "id" in message
        valid_id = isinstance(request_id, (str, int)) and not isinstance(request_id, bool)
        if message.get("jsonrpc") != "2.0":
            return error_response(
                request_id if valid_id else None, MCPError(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"')
            )
        method = message.get("method")
        if method is None and has_id and ("result" in message or "error" in message):
            self._answer(message)  # a client's response to a server request: nothing to answer
            return None
        if not isinstance(method, str):
            return error_response(
                request_id if valid_id else None, MCPError(INVALID_REQUEST, 'Invalid Request: "method" must be a string')
            )
        if has_id and not valid_id:
            return error_response(
                None, MCPError(INVALID_REQUEST, "Invalid Request: id must be a string or an integer (not null)")
            )
        params = message.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            error = MCPError(INVALID_PARAMS if isinstance(params, list) else INVALID_REQUEST,
                             "Invalid params: MCP params are a JSON object")
            return error_response(request_id, error) if has_id else None
        if not has_id:
            await self._notification(method, params)
            return None
        return await self._request(cast("str | int", request_id), method, params, send, close_stream)

    async def _notification(self, method: str, params: dict[str, Any]) -> None:
        if method == "notifications/initialized":
            self.ready = True
        elif method == "notifications/cancelled":
            scope = self._in_flight.get(params.get("requestId"))  # type: ignore[arg-type]
            if scope is not None:
                scope.cancel()
        # progress, roots/list_changed and unknown notifications need nothing from us

    async def _request(
        self, request_id: str | int, method: str, params: dict[str, Any], send: Send | None,
        close_stream: CloseStream | None,
    ) -> dict[str, Any] | None:
        handler = _METHODS.get(method)
        if handler is None:
            return error_response(request_id, MCPError(METHOD_NOT_FOUND, f"Method not found: {method}"))
        meta = params.get("_meta")
        version = modern.envelope_version(method, meta, SUPPORTED_PROTOCOL_VERSIONS)
        if version is not None:  # 2026-07-28: no handshake, the version rides on the request
            problem = modern.check_envelope(meta, method)
            if problem is not None:
                return error_response(request_id, problem)
            opted_in = meta.get(modern.LOG_LEVEL_KEY) if isinstance(meta, dict) else None
            log_level: Callable[[], str | None] = lambda: opted_in if opted_in in LOG_LEVELS else None
            client_request: Callable[..., Awaitable[dict[str, Any]]] | None = None  # no session to answer on
            capabilities = meta.get(modern.CLIENT_CAPABILITIES_KEY) if isinstance(meta, dict) else None
        else:
            if not self.initialized and method not in ("initialize", "ping"):
                return error_response(
                    request_id,
                    MCPError(INVALID_REQUEST, f"Invalid Request: {method} before initialize; initialize first"),
                )
            version = self.protocol_version
            log_level = lambda: self.log_level
            channel = send or self.send

            async def client_request(
                method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
            ) -> dict[str, Any]:
                return await self.request(method, params, channel, timeout=timeout)

            capabilities = self.client_capabilities
        if request_id in self._in_flight:
            return error_response(
                request_id, MCPError(INVALID_REQUEST, f"Invalid Request: id {request_id!r} is already in use")
            )
        context = Context(
            request_id=request_id,
            meta=meta if isinstance(meta, dict) else None,
            send=send or self.send,
            log_level=log_level,
            protocol_version=version,
            client_request=client_request,
            client_capabilities=capabilities if isinstance(capabilities, dict) else {},
            close_stream=close_stream,
            session=self,
        )
        scope = anyio.CancelScope()
        self._in_flight[request_id] = scope
        try:
            with scope:
                result = await handler(self, params, context)
                if version in modern.MODERN_PROTOCOL_VERSIONS:
                    result = modern.complete(method, result)
                return {"jsonrpc": "2.0", "id": request_id, "result": result}
            return None  # cancelled by notifications/cancelled: no response is sent
        except MCPError as exc:
            return error_response(request_id, exc)
        except Exception:
            logger.exception("MCP request %s (%s) failed", request_id, method)
            return error_response(request_id, MCPError(INTERNAL_ERROR, f"Internal error while handling {method}"))
        finally:
            self._in_flight.pop(request_id, None)

    def close(self) -> None:
        """Stop sending and cancel what is still running."""
        self.closed = True
        if self._outbox is not None:
            self._outbox.close()
        for scope in list(self._in_flight.values()):
            scope.cancel()
        for pending in list(self._pending.values()):
            pending.error = MCPError(CONNECTION_CLOSED, "the client session closed before it answered")
            pending.done.set()
        self.server._forget(self)


class _Pending:
    """A server-to-client request waiting for the client's response."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: dict[str, Any] = {}
        self.error: MCPError | None = None


# -- methods -------------------------------------------------------------------------


def _resource_not_found(uri: str) -> MCPError:
    return MCPError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}", {"uri": uri})


@contextlib.contextmanager
def _user_code(doing: str, *, not_found: str | None = None) -> Iterator[None]:
    """Turn what a resource or prompt function raises into the right JSON-RPC error.

    ``MCPError`` passes as raised; a bad argument is -32602; with ``not_found`` (a URI),
    ``LookupError``/``FileNotFoundError`` is "resource not found"; anything else is
    -32603 carrying none of the exception's text (it goes to the log).
    """
    try:
        yield
    except (MCPError, anyio.get_cancelled_exc_class()):
        raise
    except ArgumentError as exc:
        raise _invalid_params(f"Invalid params: {exc}") from None
    except (LookupError, FileNotFoundError):
        if not_found is None:
            logger.exception("MCP server failed %s", doing)
            raise MCPError(INTERNAL_ERROR, f"Internal error while {doing}") from None
        raise _resource_not_found(not_found) from None
    except Exception:
        logger.exception("MCP server failed %s", doing)
        raise MCPError(INTERNAL_ERROR, f"Internal error while {doing}") from None


def _page(session: ServerSession, items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
    size = session.server.page_size
    cursor = params.get("cursor")
    start = 0
    if cursor is not None:
        try:
            start = int(base64.urlsafe_b64decode(str(cursor).encode()).decode())
            if start < 0 or start > len(items):
                raise ValueError(start)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _invalid_params(f"Invalid params: cursor {cursor!r} is not one this server gave out") from None
    if size is None:
        return {key: items[start:]}
    result: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        result["nextCursor"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return result


async def _initialize(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    requested = params.get("protocolVersion")
    if not isinstance(requested, str):
        raise _invalid_params("initialize needs params.protocolVersion (a string such as '2025-11-25')")
    if session.initialized:
        raise MCPError(INVALID_REQUEST, "Invalid Request: this session is already initialized")
    version = negotiate_version(requested)
    session.protocol_version = version
    capabilities = params.get("capabilities")
    session.client_capabilities = capabilities if isinstance(capabilities, dict) else {}
    info = params.get("clientInfo")
    session.client_info = info if isinstance(info, dict) else None
    session.initialized = True
    return session.server.initialize_result(version)


async def _discover(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    server = session.server
    info = server.initialize_result(LATEST_PROTOCOL_VERSION)["serverInfo"]
    return modern.discover_result(server.capabilities(), info, SUPPORTED_PROTOCOL_VERSIONS, server.instructions)


async def _ping(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    return {}


async def _tools_list(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    version = context.protocol_version or LATEST_PROTOCOL_VERSION
    tools = [tool.to_wire(version) for tool in session.server.tools.values()]
    return _page(session, tools, params, "tools")


async def _tools_call(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    name = _string_param(params, "name", "tools/call")
    tool = session.server.tools.get(name)
    if tool is None:
        raise _invalid_params(f"Unknown tool: {name}")
    arguments = params.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise _invalid_params("tools/call params.arguments must be an object")
    return await tool.run(arguments, context)


async def _resources_list(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    resources = [resource.to_wire() for resource in session.server.resources.values()]
    return _page(session, resources, params, "resources")


async def _templates_list(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    templates = [template.to_wire() for template in session.server.resource_templates.values()]
    return _page(session, templates, params, "resourceTemplates")


async def _resources_read(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    uri = _string_param(params, "uri", "resources/read")
    server = session.server
    with _user_code(f"reading resource {uri}", not_found=uri):
        resource = server.resources.get(uri)
        if resource is not None:
            return {"contents": await resource.read(context)}
        for template in server.resource_templates.values():
            variables = template.match(uri)
            if variables is not None:
                return {"contents": await template.read(uri, variables, context)}
    raise _resource_not_found(uri)


async def _prompts_list(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    prompts = [prompt.to_wire() for prompt in session.server.prompts.values()]
    return _page(session, prompts, params, "prompts")


async def _prompts_get(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    name = _string_param(params, "name", "prompts/get")
    prompt = session.server.prompts.get(name)
    if prompt is None:
        raise _invalid_params(f"Unknown prompt: {name}")
    arguments = params.get("arguments") or {}
    if not isinstance(arguments, dict):
        raise _invalid_params("prompts/get params.arguments must be an object of strings")
    with _user_code(f"rendering prompt {name}"):
        return await prompt.render(arguments, context)
    raise AssertionError("unreachable")  # pragma: no cover - the block returns or raises


def _known_resource(server: MCPServer, uri: str) -> bool:
    return uri in server.resources or any(t.match(uri) is not None for t in server.resource_templates.values())


async def _subscribe(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    uri = _string_param(params, "uri", "resources/subscribe")
    if not _known_resource(session.server, uri):
        raise _resource_not_found(uri)
    session.subscriptions.add(uri)
    return {}


async def _unsubscribe(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    session.subscriptions.discard(_string_param(params, "uri", "resources/unsubscribe"))
    return {}


async def _complete(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    ref = params.get("ref")
    argument = params.get("argument")
    if not isinstance(ref, dict) or not isinstance(argument, dict):
        raise _invalid_params("completion/complete needs params.ref and params.argument (objects)")
    name = argument.get("name")
    value = argument.get("value", "")
    if not isinstance(name, str) or not isinstance(value, str):
        raise _invalid_params("completion/complete params.argument needs a string name and value")
    extra = params.get("context")
    arguments = extra.get("arguments") if isinstance(extra, dict) else None
    arguments = {k: v for k, v in arguments.items() if isinstance(v, str)} if isinstance(arguments, dict) else {}
    server = session.server
    kind = ref.get("type")
    if kind == "ref/prompt":
        target = _string_param(ref, "name", "completion/complete ref/prompt")
        prompt = server.prompts.get(target)
        if prompt is None:
            raise _invalid_params(f"Unknown prompt: {target}")
        names = [p.name for p in prompt.signature.parameters]
    elif kind == "ref/resource":
        target = _string_param(ref, "uri", "completion/complete ref/resource")
        template = server.resource_templates.get(target)
        if template is None:
            raise _invalid_params(f"Unknown resource template: {target}")
        names = list(template.template.variables)
    else:
        raise _invalid_params("completion/complete params.ref.type must be 'ref/prompt' or 'ref/resource'")
    if name not in names:
        raise _invalid_params(f"{target!r} has no argument {name!r}; it has {', '.join(names) or 'none'}")
    completer = server.completers.get((kind, target, name))
    if completer is None:
        return {"completion": {"values": [], "total": 0, "hasMore": False}}
    with _user_code(f"completing {name!r} of {target!r}"):
        return {"completion": await completer.complete(value, arguments, context)}
    raise AssertionError("unreachable")  # pragma: no cover - the block returns or raises


async def _set_level(session: ServerSession, params: dict[str, Any], context: Context) -> dict[str, Any]:
    level = params.get("level")
    if level not in LOG_LEVELS:
        raise _invalid_params(f"logging/setLevel params.level must be one of {', '.join(LOG_LEVELS)}")
    session.log_level = level
    return {}


_METHODS: dict[str, Handler] = {
    "initialize": _initialize,
    "server/discover": _discover,
    "ping": _ping,
    "tools/list": _tools_list,
    "tools/call": _tools_call,
    "resources/list": _resources_list,
    "resources/templates/list": _templates_list,
    "resources/read": _resources_read,
    "resources/subscribe": _subscribe,
    "resources/unsubscribe": _unsubscribe,
    "completion/complete": _complete,
    "prompts/list": _prompts_list,
    "prompts/get": _prompts_get,
    "logging/setLevel": _set_level,
}
