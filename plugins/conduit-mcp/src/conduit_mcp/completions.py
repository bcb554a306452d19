"""Argument completion (``completion/complete``) for prompts and resource templates.

::

    @server.completion(prompt="review", argument="language")
    def languages(value: str) -> list[str]:
        return [name for name in ("go", "python", "rust") if name.startswith(value)]

    @server.completion(resource="doc://{owner}/{doc_id}", argument="doc_id")
    def doc_ids(value: str, arguments: dict[str, str]) -> list[str]:
        return ids_of(arguments.get("owner"), starting_with=value)

The function gets the partial ``value`` and, when it has a parameter named
``arguments``, the values the client already chose for the other arguments; a
``Context`` parameter is filled as for tools. It returns strings (the best first) or
a :class:`Completion`. At most 100 values go back; ``total``/``hasMore`` say how many
there were. An argument without a completion function completes to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from conduit_mcp import _calling
from conduit_mcp.context import Context
from conduit_mcp.schema import FunctionSignature

__all__ = ["MAX_VALUES", "Completer", "Completion"]

MAX_VALUES = 100
"""The protocol's limit on values in one completion answer."""


@dataclass(frozen=True)
class Completion:
    """Completion values with an explicit ``total`` and ``has_more`` (when you know more exist)."""

    values: list[str]
    total: int | None = None
    has_more: bool = False


@dataclass(eq=False)
class Completer:
    """A function completing one argument of one prompt or resource template."""

    fn: Callable[..., Any]
    signature: FunctionSignature
    is_coroutine: bool = field(init=False)

    def __post_init__(self) -> None:
        names = {p.name for p in self.signature.parameters}
        if "value" not in names or not names <= {"value", "arguments"}:
            raise ValueError(
                f"completion function {self.signature.name!r} must take 'value' (the partial text) and may take "
                f"'arguments' (the other arguments' values) and a Context; it takes {', '.join(sorted(names)) or 'none'}"
            )
        self.is_coroutine = _calling.is_async(self.fn)

    async def complete(self, value: str, arguments: dict[str, str], context: Context) -> dict[str, Any]:
        """The ``completion`` object of a ``CompleteResult``."""
        kwargs: dict[str, Any] = {"value": value}
        if any(p.name == "arguments" for p in self.signature.parameters):
            kwargs["arguments"] = dict(arguments)
        for name in self.signature.injected:
            kwargs[name] = context
        answer = await _calling.call(self.fn, self.is_coroutine, kwargs)
        if isinstance(answer, Completion):
            values, total, has_more = list(answer.values), answer.total, answer.has_more
        elif isinstance(answer, Iterable) and not isinstance(answer, (str, bytes, dict)):
            values, total, has_more = list(answer), None, False
        else:
            raise TypeError(
                f"completion function {self.signature.name!r} returned {type(answer).__name__}; "
                "return a list of strings or a Completion"
            )
        if not all(isinstance(v, str) for v in values):
            raise TypeError(f"completion function {self.signature.name!r} must return strings")
        if total is None:
            total = len(values)
        if len(values) > MAX_VALUES:
            values, has_more = values[:MAX_VALUES], True
        return {"values": values, "total": total, "hasMore": has_more or total > len(values)}
