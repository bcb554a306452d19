"""StreamingInferenceEngine: predictions over a long input, yielded chunk by chunk as computed.

``predict_stream(items)`` is a plain generator (for sync handlers and scripts);
``predict_stream_async(items)`` runs each chunk in a worker thread and yields between
chunks, so a client that disconnects (the task is cancelled) stops the work after the
chunk in progress. Each chunk is a list of ``chunk_size`` answers (fewer for the last).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import anyio.to_thread

from conduit.framework.errors import ConfigurationError

__all__ = ["StreamingInferenceEngine", "create_streaming_engine"]


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class StreamingInferenceEngine:
    """Run ``model`` over many items, ``chunk_size`` at a time.

    The model's ``predict_batch(list)`` is used when present (one call per chunk), else
    ``predict`` once per item.
    """

    def __init__(self, model: Any, chunk_size: int = 100) -> None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ConfigurationError(f"chunk_size must be an integer >= 1; got {chunk_size!r}")
        if not hasattr(model, "predict") and not hasattr(model, "predict_batch"):
            raise ConfigurationError(f"a streaming engine needs a model with predict(); got {type(model).__name__}")
        self.model = model
        self.chunk_size = chunk_size
        self.chunks_done = 0

    def _predict_chunk(self, chunk: list[Any]) -> list[Any]:
        if hasattr(self.model, "predict_batch"):
            out = list(self.model.predict_batch(chunk))
        else:
            out = [self.model.predict(item) for item in chunk]
        self.chunks_done += 1
        return [v.tolist() if hasattr(v, "tolist") else v for v in out]

    def predict_stream(self, items: Iterable[Any]) -> Iterator[list[Any]]:
        """Yield one list of answers per chunk of ``items``, each as soon as it is computed."""
        for chunk in _chunks(items, self.chunk_size):
            yield self._predict_chunk(chunk)

    async def predict_stream_async(self, items: Iterable[Any]) -> AsyncIterator[list[Any]]:
        """As :meth:`predict_stream`, each chunk computed in a worker thread; stops when cancelled."""
        for chunk in _chunks(items, self.chunk_size):
            yield await anyio.to_thread.run_sync(self._predict_chunk, chunk)

    def __repr__(self) -> str:
        return f"StreamingInferenceEngine(chunk_size={self.chunk_size})"


def create_streaming_engine(model: Any, chunk_size: int = 100) -> StreamingInferenceEngine:
    """``create_streaming_engine(model, chunk_size=100)`` -> :class:`StreamingInferenceEngine`."""
    return StreamingInferenceEngine(model, chunk_size=chunk_size)
