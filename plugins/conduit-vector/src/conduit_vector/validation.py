"""Checking what goes into a vector database before anything reaches Chroma.

Every check raises :class:`conduit.framework.errors.ValidationError` (HTTP 422) whose
message names the problem and whose detail says what to send instead. Batches are
checked whole before a single row is written, so a bad row never leaves half a batch
behind.

Metadata follows what chromadb 1.5 stores: a flat ``dict`` of string keys to ``str``,
``int``, ``float`` or ``bool`` values, or non-empty lists of one of those types. ``None``
values are refused (Chroma 1.5's writer rejects them), as are non-finite floats, integers
outside 64 bits and keys
starting with ``chroma:`` (reserved by Chroma). An empty dict means "no metadata".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from conduit.framework.errors import ValidationError

__all__ = [
    "INCLUDE_FIELDS",
    "Document",
    "MetadataValue",
    "embedding_array",
    "validate_batch",
    "validate_embedding",
    "validate_id",
    "validate_include",
    "validate_metadata",
    "validate_text",
    "validate_top_k",
    "validate_where",
]

MetadataValue = str | int | float | bool | list[str] | list[int] | list[float] | list[bool]
_SCALARS = (str, int, float, bool)
MAX_ID_LENGTH = 1024
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Document:
    """One row to write: an id, its vector, optional metadata and optional source text."""

    id: str
    embedding: list[float]
    metadata: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


def _where(index: int | None, doc_id: Any = None) -> str:
    if index is None:
        return ""
    return f"document {index} ({doc_id!r}): " if isinstance(doc_id, str) else f"document {index}: "


def validate_id(doc_id: Any, *, index: int | None = None) -> str:
    """A document id: a non-empty string of at most 1024 characters."""
    if not isinstance(doc_id, str):
        raise ValidationError(f"{_where(index)}the document id must be a string", f"got {type(doc_id).__name__}")
    if not doc_id.strip():
        raise ValidationError(f"{_where(index)}the document id is empty", "send a non-blank string id")
    if len(doc_id) > MAX_ID_LENGTH:
        raise ValidationError(
            f"{_where(index)}the document id is too long", f"ids hold at most {MAX_ID_LENGTH} characters; got {len(doc_id)}"
        )
    return doc_id


MAX_COMPONENT = 1e15
"""The largest magnitude of a vector component: Chroma stores vectors and computes
distances in 32-bit floats, and a squared distance over 384+ such components stays finite."""
_PLAIN_NUMBERS = frozenset({float, int})


def _is_number_type(kind: type) -> bool:
    """int, float and numpy's integer and floating scalars; never bool (nor numpy's)."""
    return not issubclass(kind, (bool, np.bool_)) and issubclass(kind, (int, float, np.integer, np.floating))


def _not_a_number(embedding: Sequence[Any], what: str, prefix: str) -> ValidationError:
    """The error for the first item of ``embedding`` that is not a number (slow path)."""
    for position, value in enumerate(embedding):
        if not _is_number_type(type(value)):
            return ValidationError(
                f"{prefix}the {what} must hold only numbers", f"position {position} holds {type(value).__name__} {value!r:.40}"
            )
    raise AssertionError("unreachable: every item is a number")  # pragma: no cover


def _as_float64(embedding: Sequence[Any]) -> np.ndarray:
    try:
        return np.asarray(embedding, dtype=np.float64)
    except OverflowError:  # a Python int beyond float64: it reads as infinite, as float() would say
        return np.array([_float_or_inf(value) for value in embedding], dtype=np.float64)


def _float_or_inf(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf


def embedding_array(embedding: Any, dimension: int, *, what: str = "embedding", prefix: str = "") -> np.ndarray:
    """:func:`validate_embedding`, returning a 1-D float64 numpy array.

    The checks are whole-vector numpy operations (``np.asarray`` + ``np.isfinite``); only
    a vector that fails is walked item by item, to name the position.
    """
    if hasattr(embedding, "tolist") and hasattr(embedding, "ndim"):
        if embedding.ndim != 1:
            raise ValidationError(
                f"{prefix}the {what} must be one vector", f"got an array of shape {tuple(embedding.shape)}"
            )
        if getattr(embedding.dtype, "kind", None) not in ("f", "i", "u"):
            raise ValidationError(f"{prefix}the {what} must hold numbers", f"got an array of dtype {embedding.dtype}")
        if not isinstance(embedding, np.ndarray):
            embedding = embedding.tolist()
    elif isinstance(embedding, (str, bytes)) or not isinstance(embedding, Sequence):
        raise ValidationError(f"{prefix}the {what} must be a list of numbers", f"got {type(embedding).__name__}")
    if len(embedding) != dimension:
        raise ValidationError(
            f"{prefix}the {what} has {len(embedding)} dimensions; this database holds {dimension}-dimensional vectors",
            f"send exactly {dimension} numbers",
        )
    if isinstance(embedding, np.ndarray):
        vector = embedding.astype(np.float64, copy=False)
    else:
        kinds = set(map(type, embedding))
        if not kinds <= _PLAIN_NUMBERS and not all(_is_number_type(kind) for kind in kinds):
            raise _not_a_number(embedding, what, prefix)
        vector = _as_float64(embedding)
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(vector) | (np.abs(vector) > MAX_COMPONENT)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        number = float(vector[position])
        if math.isfinite(number):
            raise ValidationError(
                f"{prefix}the {what} holds a number too large for a distance",
                f"position {position} is {number:.3g}; keep every number within ±{MAX_COMPONENT:.0e} "
                "(Chroma stores vectors and computes distances in 32-bit floats)",
            )
        raise ValidationError(
            f"{prefix}the {what} holds a non-finite number", f"position {position} is {number}; send finite values"
        )
    return vector


def validate_embedding(embedding: Any, dimension: int, *, what: str = "embedding", prefix: str = "") -> list[float]:
    """A vector of ``dimension`` finite real numbers, returned as ``list[float]``.

    Accepts a list or tuple of numbers or a one-dimensional numpy array; refuses
    strings, booleans, nested lists, NaN, infinities and numbers beyond the 32-bit float
    range Chroma stores vectors in.
    """
    return embedding_array(embedding, dimension, what=what, prefix=prefix).tolist()


def _metadata_value(key: str, value: Any, prefix: str) -> Any:
    if isinstance(value, list):
        if not value:
            raise ValidationError(f"{prefix}metadata {key!r} is an empty list", "send a non-empty list or leave the key out")
        kinds = {bool if isinstance(item, bool) else type(item) for item in value}
        if len(kinds) != 1 or next(iter(kinds)) not in _SCALARS:
            raise ValidationError(
                f"{prefix}metadata {key!r} must be a list of one type (str, int, float or bool)",
                f"got items of type {', '.join(sorted(k.__name__ for k in kinds))}",
            )
        for item in value:
            _check_number(key, item, prefix)
        return list(value)
    if value is None:
        raise ValidationError(
            f"{prefix}metadata {key!r} is null", "Chroma cannot store null metadata values; leave the key out instead"
        )
    if not isinstance(value, _SCALARS):
        raise ValidationError(
            f"{prefix}metadata {key!r} must be a str, int, float, bool or a list of one of those",
            f"got {type(value).__name__}",
        )
    _check_number(key, value, prefix)
    return value


def _check_number(key: str, value: Any, prefix: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{prefix}metadata {key!r} holds a non-finite number", f"got {value}")
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        raise ValidationError(f"{prefix}metadata {key!r} holds an integer outside 64 bits", f"got {value}")


def validate_metadata(metadata: Any, *, prefix: str = "") -> dict[str, Any]:
    """A flat mapping Chroma can store (see the module docstring); ``None`` means empty."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError(f"{prefix}metadata must be an object", f"got {type(metadata).__name__}")
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"{prefix}metadata keys must be non-empty strings", f"got {key!r}")
        if key.startswith("chroma:"):
            raise ValidationError(f"{prefix}metadata key {key!r} is reserved", "keys starting with 'chroma:' belong to Chroma")
        if key[0] in ("#", "$"):
            raise ValidationError(f"{prefix}metadata key {key!r} is reserved",
                                  "Chroma keeps keys starting with '#' or '$' for itself; rename the key")
        clean[key] = _metadata_value(key, value, prefix)
    return clean


