"""The seed's VectorDB on chromadb: add, upsert, search, count and delete vectors.

``create_vector_db(dimension, metric)`` opens a Chroma collection in memory (default), in
a folder (``path=``) or on a Chroma server (``url=``); the same code scales out by
configuration (``CONDUIT_VECTOR_PATH`` / ``CONDUIT_VECTOR_URL``). Chroma never embeds
anything itself: vectors are always passed in, and text goes through the embedder that
``conduit_register_embedders`` offers (conduit-onnx's offline all-MiniLM-L6-v2).

Scores are explained in :mod:`conduit_vector.scoring`; input rules in
:mod:`conduit_vector.validation`; the exact (numpy) search path in :mod:`conduit_vector.exact`.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from conduit.framework.errors import (
    ConfigurationError,
    ConflictError,
    HTTPError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationError,
)
from conduit_vector.client import Mode, close_client, is_unavailable, open_client
from conduit_vector.exact import DEFAULT_EXACT_NUMBERS, ExactIndex, shared_index
from conduit_vector.scoring import chroma_space, metric_of_space, score_from_distance
from conduit_vector.validation import (
    INCLUDE_FIELDS,
    Document,
    embedding_array,
    validate_batch,
    validate_embedding,
    validate_id,
    validate_include,
    validate_metadata,
    validate_text,
    validate_top_k,
    validate_where,
)

__all__ = ["DEFAULT_HNSW", "SearchResult", "StoredDocument", "VectorDB", "create_vector_db"]

#: HNSW settings used when a collection is created (Chroma's own defaults; see docs/vector.md).
DEFAULT_HNSW: dict[str, int] = {"ef_construction": 100, "ef_search": 100, "max_neighbors": 16}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
_META_DIMENSION = "conduit_dimension"
_META_METRIC = "conduit_metric"
_CHROMA_INCLUDE = {"metadata": "metadatas", "document": "documents"}
Exact = Literal["auto"] | bool


@dataclass(frozen=True)
class SearchResult:
    """One hit: the document ``id``, its ``score`` (larger is closer, see
    :mod:`conduit_vector.scoring`), its ``metadata``, Chroma's raw ``distance`` and the
    stored ``document`` text (None when only a vector was added). A search with
    ``include=`` leaving out ``"metadata"`` or ``"document"`` gives ``{}`` or None there."""

    id: str
    score: float
    metadata: dict[str, Any]
    distance: float = 0.0
    document: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredDocument:
    """A document as stored: metadata, text and (when asked for) its vector."""

    id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    document: str | None = None
    embedding: list[float] | None = None


def _collection_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ConfigurationError(
            f"collection name {name!r} is not valid for Chroma: use 3-512 characters from "
            "[A-Za-z0-9._-], starting and ending with a letter or digit"
        )
    return name


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer; got {value!r}")
    return value


def _clear_stale(documents: list[Document], existing: Mapping[str, Any], metadatas: list[dict[str, Any] | None],
                 texts: list[str | None]) -> None:
    """Chroma's upsert merges metadata and keeps old text: clear what each new row lacks."""
    position = {d.id: i for i, d in enumerate(documents)}
    for doc_id, old_meta, old_text in zip(existing["ids"], existing["metadatas"] or [], existing["documents"] or []):
        i = position[doc_id]
        stale = {key: None for key in (old_meta or {}) if key not in documents[i].metadata}
        if stale:
            metadatas[i] = {**stale, **(metadatas[i] or {})}
        if old_text and texts[i] is None:
            texts[i] = ""

