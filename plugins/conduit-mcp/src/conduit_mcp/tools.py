"""A registered tool: its wire description and how a call runs.

A call validates and converts the arguments against the function's type hints, runs
the function (sync ones in a worker thread) and turns what it returns into a
``CallToolResult``: text content always (strings as they are, anything else as JSON),
plus ``structuredContent`` when the return type has an output schema. Content blocks
(:mod:`conduit_mcp.content`: ``Image``, ``Audio``, ``EmbeddedResource``...) become their
own blocks, alone or in a list mixed with strings. Anything the
function raises, a bad argument included, becomes a result with ``isError: true``
whose text is the exception's message, so the model can see it and correct the call (a
``MissingPluginError`` says only what is missing: its install command is for the log).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from conduit.framework.errors import MissingPluginError
from conduit.telemetry import span
from conduit_mcp import _calling
from conduit_mcp.content import ContentBlock
from conduit_mcp.context import Context
from conduit_mcp.convert import ArgumentError, dumps, from_json
from conduit_mcp.schema import FunctionSignature

__all__ = ["Tool", "text_content", "to_content", "validate_tool_name"]

logger = logging.getLogger("conduit.mcp")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_STRUCTURED_SINCE = "2025-06-18"


_telemetry_broken = False


@contextlib.contextmanager
def _span(name: str, attributes: dict[str, Any], pm: Any) -> Iterator[None]:
    """``conduit.telemetry.span`` that never fails the call it wraps: a plugin manager that
    cannot load is logged once and the call runs without a span."""
    global _telemetry_broken
    with contextlib.ExitStack() as stack:
        if not (pm is None and _telemetry_broken):
            try:
                stack.enter_context(span(name, attributes, pm=pm))
            except Exception as exc:  # noqa: BLE001 - telemetry must not break a tool
                if not _telemetry_broken:
                    logger.warning("MCP tool calls run without telemetry spans: %s", exc)
                _telemetry_broken = pm is None
        yield


def validate_tool_name(name: str) -> str:
    """Refuse names MCP 2025-11-25 does not allow (1-128 of ``A-Z a-z 0-9 _ - .``)."""
    if not _TOOL_NAME.match(name):
        raise ValueError(
            f"tool name {name!r} is not allowed: use 1 to 128 letters, digits, '_', '-' or '.' "
            "(pass name= to @server.tool)"
        )
    return name


def text_content(value: Any) -> list[dict[str, Any]]:
    """``value`` as one text block: strings as they are, anything else as JSON."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    return [{"type": "text", "text": dumps(value).decode()}]


def to_content(value: Any) -> list[dict[str, Any]]:
    """A function's return value as MCP content blocks.

    A content block is itself; a list or tuple holding any is one block per item
    (strings as text); anything else is one text block (:func:`text_content`).
    """
    if isinstance(value, ContentBlock):
        return [value.to_wire()]
    if isinstance(value, (list, tuple)) and any(isinstance(item, ContentBlock) for item in value):
        blocks: list[dict[str, Any]] = []
        for item in value:
            if isinstance(item, ContentBlock):
                blocks.append(item.to_wire())
            else:
                blocks.extend(text_content(item))
        return blocks
    return text_content(value)


@dataclass(eq=False)
class Tool:
    """A function exposed through ``tools/list`` and ``tools/call``."""

    fn: Callable[..., Any]
    signature: FunctionSignature
    title: str | None = None
    annotations: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] | None = None
    input_schema: Mapping[str, Any] | None = None
    is_coroutine: bool = field(init=False)

    def __post_init__(self) -> None:
        validate_tool_name(self.signature.name)
        self.is_coroutine = _calling.is_async(self.fn)
        self._wire: dict[str, dict[str, Any]] = {}

    @property
    def name(self) -> str:
        return self.signature.name

    def to_wire(self, version: str) -> dict[str, Any]:
        """The ``Tool`` object for ``tools/list`` at protocol ``version`` (cached)."""
        cached = self._wire.get(version)
        if cached is not None:
            return cached
        wire: dict[str, Any] = {"name": self.name}
        modern = version >= _STRUCTURED_SINCE
        if self.title and modern:
            wire["title"] = self.title
        if self.signature.description:
            wire["description"] = self.signature.description
        wire["inputSchema"] = dict(self.input_schema) if self.input_schema is not None else self.signature.input_schema
        if self.signature.output_schema is not None and modern:
            wire["outputSchema"] = self.signature.output_schema
        if self.annotations:
            wire["annotations"] = dict(self.annotations)
        if self.meta and modern:
            wire["_meta"] = dict(self.meta)
        self._wire[version] = wire
        return wire

    def bind(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``arguments`` and convert them to the function's keyword arguments."""
        kwargs: dict[str, Any] = {}
        known = {p.name for p in self.signature.parameters}
        unknown = sorted(set(arguments) - known)
        if unknown and not self.signature.takes_kwargs:
            takes = ", ".join(sorted(known)) or "no arguments"
            raise ArgumentError(f"unknown argument(s) {', '.join(unknown)}; tool {self.name!r} takes {takes}")
        for param in self.signature.parameters:
            if param.name in arguments:
                kwargs[param.name] = from_json(arguments[param.name], param.annotation, param.name)
            elif param.required:
                raise ArgumentError(f"missing required argument {param.name!r}")
        if self.signature.takes_kwargs:
            kwargs.update({key: arguments[key] for key in unknown})
        return kwargs

    async def run(self, arguments: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Call the tool inside a ``tools/call`` telemetry span; always a ``CallToolResult``."""
        attributes: dict[str, Any] = {
            "mcp.method.name": "tools/call",
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": self.name,
        }
        if context.request_id is not None:
            attributes["jsonrpc.request.id"] = str(context.request_id)
        if context.protocol_version:
            attributes["mcp.protocol.version"] = context.protocol_version
        session = context.session
        with _span(f"tools/call {self.name}", attributes, getattr(session, "plugin_manager", None)):
            return await self._run(arguments, context)

    async def _run(self, arguments: Mapping[str, Any], context: Context) -> dict[str, Any]:
        try:
            kwargs = self.bind(arguments)
            for name in self.signature.injected:
                kwargs[name] = context
            value = await _calling.call(self.fn, self.is_coroutine, kwargs)
        except ArgumentError as exc:
            return {"content": text_content(f"invalid arguments for tool {self.name!r}: {exc}"), "isError": True}
        except MissingPluginError as exc:
            # Its message ends with the install command, which may name the server's folders:
            # that goes to the log, the client learns only what is missing.
            logger.warning("tool %r raised MissingPluginError: %s", self.name, exc)
            message = f"{exc.capability} needs the conduit-{exc.extra} plugin, which this server lacks"
            return {"content": text_content(f"tool {self.name!r} failed: {message}"), "isError": True}
        except Exception as exc:
            logger.warning("tool %r raised %s: %s", self.name, type(exc).__name__, exc)
            logger.debug("traceback of tool %r", self.name, exc_info=True)
            message = str(exc) or type(exc).__name__
            return {"content": text_content(f"tool {self.name!r} failed: {message}"), "isError": True}
        result: dict[str, Any] = {"content": to_content(value)}
        if self.signature.output_schema is not None and (context.protocol_version or "") >= _STRUCTURED_SINCE:
            result["structuredContent"] = {"result": value} if self.signature.wrap_output else value
        return result
