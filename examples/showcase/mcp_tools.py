"""The showcase's capabilities as MCP tools (served at ``/mcp`` over Streamable HTTP)."""

from __future__ import annotations

from typing import Annotated, Any

__all__ = ["build_mcp_server"]


def build_mcp_server(services: Any) -> Any:
    """An MCPServer whose tools call the same objects the HTTP routes use (``services``)."""
    from conduit.mcp import MCPServer

    server = MCPServer(name="conduit-showcase", version="0.1.0",
                       description="Search and ask Conduit's docs, embed text, run the model, route a question")

    @server.tool(annotations={"readOnlyHint": True})
    def search_docs(query: Annotated[str, "What to look for"], top_k: int = 5) -> dict[str, Any]:
        """Semantic search over Conduit's own docs/ (MiniLM embeddings, Chroma)."""
        return {"results": services.search(query, max(1, min(top_k, 20)))}

    @server.tool()
    async def ask_docs(question: Annotated[str, "A question about Conduit"]) -> dict[str, Any]:
        """Answer from the docs (RAG) through the LLM router; says which model answered and why."""
        return await services.ask(question)

    @server.tool(annotations={"readOnlyHint": True})
    def embed(texts: Annotated[list[str], "Up to 32 texts"]) -> dict[str, Any]:
        """384-dimensional MiniLM embeddings of the texts."""
        return services.embed(texts)

    @server.tool(annotations={"readOnlyHint": True})
    async def predict(features: Annotated[list[float] | str, "One sample: 4 floats for iris (a text for the embedder fallback)"]) -> dict[str, Any]:
        """Run the showcase's ONNX model (micro-batched with the HTTP callers)."""
        return await services.predict(features)

    @server.tool()
    async def route(text: Annotated[str, "A query to route"]) -> dict[str, Any]:
        """Which model the router would pick for this query, and why (no model is called)."""
        return await services.route(text)

    return server
