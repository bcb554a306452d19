"""conduit-vector: the seed's vector database on chromadb, and RAG.

``from conduit_vector import create_vector_db, create_rag_pipeline`` (or the seed's
``from conduit.ml import ...``, which finds this plugin through its store hook). Names are
imported on first use, so loading the plugin does not import chromadb.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Document",
    "RAGAnswer",
    "RAGPipeline",
    "SearchResult",
    "StoredDocument",
    "VectorDB",
    "create_rag_pipeline",
    "create_vector_db",
    "vector_endpoints",
]

_HOME = {
    "Document": "conduit_vector.validation",
    "RAGAnswer": "conduit_vector.rag",
    "RAGPipeline": "conduit_vector.rag",
    "SearchResult": "conduit_vector.store",
    "StoredDocument": "conduit_vector.store",
    "VectorDB": "conduit_vector.store",
    "create_rag_pipeline": "conduit_vector.rag",
    "create_vector_db": "conduit_vector.store",
    "vector_endpoints": "conduit_vector.http",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'conduit_vector' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
