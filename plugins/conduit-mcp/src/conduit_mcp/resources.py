"""Registered resources and resource templates, and how a read turns into contents.

A function's return value becomes ``contents``: a ``str`` is text, ``bytes`` a base64
``blob``, anything else JSON text (``application/json`` unless the resource names
another MIME type). A template (``doc://{id}``) passes the URI's variables to the
function's parameters of the same names, converted to their annotated types. A read
function that raises ``LookupError`` (``KeyError``, ``IndexError``) or
``FileNotFoundError`` answers "resource not found" (-32002).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conduit_mcp import _calling
from conduit_mcp.context import Context
from conduit_mcp.convert import dumps, from_text
from conduit_mcp.schema import FunctionSignature
from conduit_mcp.uritemplate import UriTemplate

__all__ = ["Resource", "ResourceTemplate", "to_contents"]


def to_contents(uri: str, mime_type: str | None, value: Any) -> list[dict[str, Any]]:
    """A read function's return value as ``ReadResourceResult.contents``."""
    item: dict[str, Any] = {"uri": uri}
    if isinstance(value, str):
        item["mimeType"] = mime_type or "text/plain"
        item["text"] = value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        item["mimeType"] = mime_type or "application/octet-stream"
        item["blob"] = base64.b64encode(bytes(value)).decode("ascii")
    else:
        item["mimeType"] = mime_type or "application/json"
        item["text"] = dumps(value).decode()
    return [item]


@dataclass(eq=False)
class _Readable:
    fn: Callable[..., Any]
    signature: FunctionSignature
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] | None = None
    is_coroutine: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_coroutine = _calling.is_async(self.fn)

    def _describe(self, wire: dict[str, Any]) -> dict[str, Any]:
        wire["name"] = self.name
        if self.title:
            wire["title"] = self.title
        if self.description:
            wire["description"] = self.description
        if self.mime_type:
            wire["mimeType"] = self.mime_type
        if self.annotations:
            wire["annotations"] = dict(self.annotations)
        if self.meta:
            wire["_meta"] = dict(self.meta)
        return wire

    async def _read(self, uri: str, kwargs: dict[str, Any], context: Context) -> list[dict[str, Any]]:
        for name in self.signature.injected:
            kwargs[name] = context
        value = await _calling.call(self.fn, self.is_coroutine, kwargs)
        return to_contents(uri, self.mime_type, value)


@dataclass(eq=False)
class Resource(_Readable):
    """A resource with a fixed URI (``resources/list``)."""

    uri: str = ""

    def to_wire(self) -> dict[str, Any]:
        return self._describe({"uri": self.uri})

    async def read(self, context: Context) -> list[dict[str, Any]]:
        return await self._read(self.uri, {}, context)


@dataclass(eq=False)
class ResourceTemplate(_Readable):
    """A family of resources named by a URI template (``resources/templates/list``)."""

    template: UriTemplate = field(default_factory=lambda: UriTemplate(""))

    def __post_init__(self) -> None:
        super().__post_init__()
        declared = {p.name for p in self.signature.parameters}
        variables = set(self.template.variables)
        if declared != variables and not (self.signature.takes_kwargs and declared <= variables):
            raise ValueError(
                f"resource template {self.template.template!r}: the function's parameters "
                f"({', '.join(sorted(declared)) or 'none'}) must be the template's variables "
                f"({', '.join(sorted(variables))})"
            )

    def to_wire(self) -> dict[str, Any]:
        return self._describe({"uriTemplate": self.template.template})

    def match(self, uri: str) -> dict[str, str] | None:
        return self.template.match(uri)

    async def read(self, uri: str, variables: Mapping[str, str], context: Context) -> list[dict[str, Any]]:
        """Read ``uri``; a variable that does not convert raises ``ArgumentError``."""
        annotations = {p.name: p.annotation for p in self.signature.parameters}
        kwargs = {name: from_text(value, annotations.get(name, str), name) for name, value in variables.items()}
        return await self._read(uri, kwargs, context)
