"""The showcase's capabilities as one object, shared by the HTTP routes, the MCP tools and the page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio

from conduit.framework.errors import ValidationError

from .indexing import DOCS_DIR, DocsIndex
from .llm import RouterSetup
from .models import ServedModel

__all__ = ["Services"]


class Services:
    """Embedder, vector database (filled from docs/), RAG pipeline, model engine and router."""

    def __init__(self, app: Any, pm: Any) -> None:
        from conduit.ml import create_rag_pipeline, create_vector_db, get_embedder

        from .models import load_showcase_model

        self.embedder = get_embedder(pm=pm)
        self.db = create_vector_db(self.embedder.dimension, metric="cosine", embedder=self.embedder, pm=pm)
        self.index = DocsIndex(self.db, Path(app.settings.get("showcase_docs") or DOCS_DIR))
        self.router_setup = RouterSetup(app)
        self.rag = create_rag_pipeline(vector_db=self.db, embedding_model=self.embedder, llm=self.router_setup.llm,
                                       top_k=4, pm=pm)
        self.served: ServedModel = load_showcase_model(pm, app.settings)
        self.engine: Any = None  # set by app.model_endpoint

    def search(self, query: str, top_k: int = 5) -> list[dict[str, Any]]:
        if not query.strip():
            raise ValidationError("query is empty", "send some text to search for")
        return [{"id": hit.id, "score": round(hit.score, 4), "title": (hit.metadata or {}).get("title"),
                 "source": (hit.metadata or {}).get("source"), "text": hit.document}
                for hit in self.db.search_text(query, top_k=top_k)]

    async def ask(self, question: str) -> dict[str, Any]:
        if not question.strip():
            raise ValidationError("question is empty", "send a question about Conduit")
        return await self.router_setup.ask(self.rag, question)

    def embed(self, texts: list[str]) -> dict[str, Any]:
        if not texts or len(texts) > 32 or not all(isinstance(t, str) for t in texts):
            raise ValidationError("texts must be 1 to 32 strings", f"got {len(texts)} items")
        start = time.perf_counter()
        vectors = self.embedder.embed(texts)
        return {"model": "all-MiniLM-L6-v2", "dimension": self.embedder.dimension,
                "embeddings": [[round(float(v), 6) for v in vec] for vec in vectors],
                "duration_ms": round((time.perf_counter() - start) * 1000, 2)}

    async def predict(self, features: Any) -> dict[str, Any]:
        start = time.perf_counter()
        prediction = await self.engine.predict_async(features)
        if hasattr(prediction, "tolist"):
            prediction = prediction.tolist()
        return {"model": self.served.name, "prediction": prediction,
                "duration_ms": round((time.perf_counter() - start) * 1000, 2)}

    async def route(self, text: str) -> dict[str, Any]:
        from conduit_router import Query

        decision = await self.router_setup.router.route(Query(text=text))
        return {"model": decision.selected_model, "confidence": decision.confidence,
                "reasoning": decision.reasoning, "alternatives": [a.model for a in decision.alternatives]}

    async def aembed(self, texts: list[str]) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(self.embed, texts)
