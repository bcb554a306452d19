"""conduit-router: An LLM router for Conduit that learns by Thompson sampling which model to use per query."""

__all__: list[str] = []
