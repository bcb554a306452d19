"""``vector_endpoints(app, db, prefix="/vectors")``: a VectorDB over HTTP in one call.

Routes (``{p}`` is the prefix; bodies and answers are JSON, typed in OpenAPI):

====== =========================== ==========================================================
POST   ``{p}/documents``           add ``{"documents": [{"id", "embedding", "metadata"?,
                                   "text"?}]}``; 201; an id already stored is 409
PUT    ``{p}/documents``           upsert (add or replace) the same body; 200
POST   ``{p}/search``              ``{"embedding", "top_k"?, "where"?, "include"?}`` -> ``{"results": [...]}``
GET    ``{p}/documents/{id}``      one stored document (metadata and text); 404 when missing
DELETE ``{p}/documents/{id}``      ``{"deleted": true}``; 404 when missing
GET    ``{p}/count``               ``{"count", "collection", "dimension", "metric"}``
POST   ``{p}/texts``               add ``{"documents": [{"id", "text", "metadata"?}]}``,
                                   embedded on the server (only with an embedder)
PUT    ``{p}/texts``               upsert texts (only with an embedder)
POST   ``{p}/search/text``         ``{"text", "top_k"?, "where"?, "include"?}`` (only with an embedder)
====== =========================== ==========================================================

Every search is recorded with ``MLMetrics.track_vector_search`` (labelled by collection).
Bad input answers 422 naming the problem; an unreachable Chroma server answers 503.

The OpenAPI document states each body exactly (:func:`request_schemas`): the database's
dimension, the batch and ``top_k`` limits, the metadata Chroma stores, the ``where``
filter grammar, no unknown fields. Beyond what :mod:`conduit_vector.validation` checks, the
HTTP layer refuses what Chroma would fail on or answer with NaN: metadata keys starting
with ``#`` or ``$`` (Chroma's reserved prefixes), vector components beyond
:data:`MAX_COMPONENT` in magnitude (Chroma computes distances in 32-bit floats). JSON has
one number type, so a list mixing integers and fractions (``[1, 2.5]``) is taken as a list
of floats, and ``top_k: 2.0`` as ``2``. An id twice in one batch answers 409 (a conflict
within the batch, as an id already stored is for ``POST``), for ``POST`` and ``PUT`` alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from conduit.framework.errors import ConflictError, NotFoundError, ValidationError
from conduit_vector.store import SearchResult, VectorDB
from conduit_vector.validation import INCLUDE_FIELDS, MAX_COMPONENT, validate_include, validate_top_k

__all__ = [
    "MAX_COMPONENT",
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
    "request_schemas",
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
    """Nearest neighbours of ``embedding``; ``where`` filters on metadata (Chroma syntax);
    ``include`` lists what to return besides ids and scores (``[]`` is the cheapest)."""

    top_k: int
    where: dict[str, Any]
    include: list[str]


class _TextSearchRequired(TypedDict):
    text: str


class TextSearchRequest(_TextSearchRequired, total=False):
    """Nearest neighbours of a text, embedded on the server; ``include`` as for a vector search."""

    top_k: int
    where: dict[str, Any]
    include: list[str]


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

# A character Python does not strip and JSON Schema (ECMA-262 \s) does not call space.
_NON_BLANK = r"[^\s\x1c-\x1f\x85]"
_INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
_FLOAT = {"type": "number", "minimum": -1.7976931348623157e308, "maximum": 1.7976931348623157e308}
_ID = {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": _NON_BLANK, "description": "a non-blank string"}
_TEXT = {"type": "string", "minLength": 1, "pattern": _NON_BLANK, "description": "at least one non-blank character"}
_SCALAR = {"anyOf": [{"type": "string"}, _INT64, _FLOAT, {"type": "boolean"}]}
_LISTS = [{"type": "array", "minItems": 1, "items": item} for item in ({"type": "string"}, _INT64, _FLOAT,
                                                                        {"type": "boolean"})]
_KEY = {"minLength": 1, "pattern": r"^[^#$]", "not": {"pattern": "^chroma:"}}
_METADATA = {
    "type": "object", "propertyNames": _KEY, "additionalProperties": {"anyOf": [_SCALAR, *_LISTS]},
    "description": "flat: a str, int, float or bool, or a non-empty list of one of those, per key; keys do not "
                   "start with '#', '$' or 'chroma:'",
}


def _operator(name: str, operand: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {name: operand}, "required": [name], "additionalProperties": False}


_CONDITION = {"anyOf": [
    _SCALAR,
    *(_operator(op, _SCALAR) for op in ("$eq", "$ne", "$contains", "$not_contains")),
    *(_operator(op, {"anyOf": [_INT64, _FLOAT]}) for op in ("$gt", "$gte", "$lt", "$lte")),
    *(_operator(op, {"anyOf": _LISTS}) for op in ("$in", "$nin")),
]}
_FIELD = {"type": "object", "minProperties": 1, "maxProperties": 1, "propertyNames": {"pattern": r"^[^#$]"},
          "additionalProperties": _CONDITION}
_WHERE = {
    "description": "a Chroma metadata filter: {field: value}, {field: {$op: value}} ($eq $ne $gt $gte $lt $lte $in "
                   "$nin $contains $not_contains), or {$and|$or: [two or more of those]}; {} is no filter",
    "anyOf": [
        _FIELD,
        *(_operator(op, {"type": "array", "minItems": 2, "items": _FIELD}) for op in ("$and", "$or")),
        {"type": "object", "maxProperties": 0},
    ],
}


def _obj(properties: dict[str, Any], required: list[str], description: str) -> dict[str, Any]:
    return {"type": "object", "description": description, "properties": properties, "required": required,
            "additionalProperties": False}


def request_schemas(dimension: int, max_documents: int = 1000, max_top_k: int = 1000) -> dict[str, dict[str, Any]]:
    """The JSON Schemas of the request bodies ``vector_endpoints`` declares, by name."""
    embedding = {"type": "array", "minItems": dimension, "maxItems": dimension,
                 "items": {"type": "number", "minimum": -MAX_COMPONENT, "maximum": MAX_COMPONENT},
                 "description": f"exactly {dimension} numbers"}
    top_k = {"type": "integer", "minimum": 1, "maximum": max_top_k, "default": 5}
    include = {"type": "array", "items": {"enum": list(INCLUDE_FIELDS)}, "uniqueItems": True,
               "default": list(INCLUDE_FIELDS),
               "description": "what to return besides ids and scores; a field left out comes back empty"}
    document = _obj({"id": _ID, "embedding": embedding, "metadata": _METADATA, "text": _TEXT}, ["id", "embedding"],
                    DocumentIn.__doc__ or "")
    text = _obj({"id": _ID, "text": _TEXT, "metadata": _METADATA}, ["id", "text"], TextIn.__doc__ or "")

    def batch(item: dict[str, Any], description: str) -> dict[str, Any]:
        items = {"type": "array", "minItems": 1, "maxItems": max_documents, "items": item}
        return _obj({"documents": items}, ["documents"], description)

    return {
        "documents": batch(document, DocumentsRequest.__doc__ or ""),
        "texts": batch(text, TextsRequest.__doc__ or ""),
        "search": _obj({"embedding": embedding, "top_k": top_k, "where": _WHERE, "include": include}, ["embedding"],
                       SearchRequest.__doc__ or ""),
        "search_text": _obj({"text": _TEXT, "top_k": top_k, "where": _WHERE, "include": include}, ["text"],
                            TextSearchRequest.__doc__ or ""),
    }


def _object(data: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", f"got a JSON {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(map(repr, unknown))}", f"send only {', '.join(sorted(allowed))}")
    return data


def _numbers(value: Any) -> Any:
    """A list mixing ints and floats as floats (JSON has one number type; Chroma wants one per list)."""
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        if any(isinstance(v, float) for v in value):
            return [float(v) for v in value]
    return value


def _integral(value: Any) -> Any:
    """``2.0`` as ``2``: JSON Schema's integers include numbers with a zero fraction."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _metadata(metadata: Any, prefix: str) -> Any:
    if not isinstance(metadata, dict):
        return metadata  # validation.py explains
    return {key: _numbers(value) for key, value in metadata.items()}


