"""The showcase service: everything Conduit offers, on embedded defaults.

    conduit run examples.showcase:app

No Redis, no GPU, no network needed. One app uses every plugin: an ONNX model endpoint
(micro-batched), text embeddings, vector search and RAG over Conduit's own docs/, the same
capabilities as MCP tools at /mcp, the LLM router at /v1/chat/completions (a local stand-in
provider when no API key is set), /metrics, /health/*, /docs, and a landing page at /,
behind API-key auth, rate limits and security headers. See docs/showcase.md.

Modules: app.py (assembly), settings.py (its CONDUIT_SHOWCASE_* settings), services.py (the
capabilities), models.py (the ONNX model), indexing.py (docs/ into the vector database),
llm.py (router and stand-in), mcp_tools.py, page.py + static/ (the landing page), demo.py
(the kernel on its own).
"""

from __future__ import annotations

from .app import build_app

__all__ = ["app", "build_app"]

app = build_app()
