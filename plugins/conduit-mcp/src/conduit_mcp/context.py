"""The per-request :class:`Context` a tool, resource or prompt may ask for.

Annotate a parameter with ``Context`` and the server fills it (it never appears in the
input schema)::

    @server.tool()
    async def index(paths: list[str], ctx: Context) -> int:
        for done, path in enumerate(paths, 1):
            await ctx.report_progress(done, len(paths), message=path)
        await ctx.info("indexed", logger="indexer")
        return len(paths)

Progress goes out as ``notifications/progress`` only when the client's request asked
for it (``_meta.progressToken``); log messages as ``notifications/message`` only at or
above the level the client set with ``logging/setLevel``. A sync tool runs in a worker
thread: call these through ``anyio.from_thread.run(ctx.report_progress, 1, 2)``.

A handler can also ask the client things while it runs (handshake revisions only: the
client must have declared the capability, else :class:`MCPError` says so)::

    answer = await ctx.sample("Summarise: ...", max_tokens=200)      # sampling/createMessage
    reply = await ctx.elicit("Which city?", {"type": "object",       # elicitation/create
                             "properties": {"city": {"type": "string"}}})
    if reply.action == "accept": city = reply.content["city"]
    roots = await ctx.list_roots()                                    # roots/list

Over Streamable HTTP these travel on the request's own SSE stream.
``await ctx.close_sse_stream()`` ends that stream early (the client resumes it with
``Last-Event-ID`` and gets the rest, the result included): polling for long work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conduit_mcp.errors import INVALID_REQUEST, MCPError

if TYPE_CHECKING:
    from conduit_mcp.protocol import ServerSession

__all__ = ["LOG_LEVELS", "Context", "ElicitResult", "SamplingResult"]

LOG_LEVELS: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""RFC 5424 severities, least to most severe, as MCP names them."""

Send = Callable[[dict[str, Any]], Awaitable[None]]
ClientRequest = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class SamplingResult:
    """The client's ``sampling/createMessage`` answer."""

    role: str
    content: dict[str, Any]
    model: str | None = None
    stop_reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str | None:
        """The text of a text answer, else None."""
        text = self.content.get("text") if self.content.get("type") == "text" else None
        return text if isinstance(text, str) else None


@dataclass(frozen=True)
class ElicitResult:
    """The client's ``elicitation/create`` answer: ``action`` is accept, decline or cancel."""

    action: str
    content: dict[str, Any] | None = None


def _sampling_message(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"role": "user", "content": {"type": "text", "text": item}}
    to_wire = getattr(item, "to_wire", None)
    if callable(to_wire):  # a prompts.Message
        return to_wire()
    if isinstance(item, Mapping) and "role" in item and "content" in item:
        return dict(item)
    raise TypeError(f"a sampling message is a str, a Message or a {{'role', 'content'}} dict, not {type(item).__name__}")


