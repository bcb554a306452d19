"""An MCP server with tools, resources and prompts, as in the seed's "MCP Server" section.

Serve it over stdio (for an MCP client that launches servers as subprocesses)::

    python examples/mcp_server.py
    conduit mcp stdio examples.mcp_server:server

or over Streamable HTTP on a Conduit app at http://127.0.0.1:8000/mcp::

    conduit mcp http examples.mcp_server:server --port 8000
"""

from __future__ import annotations

from typing import Literal

from conduit.mcp import Context, MCPServer

server = MCPServer(name="my-tools", version="1.0.0", description="My MCP server")

DOCS = {"intro": "Conduit serves ML models over HTTP.", "mcp": "Conduit speaks the Model Context Protocol."}


@server.tool()
def calculate(a: float, b: float, operation: Literal["add", "subtract", "multiply", "divide"]) -> float:
    """Perform a calculation.

    Args:
        a: The left operand.
        b: The right operand.
        operation: The arithmetic operation to apply.
    """
    if operation == "add":
        return a + b
    if operation == "subtract":
        return a - b
    if operation == "multiply":
        return a * b
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b


@server.tool()
async def search_docs(query: str, ctx: Context, limit: int = 3) -> list[str]:
    """Find documents whose text mentions the query.

    Args:
        query: Words to look for (case-insensitive).
        limit: The most documents to return.
    """
    hits = [name for name, text in DOCS.items() if query.lower() in text.lower()]
    await ctx.info(f"{len(hits)} documents match {query!r}")
    return hits[:limit]


@server.resource(uri="doc://readme", name="README", mime_type="text/plain")
def get_readme() -> str:
    """Serve README file"""
    return "# My Documentation\n\nContent here..."


@server.resource(uri="doc://{name}", name="document", mime_type="text/plain")
def get_document(name: str) -> str:
    """A document by name (see search_docs)."""
    return DOCS[name]


@server.prompt()
def code_review(language: str = "Python") -> str:
    """Generate code review prompt"""
    return f"Review this {language} code for quality and security."


if __name__ == "__main__":
    server.run()
