"""Text embeddings for query analysis: the offline MiniLM embedder when conduit-onnx is
installed (through ``conduit.ml.get_embedder``), hashed character n-grams otherwise.

The hashed embedder needs nothing but numpy and is deterministic across processes and
hosts (CRC32, not Python's salted ``hash``), so workers that share posteriors through
Redis see the same features for the same text.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from conduit.framework.errors import MissingPluginError

__all__ = ["RETRY_SIMILARITY", "HashedEmbedder", "embedder_name", "resolve_embedder"]

logger = logging.getLogger("conduit.router")

_WORD = re.compile(r"[^\W_]+")
_NON_WORD = re.compile(r"[\W_]+")

RETRY_SIMILARITY = {"hash": 0.9, "default": 0.85}
"""Cosine similarity at or above which two queries from one user count as a retry.

MiniLM puts paraphrases ("how do I reverse a list in python" / "how can I reverse a
python list") at 0.98 and related-but-different questions ("explain quicksort" /
"explain mergesort") near 0.6. Hashed n-grams cannot tell a paraphrase (0.67) from the
same template with another noun ("capital of France" / "of Kenya": 0.77), so with them
only near-duplicates count ("what is 2+2" / "What is 2 + 2?": 1.0).
"""


class HashedEmbedder:
    """Character 3-grams (of the text without spaces and punctuation) and words, hashed into
    ``dimension`` signed buckets, L2-normalised."""

    name = "hash"

    def __init__(self, dimension: int = 512) -> None:
        if dimension < 16:
            raise ValueError(f"dimension must be >= 16, got {dimension}")
        self.dimension = dimension

    def __repr__(self) -> str:
        return f"HashedEmbedder(dimension={self.dimension})"

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dimension, dtype=np.float32)
        lowered = text.lower()
        compact = _NON_WORD.sub("", lowered)  # spacing and punctuation do not change a question
        dim = self.dimension
        for i in range(len(compact) - 2):
            h = zlib.crc32(compact[i:i + 3].encode("utf-8"))
            vec[h % dim] += 1.0 if h & 0x80000000 else -1.0
        for word in _WORD.findall(lowered):
            h = zlib.crc32(b"w:" + word.encode("utf-8"))
            vec[h % dim] += 1.5 if h & 0x80000000 else -1.5
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._one(t).tolist() for t in texts]

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._one(t) for t in texts])


def embedder_name(embedder: Any) -> str:
    """A stable name for an embedder: it keys feature caches and posteriors."""
    name = getattr(embedder, "name", None) or type(embedder).__name__
    return f"{name}/{getattr(embedder, 'dimension', '?')}"


def resolve_embedder(embedder: Any = None) -> Any:
    """The embedder to use.

    ``None`` or ``"auto"``: the default one from ``conduit.ml.get_embedder()`` (MiniLM from
    conduit-onnx), falling back to :class:`HashedEmbedder` when no plugin offers one;
    ``"hash"``: the hashed embedder; another string: the embedder registered under that
    name; an object with ``embed(texts)`` is used as it is.
    """
    if embedder is None or embedder == "auto":
        from conduit.ml import get_embedder

        try:
            return get_embedder()
        except MissingPluginError:
            logger.info("no embedder plugin is installed; the router uses hashed n-gram features")
            return HashedEmbedder()
    if embedder == "hash":
        return HashedEmbedder()
    if isinstance(embedder, str):
        from conduit.ml import get_embedder

        return get_embedder(embedder)
    if not callable(getattr(embedder, "embed", None)):
        raise ValueError("embedder must have embed(texts) -> list of vectors, or be 'auto', 'hash' or a name")
    return embedder
