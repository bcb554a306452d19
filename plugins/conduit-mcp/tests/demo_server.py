"""The MCP server the interop tests talk to (run as ``python demo_server.py``).

It has one of each thing the official client should see: a plain tool, one with a
structured result, one that raises, one that reports progress and logs, a slow one
to cancel, a static resource, a template, a binary resource and two prompts.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from typing import Literal

import anyio


from conduit_mcp import Context, Message, MCPServer

server = MCPServer(
    name="demo",
    version="1.2.3",
    description="Tools, resources and prompts for the interop tests",
    instructions="Use calculate for arithmetic.",
)


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@dataclass
class Reading:
    """A temperature reading."""

    city: str
    degrees: float
    unit: Unit


@server.tool()
def calculate(a: float, b: float, operation: Literal["add", "multiply"] = "add") -> float:
    """Perform a calculation.

    Args:
        a: The first operand.
        b: The second operand.
        operation: What to do with them.
    """
    return a + b if operation == "add" else a * b


@server.tool(annotations={"readOnlyHint": True})
def weather(city: str, unit: Unit = Unit.CELSIUS) -> Reading:
    """Current temperature in a city."""
    return Reading(city=city, degrees=21.5 if unit is Unit.CELSIUS else 70.7, unit=unit)


@server.tool()
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"exploded: {reason}")


@server.tool()
async def count_to(n: int, ctx: Context) -> str:
    """Count to n, reporting progress and logging each step."""
    for i in range(1, n + 1):
        await ctx.report_progress(i, n, message=f"step {i}")
        await ctx.log("info", {"step": i}, logger="counter")
        await ctx.log("debug", f"debug {i}")
    return f"counted to {n}"


@server.tool()
async def sleep(seconds: float) -> str:
    """Sleep, so a client can cancel it."""
    await anyio.sleep(seconds)
    return "slept"


@server.resource("doc://readme", name="README", mime_type="text/markdown")
def readme() -> str:
    """The project README."""
    return "# Demo\n\nContent here..."


@server.resource("doc://{doc_id}", name="document", mime_type="text/plain")
def document(doc_id: int) -> str:
    """A document by number."""
    return f"document number {doc_id}"


@server.resource("data://logo.png", name="logo", mime_type="image/png")
def logo() -> bytes:
    return b"\x89PNG\r\n\x1a\n"


@server.prompt()
def code_review(language: str = "Python") -> str:
    """Generate code review prompt."""
    return f"Review this {language} code for quality and security."


@server.prompt(title="Explain")
def explain(topic: str, depth: int = 1) -> list[Message]:
    """Explain a topic.

    Args:
        topic: What to explain.
        depth: How many levels of detail.
    """
    return [Message(f"Explain {topic} at depth {depth}."), Message("Sure.", role="assistant")]


if __name__ == "__main__":
    if len(sys.argv) > 1:  # a page size, to exercise pagination cursors
        server.page_size = int(sys.argv[1])
    server.run()