def validate_text(text: Any, *, prefix: str = "", what: str = "text") -> str:
    """A non-blank string."""
    if not isinstance(text, str):
        raise ValidationError(f"{prefix}the {what} must be a string", f"got {type(text).__name__}")
    if not text.strip():
        raise ValidationError(f"{prefix}the {what} is empty", "send at least one non-blank character")
    return text


def validate_top_k(top_k: Any, maximum: int | None = None) -> int:
    """A positive integer, at most ``maximum`` when given."""
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise ValidationError("top_k must be an integer", f"got {type(top_k).__name__}")
    if top_k < 1:
        raise ValidationError("top_k must be at least 1", f"got {top_k}")
    if maximum is not None and top_k > maximum:
        raise ValidationError(f"top_k must be at most {maximum}", f"got {top_k}")
    return top_k


def validate_where(where: Any) -> dict[str, Any] | None:
    """A Chroma metadata filter (``{"field": value}``, ``{"field": {"$gte": 3}}``,
    ``{"$and": [...]}``) or None. Its operators are checked by Chroma at query time."""
    if where is None:
        return None
    if not isinstance(where, Mapping):
        raise ValidationError("where must be an object", f"got {type(where).__name__}")
    return dict(where) or None


#: What ``search(include=...)`` may ask for besides ids, distances and scores (always there).
INCLUDE_FIELDS: tuple[str, ...] = ("metadata", "document")