class Context:
    """What a handler can learn about, and send back within, the request it serves."""

    def __init__(
        self,
        *,
        request_id: str | int | None,
        meta: dict[str, Any] | None,
        send: Send,
        log_level: Callable[[], str | None],
        protocol_version: str | None,
        client_request: ClientRequest | None = None,
        client_capabilities: Mapping[str, Any] | None = None,
        close_stream: Callable[[], None] | None = None,
        session: ServerSession | None = None,
    ) -> None:
        self.request_id = request_id
        self.meta: dict[str, Any] = meta or {}
        self.protocol_version = protocol_version
        self.client_capabilities: dict[str, Any] = dict(client_capabilities or {})
        self.session = session
        self._send = send
        self._log_level = log_level
        self._client_request = client_request
        self._close_stream = close_stream

    @property
    def progress_token(self) -> str | int | None:
        """The token the client sent to ask for progress, or None."""
        token = self.meta.get("progressToken")
        return token if isinstance(token, (str, int)) and not isinstance(token, bool) else None

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send ``notifications/progress``; a no-op when the client asked for none.

        ``progress`` must increase with every call, as the protocol requires.
        """
        token = self.progress_token
        if token is None:
            return
        params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self._send({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    async def log(self, level: str, data: Any, *, logger: str | None = None) -> None:
        """Send ``notifications/message`` when ``level`` is at or above the client's level."""
        if level not in LOG_LEVELS:
            raise ValueError(f"log level {level!r} is not one of {', '.join(LOG_LEVELS)}")
        threshold = self._log_level()
        if threshold is None or LOG_LEVELS.index(level) < LOG_LEVELS.index(threshold):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self._send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})

    async def debug(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("debug", data, logger=logger)

    async def info(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("info", data, logger=logger)

    async def warning(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("warning", data, logger=logger)

    async def error(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("error", data, logger=logger)

    # -- asking the client ------------------------------------------------------------

    async def request(self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None) -> dict[str, Any]:
        """Send the client any request and return its result (an error answer raises MCPError)."""
        if self._client_request is None:
            raise MCPError(
                INVALID_REQUEST,
                f"cannot send {method} to the client: protocol {self.protocol_version} requests carry no session "
                "to answer on (server-to-client requests need a handshake-era client)",
            )
        return await self._client_request(method, params, timeout=timeout)

    def _require(self, capability: str, method: str) -> None:
        if capability not in self.client_capabilities:
            raise MCPError(
                INVALID_REQUEST, f"the client did not declare the {capability!r} capability, so it cannot answer {method}"
            )

    async def sample(
        self,
        messages: str | Sequence[Any],
        *,
        max_tokens: int,
        system_prompt: str | None = None,
        temperature: float | None = None,
        stop_sequences: Sequence[str] | None = None,
        model_preferences: Mapping[str, Any] | None = None,
        include_context: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> SamplingResult:
        """Ask the client's LLM for a message (``sampling/createMessage``).

        ``messages`` is a str (one user message) or a list of str / ``Message`` /
        ``{"role", "content"}`` dicts.
        """
        self._require("sampling", "sampling/createMessage")
        items = [messages] if isinstance(messages, str) else list(messages)
        params: dict[str, Any] = {"messages": [_sampling_message(m) for m in items], "maxTokens": max_tokens}
        for key, value in (
            ("systemPrompt", system_prompt),
            ("temperature", temperature),
            ("stopSequences", list(stop_sequences) if stop_sequences is not None else None),
            ("modelPreferences", dict(model_preferences) if model_preferences else None),
            ("includeContext", include_context),
            ("metadata", dict(metadata) if metadata else None),
        ):
            if value is not None:
                params[key] = value
        result = await self.request("sampling/createMessage", params, timeout=timeout)
        content = result.get("content")
        return SamplingResult(
            role=str(result.get("role", "assistant")),
            content=content if isinstance(content, dict) else {},
            model=result.get("model"),
            stop_reason=result.get("stopReason"),
            raw=result,
        )

    async def elicit(self, message: str, schema: Mapping[str, Any], *, timeout: float | None = None) -> ElicitResult:
        """Ask the user for input through the client (``elicitation/create``, form mode).

        ``schema`` is the JSON Schema of a flat object of primitives (what MCP allows:
        strings, numbers, booleans, enums, with ``default`` values if you like).
        """
        self._require("elicitation", "elicitation/create")
        if schema.get("type") != "object":
            raise ValueError("an elicitation schema is a JSON Schema object: {'type': 'object', 'properties': {...}}")
        params: dict[str, Any] = {"message": message, "requestedSchema": dict(schema)}
        if (self.protocol_version or "") >= "2025-11-25":
            params["mode"] = "form"
        result = await self.request("elicitation/create", params, timeout=timeout)
        content = result.get("content")
        return ElicitResult(action=str(result.get("action", "cancel")), content=content if isinstance(content, dict) else None)

    async def list_roots(self, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """The client's roots (``roots/list``): ``[{"uri": "file:///...", "name": ...}]``."""
        self._require("roots", "roots/list")
        roots = (await self.request("roots/list", timeout=timeout)).get("roots")
        return [r for r in roots if isinstance(r, dict)] if isinstance(roots, list) else []

    async def close_sse_stream(self) -> None:
        """End this request's SSE stream now (Streamable HTTP); a no-op on other transports.

        The request keeps running; what it sends next is kept, and the client gets it
        by reconnecting with ``Last-Event-ID`` after the stream's ``retry`` delay.
        """
        if self._close_stream is not None:
            self._close_stream()
