"""Registered prompts: their arguments and how a ``prompts/get`` renders messages.

A prompt function returns a ``str`` (one user message), a content block (an ``Image``,
``Audio`` or ``EmbeddedResource``: one user message), a :class:`Message`, a dict in the
wire shape (``{"role": ..., "content": ...}``), or a list of those. Arguments
arrive as strings, as MCP defines them, and are converted to the parameters'
annotated types (``"3"`` for ``count: int``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from conduit_mcp import _calling
from conduit_mcp.content import ContentBlock
from conduit_mcp.context import Context
from conduit_mcp.convert import ArgumentError, from_text
from conduit_mcp.schema import FunctionSignature

__all__ = ["Message", "Prompt"]


@dataclass(frozen=True)
class Message:
    """One prompt message: ``content`` is text, a content block (``Image(...)``), or its wire dict."""

    content: str | ContentBlock | dict[str, Any]
    role: Literal["user", "assistant"] = "user"

    def to_wire(self) -> dict[str, Any]:
        if isinstance(self.content, str):
            content: dict[str, Any] = {"type": "text", "text": self.content}
        elif isinstance(self.content, ContentBlock):
            content = self.content.to_wire()
        else:
            content = self.content
        return {"role": self.role, "content": content}


def _message(value: Any, prompt: str) -> dict[str, Any]:
    if isinstance(value, Message):
        return value.to_wire()
    if isinstance(value, (str, ContentBlock)):
        return Message(value).to_wire()
    if isinstance(value, dict) and value.get("role") in ("user", "assistant") and "content" in value:
        return Message(value["content"], value["role"]).to_wire()
    raise TypeError(
        f"prompt {prompt!r} returned {type(value).__name__}; return a str, a content block, a Message, "
        "a {'role', 'content'} dict, or a list of those"
    )


@dataclass(eq=False)
class Prompt:
    """A function exposed through ``prompts/list`` and ``prompts/get``."""

    fn: Callable[..., Any]
    signature: FunctionSignature
    title: str | None = None
    meta: Mapping[str, Any] | None = None
    is_coroutine: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_coroutine = _calling.is_async(self.fn)

    @property
    def name(self) -> str:
        return self.signature.name

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"name": self.name}
        if self.title:
            wire["title"] = self.title
        if self.signature.description:
            wire["description"] = self.signature.description
        arguments = []
        for param in self.signature.parameters:
            argument: dict[str, Any] = {"name": param.name, "required": param.required}
            if param.description:
                argument["description"] = param.description
            arguments.append(argument)
        wire["arguments"] = arguments
        if self.meta:
            wire["_meta"] = dict(self.meta)
        return wire

    def bind(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Convert string arguments; a missing required or unknown one raises ArgumentError."""
        known = {p.name: p for p in self.signature.parameters}
        unknown = sorted(set(arguments) - set(known))
        if unknown and not self.signature.takes_kwargs:
            raise ArgumentError(f"unknown argument(s) {', '.join(unknown)} for prompt {self.name!r}")
        kwargs: dict[str, Any] = {}
        for name, param in known.items():
            if name in arguments:
                kwargs[name] = from_text(arguments[name], param.annotation, name)
            elif param.required:
                raise ArgumentError(f"prompt {self.name!r} needs argument {name!r}")
        return kwargs

    async def render(self, arguments: Mapping[str, Any], context: Context) -> dict[str, Any]:
        kwargs = self.bind(arguments)
        for name in self.signature.injected:
            kwargs[name] = context
        value = await _calling.call(self.fn, self.is_coroutine, kwargs)
        values = value if isinstance(value, (list, tuple)) else [value]
        result: dict[str, Any] = {"messages": [_message(item, self.name) for item in values]}
        if self.signature.description:
            result["description"] = self.signature.description
        return result
