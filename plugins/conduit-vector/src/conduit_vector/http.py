"""``vector_endpoints(app, db, prefix="/vectors")``: a VectorDB over HTTP in one call.

Routes (``{p}`` is the prefix; bodies and answers are JSON, typed in OpenAPI):

====== =========================== ==========================================================
POST   ``{p}/documents``           add ``{"documents": [{"id", "embedding", "metadata"?,
                                   "text"?}]}``; 201; an id already stored is 409
PUT    ``{p}/documents``           upsert (add or replace) the same body; 200
POST   ``{p}/search``              ``{"embedding", "top_k"?, "where"?}`` -> ``{"results": [...]}``
GET    ``{p}/documents/{id}``      one stored document (metadata and text); 404 when missing
DELETE ``{p}/documents/{id}``      ``{"deleted": true}``; 404 when missing
GET    ``{p}/count``               ``{"count", "collection", "dimension", "metric"}``
POST   ``{p}/texts``               add ``{"documents": [{"id", "text", "metadata"?}]}``,
                                   embedded on the server (only with an embedder)
PUT    ``{p}/texts``               upsert texts (only with an embedder)
POST   ``{p}/search/text``         ``{"text", "top_k"?, "where"?}`` (only with an embedder)
====== =========================== ==========================================================

Every search is recorded with ``MLMetrics.track_vector_search`` (labelled by collection).
Bad input answers 422 naming the problem; an unreachable Chroma server answers 503.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, TypedDict

from conduit.framework.errors import NotFoundError, ValidationError

from conduit_vector.store import SearchResult, VectorDB
from conduit_vector.validation import validate_top_k

__all__ = [
    "CountResponse",
    "DeleteResponse",
    "DocumentIn",
    "DocumentsRequest",
    "SearchHit",
    "SearchRequest",
    "SearchResponse",
    "StoredDocumentResponse",
    "TextIn",
    "TextSearchRequest",
    "TextsRequest",
    "WriteResponse",
    "vector_endpoints",
]


class _DocumentInRequired(TypedDict):
    id: str
    embedding: list[float]


class DocumentIn(_DocumentInRequired, total=False):
    """A document to store: its id, its vector, flat metadata and (optionally) its text."""

    metadata: dict[str, Any]
    text: str


class DocumentsRequest(TypedDict):
    """A batch of documents, written whole or not at all."""

    documents: list[DocumentIn]


class _TextInRequired(TypedDict):
    id: str
    text: str


class TextIn(_TextInRequired, total=False):
    """A text to embed on the server and store with its vector."""

    metadata: dict[str, Any]


class TextsRequest(TypedDict):
    """A batch of texts, embedded and written whole or not at all."""

    documents: list[TextIn]


class WriteResponse(TypedDict):
    """The ids written and how many."""

    ids: list[str]
    count: int


class _SearchRequired(TypedDict):
    embedding: list[float]


class SearchRequest(_SearchRequired, total=False):
    """Nearest neighbours of ``embedding``; ``where`` filters on metadata (Chroma syntax)."""

    top_k: int
    where: dict[str, Any]


class _TextSearchRequired(TypedDict):
    text: str


class TextSearchRequest(_TextSearchRequired, total=False):
    """Nearest neighbours of a text, embedded on the server."""

    top_k: int
    where: dict[str, Any]


class SearchHit(TypedDict):
    """One hit: ``score`` is larger for closer documents (see docs/vector.md)."""

    id: str
    score: float
    distance: float
    metadata: dict[str, Any]
    document: str | None


class SearchResponse(TypedDict):
    results: list[SearchHit]
    took_ms: float


class StoredDocumentResponse(TypedDict):
    id: str
    metadata: dict[str, Any]
    document: str | None


class DeleteResponse(TypedDict):
    id: str
    deleted: bool


class CountResponse(TypedDict):
    count: int
    collection: str
    dimension: int
    metric: str


def _error_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_422 = {422: _error_doc("The input is invalid; the detail names the problem")}
_503 = {503: _error_doc("The Chroma server could not be reached")}


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", f"got a JSON {type(data).__name__}")
    return data


def _documents(data: Any, limit: int) -> list[Any]:
    body = _object(data)
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise ValidationError("'documents' must be a non-empty list", f"got {type(documents).__name__}")
    if len(documents) > limit:
        raise ValidationError(f"too many documents in one request (limit {limit})", f"got {len(documents)}; split the batch")
    return documents


def _hits(results: list[SearchResult]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in results]


def vector_endpoints(
    app: Any,
    db: VectorDB,
    prefix: str = "/vectors",
    *,
    metrics: Any = None,
    text: bool | None = None,
    max_documents: int = 1000,
    max_top_k: int = 1000,
    tags: tuple[str, ...] = ("vectors",),
    name: str | None = None,
    close_on_shutdown: bool = True,
) -> VectorDB:
    """Serve ``db`` under ``prefix`` (see the module docstring for the routes).

    ``metrics``: an object with ``track_vector_search`` (default: a
    :class:`conduit.framework.monitoring.MLMetrics` on the process-wide metrics).
    ``text``: add the text routes; by default when ``db`` has an embedder or a plugin
    offers one. ``close_on_shutdown``: close ``db`` when the app shuts down. Returns ``db``.
    """
    if metrics is None:
        from conduit.framework.monitoring import MLMetrics

        metrics = MLMetrics()
    if text is None:
        text = db.has_embedder()
    base = "/" + prefix.strip("/") if prefix.strip("/") else ""
    slug = name or (base.strip("/").replace("/", "_") or "vectors")
    collection = db.collection_name

    def search_with(run: Callable[[], list[SearchResult]], dims: int) -> dict[str, Any]:
        started = time.perf_counter()
        results = run()
        seconds = time.perf_counter() - started
        metrics.track_vector_search(query_dims=dims, result_count=len(results), duration=seconds, collection=collection)
        return {"results": _hits(results), "took_ms": round(seconds * 1000, 3)}

    def writer(write: Callable[[list[Any]], list[str]], status: int, summary: str) -> Callable[[Any], Any]:
        def handler(request: Any) -> tuple[dict[str, Any], int]:
            ids = write(_documents(request.json(), max_documents))
            return {"ids": ids, "count": len(ids)}, status

        handler.__doc__ = summary
        return handler

    def search(request: Any) -> dict[str, Any]:
        """Find the documents nearest to a vector, best first."""
        body = _object(request.json())
        top_k = validate_top_k(body.get("top_k", 5), max_top_k)
        embedding = body.get("embedding")
        dims = len(embedding) if isinstance(embedding, list) else 0
        return search_with(lambda: db.search(embedding, top_k=top_k, where=body.get("where")), dims)

    def get_document(request: Any, doc_id: str) -> dict[str, Any]:
        """Read one stored document's metadata and text."""
        found = db.get_document(doc_id)
        return {"id": found.id, "metadata": found.metadata, "document": found.document}

    def delete_document(request: Any, doc_id: str) -> dict[str, Any]:
        """Delete one document."""
        if not db.delete_document(doc_id):
            raise NotFoundError("document not found", f"no document with id {doc_id!r} in collection {collection!r}")
        return {"id": doc_id, "deleted": True}

    def count(request: Any) -> dict[str, Any]:
        """How many documents the collection holds, and its shape."""
        return {"count": db.get_document_count(), "collection": collection, "dimension": db.dimension, "metric": db.metric}

    def add(path: str, handler: Callable[..., Any], method: str, name: str, **meta: Any) -> None:
        app.add_route(f"{base}{path}", handler, [method], name=f"{slug}_{name}", tags=tags, **meta)

    conflict = {**_422, **_503, 409: _error_doc("A document id is already stored; use PUT to replace it")}
    add("/documents", writer(db.add_documents, 201, "Add documents (vectors with metadata); any id already stored "
        "rejects the batch with 409."), "POST", "add_documents", body=DocumentsRequest, response=WriteResponse,
        responses=conflict)
    add("/documents", writer(db.upsert_documents, 200, "Add documents, or replace those whose id is already stored."),
        "PUT", "upsert_documents", body=DocumentsRequest, response=WriteResponse, responses={**_422, **_503})
    add("/search", search, "POST", "search", body=SearchRequest, response=SearchResponse, responses={**_422, **_503})
    add("/documents/{doc_id:path}", get_document, "GET", "get_document", response=StoredDocumentResponse,
        responses=dict(_503))
    add("/documents/{doc_id:path}", delete_document, "DELETE", "delete_document", response=DeleteResponse,
        responses=dict(_503))
    add("/count", count, "GET", "count", response=CountResponse, responses=dict(_503))

    if text:

        def search_text(request: Any) -> dict[str, Any]:
            """Find the documents nearest to a text, embedded on the server."""
            body: Mapping[str, Any] = _object(request.json())
            top_k = validate_top_k(body.get("top_k", 5), max_top_k)
            return search_with(lambda: db.search_text(body.get("text"), top_k=top_k, where=body.get("where")), db.dimension)

        add("/texts", writer(db.add_texts, 201, "Embed texts on the server and add them; any id already stored "
            "rejects the batch with 409."), "POST", "add_texts", body=TextsRequest, response=WriteResponse,
            responses=conflict)
        add("/texts", writer(db.upsert_texts, 200, "Embed texts on the server and add or replace them."), "PUT",
            "upsert_texts", body=TextsRequest, response=WriteResponse, responses={**_422, **_503})
        add("/search/text", search_text, "POST", "search_text", body=TextSearchRequest, response=SearchResponse,
            responses={**_422, **_503})

    if close_on_shutdown:
        app.on_shutdown(db.close)
    return db