def validate_include(include: Any) -> tuple[str, ...]:
    """The fields a search returns: any of ``"metadata"`` and ``"document"`` (a list, a
    tuple or one name); ``()`` for ids, distances and scores only."""
    if isinstance(include, str):
        include = (include,)
    if not isinstance(include, (list, tuple, set, frozenset)):
        raise ValidationError(
            "include must be a list of field names", f"got {type(include).__name__}; send a subset of {list(INCLUDE_FIELDS)}"
        )
    unknown = [item for item in include if item not in INCLUDE_FIELDS]
    if unknown:
        raise ValidationError(
            f"include may only name {' and '.join(repr(f) for f in INCLUDE_FIELDS)}",
            f"got {unknown[0]!r:.40}; ids, distances and scores always come back",
        )
    return tuple(field for field in INCLUDE_FIELDS if field in include)


def validate_batch(
    documents: Iterable[Any], dimension: int, *, require_text: bool = False
) -> list[Document]:
    """Check a whole batch: each item a :class:`Document` or a mapping with ``id``,
    ``embedding``, optional ``metadata`` and ``text``. Duplicate ids are refused."""
    checked: list[Document] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(documents):
        raw_id: Any
        embedding: Any
        metadata: Any
        text: Any
        if isinstance(item, Document):
            raw_id, embedding, metadata, text = item.id, item.embedding, item.metadata, item.text
        elif isinstance(item, Mapping):
            unknown = set(item) - {"id", "embedding", "metadata", "text"}
            if unknown:
                raise ValidationError(
                    f"document {index}: unknown fields {sorted(unknown)}", "send id, embedding, metadata and text"
                )
            raw_id, embedding, metadata, text = item.get("id"), item.get("embedding"), item.get("metadata"), item.get("text")
        else:
            raise ValidationError(
                f"document {index} must be an object with id and embedding", f"got {type(item).__name__}"
            )
        doc_id = validate_id(raw_id, index=index)
        prefix = _where(index, doc_id)
        if doc_id in seen:
            raise ValidationError(f"{prefix}the id appears twice in the batch", f"also at document {seen[doc_id]}")
        seen[doc_id] = index
        vector = validate_embedding(embedding, dimension, prefix=prefix)
        clean = validate_metadata(metadata, prefix=prefix)
        if text is not None or require_text:
            text = validate_text(text, prefix=prefix)
        checked.append(Document(doc_id, vector, clean, text))
    return checked