def _where(where: Any) -> Any:
    """``where`` with its operand lists' numbers made one type (see :func:`_numbers`)."""
    if isinstance(where, dict):
        return {key: [_where(w) for w in value] if key in ("$and", "$or") and isinstance(value, list)
                else _where(value) if isinstance(value, dict) else _numbers(value)
                for key, value in where.items()}
    return where


def _documents(data: Any, limit: int, fields: set[str]) -> list[Any]:
    body = _object(data, {"documents"})
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise ValidationError("'documents' must be a non-empty list", f"got {type(documents).__name__}")
    if len(documents) > limit:
        raise ValidationError(f"too many documents in one request (limit {limit})", f"got {len(documents)}; split the batch")
    rows: dict[str, int] = {}
    checked: list[Any] = []
    for index, item in enumerate(documents):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            checked.append(item)  # validation.py explains
            continue
        prefix = f"document {index} ({item['id']!r}): "
        item = {**item, **({"metadata": _metadata(item["metadata"], prefix)} if "metadata" in item else {})}
        if item["id"] in rows:
            raise ConflictError(f"{prefix}the id appears twice in the batch",
                                f"also at document {rows[item['id']]}; send each id once")
        rows[item["id"]] = index
        checked.append(item)
    return checked


def _include(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The body's ``include`` (both fields when absent); a bad value is a 422 naming the fields."""
    value = body.get("include", INCLUDE_FIELDS)
    if not isinstance(value, (list, tuple)):
        raise ValidationError("include must be a list", f"give a list of {list(INCLUDE_FIELDS)} (or [])")
    return validate_include(value)


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

    schemas = request_schemas(db.dimension, max_documents, max_top_k)

    def writer(write: Callable[[list[Any]], list[str]], status: int, summary: str, fields: set[str]) -> Callable[[Any], Any]:
        def handler(request: Any) -> tuple[dict[str, Any], int]:
            ids = write(_documents(request.json(), max_documents, fields))
            return {"ids": ids, "count": len(ids)}, status

        handler.__doc__ = summary
        return handler

    def search(request: Any) -> dict[str, Any]:
        """Find the documents nearest to a vector, best first."""
        body = _object(request.json(), {"embedding", "top_k", "where", "include"})
        top_k = validate_top_k(_integral(body.get("top_k", 5)), max_top_k)
        embedding: Any = body.get("embedding")
        dims = len(embedding) if isinstance(embedding, list) else 0
        where, include = _where(body.get("where")), _include(body)
        return search_with(lambda: db.search(embedding, top_k=top_k, where=where, include=include), dims)

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
        if method in ("POST", "PUT", "DELETE") and not name.startswith("search"):
            meta.setdefault("risk", "writes to the vector store")
        app.add_route(f"{base}{path}", handler, [method], name=f"{slug}_{name}", tags=tags, **meta)

    conflict = {**_422, **_503, 409: _error_doc("A document id is already stored, or twice in the batch; use PUT to "
                                                "replace")}
    vectors = {"embedding"}
    add("/documents", writer(db.add_documents, 201, "Add documents (vectors with metadata); any id already stored "
        "(or twice in the batch) rejects the batch with 409.", vectors), "POST", "add_documents",
        body=schemas["documents"], status_code=201, response=WriteResponse, responses=conflict)
    twice = {**_422, **_503, 409: _error_doc("A document id is twice in the batch")}
    add("/documents", writer(db.upsert_documents, 200, "Add documents, or replace those whose id is already stored; "
        "an id twice in the batch is 409.", vectors), "PUT", "upsert_documents", body=schemas["documents"],
        response=WriteResponse, responses=twice)
    add("/search", search, "POST", "search", body=schemas["search"], response=SearchResponse,
        responses={**_422, **_503})
    add("/documents/{doc_id:path}", get_document, "GET", "get_document", response=StoredDocumentResponse,
        responses=dict(_503))
    add("/documents/{doc_id:path}", delete_document, "DELETE", "delete_document", response=DeleteResponse,
        responses=dict(_503))
    add("/count", count, "GET", "count", response=CountResponse, responses=dict(_503))

    if text:

        def search_text(request: Any) -> dict[str, Any]:
            """Find the documents nearest to a text, embedded on the server."""
            body: Mapping[str, Any] = _object(request.json(), {"text", "top_k", "where", "include"})
            top_k = validate_top_k(_integral(body.get("top_k", 5)), max_top_k)
            where, include = _where(body.get("where")), _include(body)
            text: Any = body.get("text")  # search_text validates it
            return search_with(lambda: db.search_text(text, top_k=top_k, where=where, include=include),
                               db.dimension)

        add("/texts", writer(db.add_texts, 201, "Embed texts on the server and add them; any id already stored "
            "(or twice in the batch) rejects the batch with 409.", set()), "POST", "add_texts", body=schemas["texts"],
            status_code=201, response=WriteResponse, responses=conflict)
        add("/texts", writer(db.upsert_texts, 200, "Embed texts on the server and add or replace them; an id twice "
            "in the batch is 409.", set()), "PUT", "upsert_texts", body=schemas["texts"],
            response=WriteResponse, responses=twice)
        add("/search/text", search_text, "POST", "search_text", body=schemas["search_text"], response=SearchResponse,
            responses={**_422, **_503})

    if close_on_shutdown:
        app.on_shutdown(db.close)
    return db
