"""conduit-vector: A vector database API for Conduit on chromadb, and RAG."""

__all__: list[str] = []
