"""Exact search: an in-process copy of a collection, its vectors searched by brute force.

For a collection this process owns (in memory or on disk, not a Chroma server where other
writers exist), :class:`~conduit_vector.store.VectorDB` keeps every row it writes here too
(the vector as float32 numpy, its metadata and text), read from Chroma when the collection
is opened. A search over few rows then costs a matrix-vector product instead of Chroma's
fixed per-query path (and its metadata fetch), and it is exact.

Distances follow Chroma's definitions for its spaces exactly (see
:mod:`conduit_vector.scoring`): rows are stored as the 32-bit floats Chroma stores, cosine
rows normalised as Chroma's HNSW normalises them; candidates are ranked in float32 and the
final distances recomputed in float64 from those float32 values:

- ``cosine``: ``1 - x̂·q̂`` (x̂, q̂ unit vectors; an all-zero vector stays zero, so its
  distance to anything is 1);
- ``l2``: ``||q - x||²``;
- ``ip``: ``1 - q·x``.

One :class:`ExactIndex` is shared by every VectorDB of the process on the same collection
(:func:`shared_index`), so writes through any of them keep it current. Writes made around
VectorDB (``db.collection.add(...)``, another process on the same folder) are not seen.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["DEFAULT_EXACT_NUMBERS", "ExactIndex", "shared_index"]

#: ``exact="auto"`` searches exactly while rows × dimension is at most this (measured: see
#: docs/vector.md, "Exact search"); 4,000,000 is 10,416 vectors of 384 dimensions.
DEFAULT_EXACT_NUMBERS = 4_000_000
Hit = tuple[str, float, dict[str, Any], "str | None"]
_BLOCK = 1024  # rows per matrix-vector product: keeps OpenBLAS on one thread (no spinning)
_LOAD_PAGE = 5_000  # rows per Chroma get() when building the copy
_GATHER_FRACTION = 0.3  # a filter matching fewer rows than this share gathers them first


class ExactIndex:
    """The vectors of one collection as a float32 matrix, with ids, for exact top-k search.

    ``write_lock`` is held by a writer across its Chroma write and the matching update here,
    so two writers cannot leave this copy in another order than Chroma's; reads and
    updates of the arrays take the short internal lock only.
    """

    def __init__(self, dimension: int, space: str) -> None:
        if space not in ("cosine", "l2", "ip"):
            raise ValueError(f"unknown Chroma space {space!r}")
        self.dimension = dimension
        self.space = space
        self.write_lock = threading.RLock()
        self._lock = threading.Lock()
        self._rows = np.zeros((0, dimension), dtype=np.float32)
        self._norms = np.zeros(0, dtype=np.float32)  # squared norms, for l2 ranking
        self._ids: list[str] = []
        self._meta: list[dict[str, Any] | None] = []
        self._text: list[str | None] = []
        self._row_of: dict[str, int] = {}
        self.stale = False  # set when a write failed half-way: rebuild before the next search

    def __len__(self) -> int:
        return len(self._ids)

    # --- writing ----------------------------------------------------------------------------

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        rows = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        if self.space == "cosine":  # as hnswlib does: x / (|x| + 1e-30), zero stays zero
            norms = np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float32))
            rows = rows / (norms[:, None] + np.float32(1e-30))
        return np.ascontiguousarray(rows, dtype=np.float32)

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        texts: Sequence[str | None] | None = None,
    ) -> None:
        """Add rows, or replace those whose id is present: vector, metadata and text become
        what is given (one of each per id; None: no metadata / no text)."""
        rows = self._prepare(vectors)
        norms = np.einsum("ij,ij->i", rows, rows, dtype=np.float32)
        metas = [dict(m) if m else None for m in metadatas] if metadatas is not None else [None] * len(ids)
        words = [t or None for t in texts] if texts is not None else [None] * len(ids)
        with self._lock:
            new: list[int] = []
            for i, doc_id in enumerate(ids):
                at = self._row_of.get(doc_id)
                if at is None:
                    self._row_of[doc_id] = len(self._ids) + len(new)
                    new.append(i)
                else:
                    self._rows[at] = rows[i]
                    self._norms[at] = norms[i]
                    self._meta[at] = metas[i]
                    self._text[at] = words[i]
            if new:
                size = len(self._ids)
                self._grow(size + len(new))
                self._rows[size : size + len(new)] = rows[new]
                self._norms[size : size + len(new)] = norms[new]
                self._ids.extend(ids[i] for i in new)
                self._meta.extend(metas[i] for i in new)
                self._text.extend(words[i] for i in new)

    def _grow(self, wanted: int) -> None:
        capacity = len(self._rows)
        if wanted <= capacity:
            return
        capacity = max(wanted, 2 * capacity, 64)
        rows = np.zeros((capacity, self.dimension), dtype=np.float32)
        norms = np.zeros(capacity, dtype=np.float32)
        size = len(self._ids)
        rows[:size] = self._rows[:size]
        norms[:size] = self._norms[:size]
        self._rows, self._norms = rows, norms

    def delete(self, ids: Iterable[str]) -> None:
        """Remove rows by id (ids not present are ignored); the last row fills each hole."""
        with self._lock:
            for doc_id in ids:
                at = self._row_of.pop(doc_id, None)
                if at is None:
                    continue
                last = len(self._ids) - 1
                if at != last:
                    moved = self._ids[last]
                    self._rows[at] = self._rows[last]
                    self._norms[at] = self._norms[last]
                    self._ids[at] = moved
                    self._meta[at] = self._meta[last]
                    self._text[at] = self._text[last]
                    self._row_of[moved] = at
                self._ids.pop()
                self._meta.pop()
                self._text.pop()

    def clear(self) -> None:
        with self._lock:
            self._rows = np.zeros((0, self.dimension), dtype=np.float32)
            self._norms = np.zeros(0, dtype=np.float32)
            self._ids = []
            self._meta = []
            self._text = []
            self._row_of = {}

    def load(self, collection: Any) -> None:
        """Replace the copy with every vector Chroma holds in ``collection`` (paged)."""
        with self.write_lock:
            self.clear()
            offset = 0
            while True:
                page = collection.get(include=["embeddings", "metadatas", "documents"], limit=_LOAD_PAGE, offset=offset)
                ids = list(page["ids"])
                if not ids:
                    break
                self.upsert(ids, np.asarray(page["embeddings"], dtype=np.float32), page["metadatas"], page["documents"])
                offset += len(ids)
            self.stale = False

    # --- searching --------------------------------------------------------------------------

    def search(self, query: np.ndarray, top_k: int, ids: Sequence[str] | None = None) -> list[Hit]:
        """``(id, distance, metadata, text)`` of the ``top_k`` nearest rows, nearest first;
        among ``ids`` only when given (ids not present are skipped). Ties keep the order of
        the copy. ``metadata`` is a fresh dict (lists copied), ``{}`` when there is none."""
        q32 = np.asarray(query, dtype=np.float32).reshape(self.dimension)
        with self._lock:
            size = len(self._ids)
            if ids is None:
                rows = None
            else:
                found = [self._row_of.get(doc_id) for doc_id in ids]
                rows = np.fromiter((r for r in found if r is not None), dtype=np.intp)
            count = size if rows is None else len(rows)
            if count == 0:
                return []
            q = q32
            if self.space == "cosine":
                q = q32 / (np.sqrt(np.dot(q32, q32)) + np.float32(1e-30))
            if rows is None or count > _GATHER_FRACTION * size:
                products = _products(self._rows[:size], q)
                norms = self._norms[:size]
                if rows is not None:
                    products, norms = products[rows], norms[rows]
                subset = None
            else:
                subset = self._rows[rows]
                products = _products(subset, q)
                norms = self._norms[rows]
            key = norms - 2 * products if self.space == "l2" else -products
            pool = min(count, top_k + max(top_k, 16))  # float32 ranking picks candidates ...
            candidates = np.argpartition(key, pool - 1)[:pool] if pool < count else np.arange(count)
            candidates.sort()
            where = candidates if rows is None else rows[candidates]
            vectors = (self._rows[where] if subset is None else subset[candidates]).astype(np.float64)
            names = [self._ids[r] for r in where]
            metas = [self._meta[r] for r in where]
            words = [self._text[r] for r in where]
        q64 = q.astype(np.float64)  # ... and float64 gives their distances
        if self.space == "l2":
            diff = vectors - q64
            distances = np.einsum("ij,ij->i", diff, diff)
        else:
            distances = 1.0 - vectors @ q64
        order = np.argsort(distances, kind="stable")[:top_k]
        return [(names[i], float(distances[i]), _copy(metas[i]), words[i]) for i in order]


def _copy(metadata: dict[str, Any] | None) -> dict[str, Any]:
    if not metadata:
        return {}
    return {key: list(value) if isinstance(value, list) else value for key, value in metadata.items()}


def _products(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``rows @ query`` in blocks, so OpenBLAS stays on one thread (its threads spin)."""
    if len(rows) <= _BLOCK:
        return rows @ query
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), _BLOCK):
        np.matmul(rows[start : start + _BLOCK], query, out=out[start : start + _BLOCK])
    return out


_shared: weakref.WeakValueDictionary[tuple[str, str], ExactIndex] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def shared_index(key: tuple[str, str], dimension: int, space: str, build: Callable[[ExactIndex], None]) -> ExactIndex:
    """The process's copy for ``key`` (the collection's client and id), built with
    ``build`` the first time; it lives while a VectorDB holds it."""
    with _shared_lock:
        index = _shared.get(key)
        if index is not None and index.dimension == dimension and index.space == space:
            return index
        index = ExactIndex(dimension, space)
        build(index)
        _shared[key] = index
        return index