class VectorDB:
    """A vector database backed by one Chroma collection.

    Build it with :func:`create_vector_db`. Methods are thread-safe as far as chromadb's
    are; writes of one call are checked whole before anything is written.
    """

    def __init__(
        self,
        client: Any,
        collection: Any,
        *,
        dimension: int,
        metric: str,
        mode: Mode,
        embedder: Any = None,
        private: bool = False,
        exact: Exact = False,
        exact_threshold: int = 0,
        exact_index: ExactIndex | None = None,
    ) -> None:
        self.client = client
        self.collection = collection
        self.dimension = dimension
        self.metric = metric
        self.mode: Mode = mode
        self._embedder = embedder if not isinstance(embedder, str) else None
        self._embedder_name = embedder if isinstance(embedder, str) else None
        self._embedder_lock = threading.Lock()
        self._private = private
        self._batch_size: int | None = None
        self._closed = False
        self.exact: Exact = exact
        self.exact_threshold = exact_threshold
        self._exact_index = exact_index

    def __repr__(self) -> str:
        return (
            f"VectorDB(collection={self.collection_name!r}, dimension={self.dimension}, "
            f"metric={self.metric!r}, mode={self.mode!r})"
        )

    @property
    def collection_name(self) -> str:
        return str(self.collection.name)

    @property
    def hnsw(self) -> dict[str, Any]:
        """The collection's HNSW settings as Chroma stored them (space, ef_search, ...)."""
        config = self.collection.configuration_json or {}
        return dict(config.get("hnsw") or {})

    # --- writing ------------------------------------------------------------------------

    def add_document(
        self, doc_id: str, embedding: Sequence[float], metadata: Mapping[str, Any] | None = None, *, text: str | None = None
    ) -> None:
        """Add one document; an id that exists already is a ConflictError (use :meth:`upsert`)."""
        self._write([self._one(doc_id, embedding, metadata, text)], replace=False)

    def add_documents(self, documents: Iterable[Document | Mapping[str, Any]]) -> list[str]:
        """Add many documents (``Document`` or ``{"id", "embedding", "metadata"?, "text"?}``).

        The batch is checked whole first: a bad row, a repeated id or an id already stored
        rejects all of it. Returns the ids written.
        """
        return self._write(validate_batch(documents, self.dimension), replace=False)

    def upsert(
        self, doc_id: str, embedding: Sequence[float], metadata: Mapping[str, Any] | None = None, *, text: str | None = None
    ) -> None:
        """Add a document, or replace it (vector, metadata and text) when the id exists."""
        self._write([self._one(doc_id, embedding, metadata, text)], replace=True)

    def upsert_documents(self, documents: Iterable[Document | Mapping[str, Any]]) -> list[str]:
        """Add or replace many documents; checked whole first, as :meth:`add_documents`."""
        return self._write(validate_batch(documents, self.dimension), replace=True)

    def _one(self, doc_id: Any, embedding: Any, metadata: Any, text: Any) -> Document:
        clean_id = validate_id(doc_id)
        vector = validate_embedding(embedding, self.dimension)
        return Document(clean_id, vector, validate_metadata(metadata), None if text is None else validate_text(text))

    def _max_batch(self) -> int:
        if self._batch_size is None:
            with self._chroma("reading the batch limit"):
                self._batch_size = max(1, int(self.client.get_max_batch_size()))
        return self._batch_size

    def _write(self, documents: list[Document], *, replace: bool) -> list[str]:
        if not documents:
            return []
        with self._write_lock():
            return self._write_locked(documents, replace=replace)

    def _write_lock(self) -> Any:
        """Writers of a database with an exact copy take turns, so the copy sees writes in
        Chroma's order; without one, Chroma's own locking applies."""
        index = self._exact_index
        return index.write_lock if index is not None else contextlib.nullcontext()

    def _write_locked(self, documents: list[Document], *, replace: bool) -> list[str]:
        ids = [d.id for d in documents]
        with self._chroma("writing documents"):
            existing = self.collection.get(ids=ids, include=["metadatas", "documents"] if replace else [])
        if not replace and existing["ids"]:
            found = existing["ids"]
            shown = ", ".join(repr(i) for i in found[:10]) + (" ..." if len(found) > 10 else "")
            raise ConflictError(
                f"{len(found)} document id(s) already exist", f"ids {shown}; use upsert to replace documents"
            )
        metadatas: list[dict[str, Any] | None] = [dict(d.metadata) or None for d in documents]
        texts: list[str | None] = [d.text for d in documents]
        if replace and existing["ids"]:
            _clear_stale(documents, existing, metadatas, texts)
        self._write_batches(documents, ids, metadatas, texts, replace=replace)
        return ids

    def _write_batches(self, documents: list[Document], ids: list[str], metadatas: list[dict[str, Any] | None],
                       texts: list[str | None], *, replace: bool) -> None:
        """Add or upsert in Chroma's largest batches, and into the exact copy alongside."""
        write = self.collection.upsert if replace else self.collection.add
        step = self._max_batch()
        vectors = np.asarray([d.embedding for d in documents], dtype=np.float32)
        index = self._exact_index
        with self._chroma("writing documents"), _stale_on_error(index):
            for start in range(0, len(documents), step):
                end = start + step
                chunk_meta = metadatas[start:end]
                chunk_text = texts[start:end]
                write(
                    ids=ids[start:end],
                    embeddings=vectors[start:end],
                    metadatas=chunk_meta if any(m is not None for m in chunk_meta) else None,
                    documents=chunk_text if any(t is not None for t in chunk_text) else None,
                )
                if index is not None:
                    index.upsert(ids[start:end], vectors[start:end], [d.metadata for d in documents[start:end]],
                                 [d.text for d in documents[start:end]])

    # --- reading ------------------------------------------------------------------------

    def search(
        self,
        query_embedding: Sequence[float],
        top_k: int = 5,
        where: Mapping[str, Any] | None = None,
        *,
        include: Sequence[str] = INCLUDE_FIELDS,
        exact: bool | None = None,
    ) -> list[SearchResult]:
        """The ``top_k`` nearest documents, best first, optionally filtered by metadata
        (Chroma's ``where`` syntax: ``{"lang": "en"}``, ``{"year": {"$gte": 2020}}``,
        ``{"$and": [...]}``).

        ``include``: what to fetch besides ids, distances and scores: ``"metadata"``,
        ``"document"`` (both by default); ``include=()`` skips Chroma's metadata and text
        fetch. ``exact``: None follows the database's ``exact`` setting, True searches the
        exact numpy copy, False Chroma's HNSW index (see docs/vector.md, "Exact search").
        """
        vector = embedding_array(query_embedding, self.dimension, what="query embedding")
        return self._query(vector, validate_top_k(top_k), validate_where(where), validate_include(include), exact)

    def _uses_exact(self, where: dict[str, Any] | None, exact: bool | None) -> bool:
        if exact is None:
            if self._exact_index is None or self.exact is False:
                return False
            return self.exact is True or where is not None or len(self._exact_index) <= self.exact_threshold
        if exact is not True and exact is not False:
            raise ConfigurationError(f"exact must be None, True or False; got {exact!r}")
        if exact and self._exact_index is None:
            raise ConfigurationError(
                "exact search needs the in-process copy of the vectors, which this database does not keep",
                "open it with exact='auto' or exact=True (in memory or path=; a Chroma server has other writers)"
                if self.mode != "http"
                else "a Chroma server (url=) has other writers, so only its HNSW search is available",
            )
        return exact

    def _query(
        self,
        vector: np.ndarray,
        top_k: int,
        where: dict[str, Any] | None,
        include: tuple[str, ...] = INCLUDE_FIELDS,
        exact: bool | None = None,
    ) -> list[SearchResult]:
        from conduit.telemetry import span

        use_exact = self._uses_exact(where, exact)
        attributes = {
            "db.collection.name": self.collection_name,
            "top_k": top_k,
            "metric": self.metric,
            "filtered": where is not None,
            "exact": use_exact,
        }
        with span("vector.search", attributes):
            if use_exact:
                return self._exact_query(vector, top_k, where, include)
            return self._hnsw_query(vector, top_k, where, include)

    def _hnsw_query(
        self, vector: np.ndarray, top_k: int, where: dict[str, Any] | None, include: tuple[str, ...]
    ) -> list[SearchResult]:
        with _where_errors(where, " in query."), self._chroma("searching"):
            found = self.collection.query(
                query_embeddings=[vector.astype(np.float32)],
                n_results=top_k,
                where=where,
                include=[_CHROMA_INCLUDE[f] for f in include] + ["distances"],
            )
        ids = found["ids"][0]
        distances = (found.get("distances") or [[]])[0]
        metadatas = (found.get("metadatas") or [[None] * len(ids)])[0]
        documents = (found.get("documents") or [[None] * len(ids)])[0]
        return [
            SearchResult(
                id=doc_id,
                score=score_from_distance(self.metric, float(distance)),
                metadata=dict(metadata or {}),
                distance=float(distance),
                document=document or None,
            )
            for doc_id, distance, metadata, document in zip(ids, distances, metadatas, documents)
        ]

    def _exact_query(
        self, vector: np.ndarray, top_k: int, where: dict[str, Any] | None, include: tuple[str, ...]
    ) -> list[SearchResult]:
        index = self._exact_index
        assert index is not None
        if index.stale:  # a write failed half-way: read the copy again from Chroma
            with index.write_lock, self._chroma("reading the vectors"):
                if index.stale:
                    index.load(self.collection)
        allowed = None
        if where is not None:
            with _where_errors(where, " in get."), self._chroma("searching"):
                allowed = self.collection.get(where=where, include=[])["ids"]
        metadata, document = "metadata" in include, "document" in include
        return [
            SearchResult(
                id=doc_id,
                score=score_from_distance(self.metric, distance),
                metadata=meta if metadata else {},
                distance=distance,
                document=text if document else None,
            )
            for doc_id, distance, meta, text in index.search(vector, top_k, allowed)
        ]

    def get_document(self, doc_id: str, *, include_embedding: bool = False) -> StoredDocument:
        """The stored document ``doc_id``; NotFoundError (404) when there is none."""
        validate_id(doc_id)
        include = ["metadatas", "documents"] + (["embeddings"] if include_embedding else [])
        with self._chroma("reading a document"):
            found = self.collection.get(ids=[doc_id], include=include)
        if not found["ids"]:
            raise NotFoundError("document not found", f"no document with id {doc_id!r} in collection {self.collection_name!r}")
        embedding = None
        if include_embedding and found.get("embeddings") is not None:
            embedding = [float(x) for x in found["embeddings"][0]]
        return StoredDocument(
            id=doc_id,
            metadata=dict((found.get("metadatas") or [None])[0] or {}),
            document=(found.get("documents") or [None])[0] or None,
            embedding=embedding,
        )

    def get_document_count(self) -> int:
        """How many documents the collection holds."""
        with self._chroma("counting documents"):
            return int(self.collection.count())

    def __len__(self) -> int:
        return self.get_document_count()

    def list_ids(self, where: Mapping[str, Any] | None = None, limit: int | None = None) -> list[str]:
        """Ids of stored documents, optionally only those matching a metadata filter."""
        clean = validate_where(where)
        with _where_errors(clean, " in get."), self._chroma("listing documents"):
            found = self.collection.get(where=clean, limit=limit, include=[])
        return list(found["ids"])

    def delete_document(self, doc_id: str) -> bool:
        """Remove ``doc_id``; False when there was no such document."""
        return self.delete_documents([doc_id]) == 1

    def delete_documents(self, ids: Iterable[str]) -> int:
        """Remove documents by id; returns how many of them existed."""
        wanted = list(dict.fromkeys(validate_id(i, index=n) for n, i in enumerate(ids)))
        if not wanted:
            return 0
        index = self._exact_index
        with self._write_lock(), self._chroma("deleting documents"):
            existing = self.collection.get(ids=wanted, include=[])["ids"]
            if existing:
                with _stale_on_error(index):
                    self.collection.delete(ids=existing)
                    if index is not None:
                        index.delete(existing)
        return len(existing)

    # --- text ---------------------------------------------------------------------------

    @property
    def embedder(self) -> Any:
        """The text embedder: the one given to :func:`create_vector_db`, else the default
        one offered through ``conduit_register_embedders`` (MissingPluginError naming the
        command that installs conduit-onnx when none is installed)."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    from conduit.ml import get_embedder

                    embedder = get_embedder(self._embedder_name)
                    self._check_embedder(embedder)
                    self._embedder = embedder
        return self._embedder

    def has_embedder(self) -> bool:
        """Whether text can be embedded (an embedder was given or a plugin offers one)."""
        if self._embedder is not None:
            return True
        from conduit.ml import list_embedders

        return bool(list_embedders())

    def _check_embedder(self, embedder: Any) -> None:
        if not callable(getattr(embedder, "embed", None)):
            raise ConfigurationError(
                f"embedder {type(embedder).__name__} has no embed(texts) method; pass an object with "
                "embed(list[str]) -> list[list[float]]"
            )
        size = getattr(embedder, "dimension", None)
        if isinstance(size, int) and size != self.dimension:
            raise ConfigurationError(
                f"the embedder makes {size}-dimensional vectors but this database holds {self.dimension}; "
                f"create the database with dimension={size}"
            )

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for ``texts`` from :attr:`embedder`, checked against the dimension."""
        vectors = self.embedder.embed(list(texts))
        if len(vectors) != len(texts):
            raise ConfigurationError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
        return [validate_embedding(v, self.dimension, what="embedder's vector") for v in vectors]

    def _text_batch(self, items: Iterable[Any]) -> list[Document]:
        rows: list[tuple[str, str, dict[str, Any]]] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            if isinstance(item, Mapping):
                unknown = set(item) - {"id", "text", "metadata"}
                if unknown:
                    raise ValidationError(f"document {index}: unknown fields {sorted(unknown)}", "send id, text and metadata")
                doc_id, text, metadata = item.get("id"), item.get("text"), item.get("metadata")
            elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
                doc_id, text, metadata = item[0], item[1], item[2] if len(item) == 3 else None
            else:
                raise ValidationError(f"document {index} must be an object with id and text", f"got {type(item).__name__}")
            doc_id = validate_id(doc_id, index=index)
            prefix = f"document {index} ({doc_id!r}): "
            if doc_id in seen:
                raise ValidationError(f"{prefix}the id appears twice in the batch", "send each id once")
            seen.add(doc_id)
            rows.append((doc_id, validate_text(text, prefix=prefix), validate_metadata(metadata, prefix=prefix)))
        if not rows:
            return []
        vectors = self.embed([text for _, text, _ in rows])
        return [Document(doc_id, vector, metadata, text) for (doc_id, text, metadata), vector in zip(rows, vectors)]

    def add_text(self, doc_id: str, text: str, metadata: Mapping[str, Any] | None = None) -> None:
        """Embed ``text`` and add it (the text is stored with the vector)."""
        self._write(self._text_batch([(doc_id, text, metadata)]), replace=False)

    def add_texts(self, items: Iterable[Mapping[str, Any] | tuple[Any, ...]]) -> list[str]:
        """Embed and add many texts: ``{"id", "text", "metadata"?}`` or ``(id, text[, metadata])``."""
        return self._write(self._text_batch(items), replace=False)

    def upsert_text(self, doc_id: str, text: str, metadata: Mapping[str, Any] | None = None) -> None:
        self._write(self._text_batch([(doc_id, text, metadata)]), replace=True)

    def upsert_texts(self, items: Iterable[Mapping[str, Any] | tuple[Any, ...]]) -> list[str]:
        return self._write(self._text_batch(items), replace=True)

    def search_text(
        self,
        text: str,
        top_k: int = 5,
        where: Mapping[str, Any] | None = None,
        *,
        include: Sequence[str] = INCLUDE_FIELDS,
        exact: bool | None = None,
    ) -> list[SearchResult]:
        """Embed ``text`` and :meth:`search` with it (same options)."""
        query = validate_text(text, what="query text")
        top_k = validate_top_k(top_k)
        clean_where = validate_where(where)
        fields = validate_include(include)
        self._uses_exact(clean_where, exact)  # a wrong exact= fails before the embedder runs
        vector = embedding_array(self.embed([query])[0], self.dimension, what="embedder's vector")
        return self._query(vector, top_k, clean_where, fields, exact)

    # --- lifecycle ----------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Collection, dimension, metric, mode, document count and HNSW settings."""
        return {
            "collection": self.collection_name,
            "dimension": self.dimension,
            "metric": self.metric,
            "mode": self.mode,
            "count": self.get_document_count(),
            "hnsw": {k: v for k, v in self.hnsw.items() if k in ("space", "ef_search", "ef_construction", "max_neighbors")},
            "exact": {
                "setting": self.exact,
                "threshold": self.exact_threshold,
                "vectors": None if self._exact_index is None else len(self._exact_index),
            },
        }

    def drop(self) -> None:
        """Delete the whole collection and close the database."""
        with self._chroma("deleting the collection"):
            self._empty()
            self.client.delete_collection(self.collection_name)
        if self._exact_index is not None:
            self._exact_index.clear()
        self._private = False
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release the Chroma client. An in-memory database with a generated collection
        name is private to this object, so its collection is deleted too."""
        if self._closed:
            return
        self._closed = True
        self._exact_index = None
        if self._private:
            with contextlib.suppress(Exception):
                self._empty()
                self.client.delete_collection(self.collection_name)
        close_client(self.client)

    def _empty(self) -> None:
        """Delete every row before the collection: chromadb 1.5.9's delete_collection leaves
        list-valued metadata behind in SQLite, and the next collection's rows inherit it."""
        step = self._max_batch()
        while ids := self.collection.get(limit=step, include=[])["ids"]:
            self.collection.delete(ids=ids)

    def __enter__(self) -> VectorDB:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _chroma(self, action: str) -> Iterator[None]:
        """Turn an unreachable Chroma server into a 503 naming what failed."""
        if self._closed:
            raise ConfigurationError(
                f"{action} failed: this VectorDB was closed; open the store again with create_vector_db"
            )
        try:
            yield
        except HTTPError:
            raise
        except Exception as exc:
            if is_unavailable(exc):
                raise ServiceUnavailableError(
                    "the vector store is unreachable", f"{action} failed: the Chroma server did not answer; retry later"
                ) from exc
            raise


@contextlib.contextmanager
def _where_errors(where: dict[str, Any] | None, suffix: str) -> Iterator[None]:
    """Chroma's refusal of a ``where`` filter as a 422 whose detail is Chroma's explanation."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        if where is None:
            raise
        raise ValidationError("invalid where filter", str(exc).removesuffix(suffix)) from exc
    except Exception as exc:
        if where is not None and type(exc).__name__ == "InvalidArgumentError":
            raise ValidationError("invalid where filter", str(exc)) from exc
        raise


@contextlib.contextmanager
def _stale_on_error(index: ExactIndex | None) -> Iterator[None]:
    """A write that fails half-way leaves Chroma with part of it: the exact copy is read
    again from Chroma before its next search."""
    try:
        yield
    except BaseException:
        if index is not None:
            index.stale = True
        raise


def _exact_setting(exact: Any, threshold: Any, dimension: int, mode: Mode) -> tuple[Exact, int]:
    if exact not in ("auto", True, False) or (exact is not True and exact is not False and exact != "auto"):
        raise ConfigurationError(f"exact must be 'auto', True or False; got {exact!r}")
    if threshold is None:
        threshold = DEFAULT_EXACT_NUMBERS // dimension
    elif isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ConfigurationError(f"exact_threshold must be a number of vectors (0 or more); got {threshold!r}")
    if exact is True and mode == "http":
        raise ConfigurationError(
            "exact=True needs a collection this process owns (in memory or path=); a Chroma server (url=) has "
            "other writers, so use exact='auto' or False there"
        )
    return exact, threshold


def _hnsw(options: Mapping[str, Any]) -> dict[str, int]:
    settings = dict(DEFAULT_HNSW)
    for key, value in options.items():
        if value is not None:
            settings[key] = _positive(key, value)
    return settings


def create_vector_db(
    dimension: int = 384,
    metric: str = "cosine",
    *,
    collection: str | None = None,
    path: str | os.PathLike[str] | None = None,
    url: str | None = None,
    embedder: Any = None,
    ef_construction: int | None = None,
    ef_search: int | None = None,
    max_neighbors: int | None = None,
    headers: Mapping[str, str] | None = None,
    tenant: str | None = None,
    database: str | None = None,
    settings: Any = None,
    exact: Exact = "auto",
    exact_threshold: int | None = None,
) -> VectorDB:
    """Open (or create) a vector database.

    - ``dimension``: length of every vector; ``metric``: ``"cosine"``, ``"euclidean"`` or
      ``"dot"`` (Chroma's ``cosine``, ``l2``, ``ip`` spaces).
    - Where: in memory by default; ``path=`` a folder (persistent); ``url=`` a Chroma
      server. When neither is given, the ``vector_path`` / ``vector_url`` settings
      (``CONDUIT_VECTOR_PATH`` / ``CONDUIT_VECTOR_URL``) apply.
    - ``collection``: the Chroma collection (default ``"conduit"`` on disk or on a server;
      in memory, a fresh private collection per call, deleted on :meth:`VectorDB.close`).
      Reopening a collection with another metric or dimension is a ConfigurationError.
    - ``embedder``: an object with ``embed(texts)``, or an embedder name; default: the
      one offered by a plugin, resolved on first text use.
    - HNSW settings (``ef_construction``, ``ef_search``, ``max_neighbors``) apply when the
      collection is created; an existing collection keeps its own.
    - ``exact``: ``"auto"`` (default) keeps an in-process numpy copy of the vectors of an
      in-memory or on-disk collection (read from Chroma on open) and searches it exactly
      when the collection holds at most ``exact_threshold`` vectors (default
      4,000,000 ÷ ``dimension``: 10,416 at 384-d) and for every ``where``-filtered search;
      True searches it always; False keeps no copy (HNSW only). On a Chroma server
      (``url=``) ``"auto"`` keeps no copy: other writers exist there.
    """
    dimension = _positive("dimension", dimension)
    space = chroma_space(metric)
    metric = metric_of_space(space)
    if path is None and url is None and settings is not None:
        url = settings.get("vector_url") or None
        path = None if url else (settings.get("vector_path") or None)
    private = collection is None and path is None and url is None
    name = _collection_name(collection if collection is not None else (f"conduit-{uuid.uuid4().hex}" if private else "conduit"))
    hnsw = _hnsw({"ef_construction": ef_construction, "ef_search": ef_search, "max_neighbors": max_neighbors})
    mode_wanted: Mode = "http" if url is not None else ("persistent" if path is not None else "memory")
    exact, threshold = _exact_setting(exact, exact_threshold, dimension, mode_wanted)
    client, mode = open_client(path=path, url=url, headers=headers, tenant=tenant, database=database)
    try:
        try:
            handle = client.get_or_create_collection(
                name,
                configuration={"hnsw": {"space": space, **hnsw}},
                metadata={_META_DIMENSION: dimension, _META_METRIC: metric},
                embedding_function=None,
            )
        except Exception as exc:
            if is_unavailable(exc):
                raise ServiceUnavailableError(
                    "the vector store is unreachable", "the Chroma server did not answer; retry later"
                ) from exc
            raise
        _check_existing(handle, name, dimension, space)
        index = None
        if exact is not False and mode != "http":
            place = "memory" if path is None else os.path.realpath(os.fspath(path))
            index = shared_index((place, str(handle.id)), dimension, space, lambda fresh: fresh.load(handle))
    except BaseException:
        close_client(client)
        raise
    return VectorDB(
        client, handle, dimension=dimension, metric=metric, mode=mode, embedder=embedder, private=private,
        exact=exact, exact_threshold=threshold, exact_index=index,
    )


def _check_existing(handle: Any, name: str, dimension: int, space: str) -> None:
    stored_space = ((handle.configuration_json or {}).get("hnsw") or {}).get("space")
    if stored_space is not None and stored_space != space:
        raise ConfigurationError(
            f"collection {name!r} was created with metric {metric_of_space(stored_space)!r}; open it with "
            f"metric={metric_of_space(stored_space)!r} or use another collection"
        )
    stored_dimension = (handle.metadata or {}).get(_META_DIMENSION)
    if isinstance(stored_dimension, int) and stored_dimension != dimension:
        raise ConfigurationError(
            f"collection {name!r} holds {stored_dimension}-dimensional vectors; open it with "
            f"dimension={stored_dimension} or use another collection"
        )
