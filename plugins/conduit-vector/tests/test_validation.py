"""Bad input is a 422 ValidationError naming the problem, and nothing is half-written."""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduit.framework.errors import ValidationError
from conduit_vector.store import VectorDB, create_vector_db
from conduit_vector.validation import MAX_COMPONENT, validate_embedding, validate_metadata


@pytest.fixture
def db() -> Iterator[VectorDB]:
    with create_vector_db(dimension=3) as opened:
        yield opened


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        ([1.0, 2.0], "the embedding has 2 dimensions; this database holds 3-dimensional vectors"),
        ([1.0, 2.0, 3.0, 4.0], "the embedding has 4 dimensions"),
        ([1.0, math.nan, 0.0], "the embedding holds a non-finite number"),
        ([1.0, math.inf, 0.0], "the embedding holds a non-finite number"),
        ([1.0, 10**400, 0.0], "the embedding holds a non-finite number"),
        ([1.0, "2", 0.0], "the embedding must hold only numbers"),
        ([1.0, True, 0.0], "the embedding must hold only numbers"),
        ([[1.0], [2.0], [3.0]], "the embedding must hold only numbers"),
        ("1,2,3", "the embedding must be a list of numbers"),
        (None, "the embedding must be a list of numbers"),
        (np.zeros((1, 3)), "the embedding must be one vector"),
        (np.array(["a", "b", "c"]), "the embedding must hold numbers"),
    ],
)
def test_bad_vectors_are_422_naming_the_problem(db: VectorDB, embedding: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        db.add_document("a", embedding, None)
    assert info.value.status_code == 422
    assert db.get_document_count() == 0


def test_numpy_vectors_and_numpy_scalars_are_accepted(db: VectorDB) -> None:
    db.add_document("a", np.array([1, 0, 0], dtype=np.float32), None)
    db.add_document("b", [np.float64(0.0), np.int64(1), 0], None)
    assert db.search(np.array([0.0, 1.0, 0.0]), top_k=1)[0].id == "b"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"k": None}, "metadata 'k' is null"),
        ({"k": {"nested": 1}}, "metadata 'k' must be a str, int, float, bool or a list"),
        ({"k": []}, "metadata 'k' is an empty list"),
        ({"k": [1, "a"]}, "metadata 'k' must be a list of one type"),
        ({"k": [1, True]}, "metadata 'k' must be a list of one type"),
        ({"k": math.nan}, "metadata 'k' holds a non-finite number"),
        ({"k": [1.0, math.inf]}, "metadata 'k' holds a non-finite number"),
        ({"k": 2**70}, "metadata 'k' holds an integer outside 64 bits"),
        ({1: "v"}, "metadata keys must be non-empty strings"),
        ({"chroma:document": "v"}, "metadata key 'chroma:document' is reserved"),
        (["k", "v"], "metadata must be an object"),
    ],
)
def test_bad_metadata_is_422_naming_the_key(db: VectorDB, metadata: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        db.add_document("a", [1.0, 0.0, 0.0], metadata)
    assert db.get_document_count() == 0


def test_metadata_chroma_can_store_round_trips(db: VectorDB) -> None:
    metadata = {"s": "x", "i": 3, "f": 1.5, "b": False, "ls": ["a", "b"], "li": [1, 2], "lf": [0.5], "lb": [True]}
    db.add_document("a", [1.0, 0.0, 0.0], metadata)
    assert db.get_document("a").metadata == metadata
    db.add_document("b", [0.0, 1.0, 0.0], {})
    assert db.get_document("b").metadata == {}


@pytest.mark.parametrize(
    ("doc_id", "message"),
    [(None, "the document id must be a string"), (7, "the document id must be a string"), ("  ", "the document id is empty"), ("x" * 1025, "the document id is too long")],
)
def test_bad_ids_are_422(db: VectorDB, doc_id: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        db.add_document(doc_id, [1.0, 0.0, 0.0], None)


def test_a_batch_with_one_bad_row_writes_nothing_and_names_the_row(db: VectorDB) -> None:
    rows = [{"id": f"ok{i}", "embedding": [1.0, float(i), 0.0]} for i in range(5)]
    rows.insert(3, {"id": "bad", "embedding": [1.0, math.nan, 0.0]})
    with pytest.raises(ValidationError, match=r"document 3 \('bad'\): the embedding holds a non-finite number"):
        db.add_documents(rows)
    with pytest.raises(ValidationError, match=r"document 2 \('ok1'\): the id appears twice in the batch"):
        db.upsert_documents([rows[0], rows[1], rows[1]])
    with pytest.raises(ValidationError, match=r"document 1: unknown fields \['vector'\]"):
        db.add_documents([rows[0], {"id": "x", "vector": [1, 2, 3]}])
    with pytest.raises(ValidationError, match="document 0 must be an object with id and embedding"):
        db.add_documents(["not a row"])
    assert db.get_document_count() == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda db: db.search([1.0, 0.0, 0.0], top_k=0), "top_k must be at least 1"),
        (lambda db: db.search([1.0, 0.0, 0.0], top_k="3"), "top_k must be an integer"),
        (lambda db: db.search([1.0, 0.0]), "the query embedding has 2 dimensions"),
        (lambda db: db.search([1.0, 0.0, 0.0], where=["lang"]), "where must be an object"),
        (lambda db: db.search([1.0, 0.0, 0.0], where={"n": {"$bad": 1}}), "invalid where filter"),
        (lambda db: db.search([1.0, 0.0, 0.0], where={"n": {"$gt": "a"}}), "invalid where filter"),
        (lambda db: db.list_ids(where={"$and": [{"n": 1}]}), "invalid where filter"),
    ],
)
def test_bad_searches_are_422(db: VectorDB, call: Any, message: str) -> None:
    db.add_document("a", [1.0, 0.0, 0.0], {"n": 1})
    with pytest.raises(ValidationError, match=message) as info:
        call(db)
    assert info.value.status_code == 422


def test_where_filter_error_detail_is_chromas_explanation(db: VectorDB) -> None:
    with pytest.raises(ValidationError) as info:
        db.search([1.0, 0.0, 0.0], where={"n": {"$bad": 1}})
    assert "$gt, $gte" in info.value.detail and not info.value.detail.endswith("in query.")


_BOUND32 = float(np.float32(MAX_COMPONENT))  # the largest float32 within the bound
finite = st.floats(min_value=-_BOUND32, max_value=_BOUND32, width=32)


@given(st.lists(finite, min_size=4, max_size=4))
def test_any_finite_vector_of_the_right_size_is_accepted_as_floats(values: list[float]) -> None:
    assert validate_embedding(values, 4) == [float(v) for v in values]


too_large = st.floats(min_value=MAX_COMPONENT * 1.01, max_value=1e300) | st.floats(min_value=-1e300, max_value=-MAX_COMPONENT * 1.01)


@given(st.lists(st.one_of(finite, too_large, st.just(math.nan), st.just(-math.inf), st.text(max_size=2), st.booleans()),
                min_size=1, max_size=6))
def test_validate_embedding_accepts_exactly_the_finite_numeric_vectors(values: list[Any]) -> None:
    good = len(values) == 4 and all(isinstance(v, float) and abs(v) <= MAX_COMPONENT for v in values)
    if good:
        assert validate_embedding(values, 4) == values
    else:
        with pytest.raises(ValidationError):
            validate_embedding(values, 4)


scalar = st.one_of(st.text(max_size=5), st.integers(min_value=-(2**63), max_value=2**63 - 1), finite, st.booleans())


def _ours(key: str) -> bool:
    return not key.startswith(("chroma:", "#", "$"))  # Chroma's reserved prefixes


@given(st.dictionaries(st.text(min_size=1, max_size=5).filter(_ours), scalar, max_size=4))
def test_flat_scalar_metadata_is_always_accepted_unchanged(metadata: dict[str, Any]) -> None:
    assert validate_metadata(metadata) == metadata


@given(st.sampled_from(["chroma:", "#", "$"]), st.text(max_size=5), scalar)
def test_metadata_keys_with_chromas_reserved_prefixes_are_refused(prefix: str, rest: str, value: Any) -> None:
    with pytest.raises(ValidationError, match="is reserved"):
        validate_metadata({prefix + rest: value})


def test_python_api_refuses_what_chroma_cannot_store_or_search(db: Any) -> None:
    with pytest.raises(ValidationError, match="too large for a distance"):
        db.add_document("big", [1e16, 0.0, 0.0], None)
    with pytest.raises(ValidationError, match="metadata key '#document' is reserved"):
        db.add_document("hash", [1.0, 0.0, 0.0], {"#document": "x"})
    with pytest.raises(ValidationError, match=r"metadata key '\$k' is reserved"):
        db.add_document("dollar", [1.0, 0.0, 0.0], {"$k": 1})
    assert db.get_document_count() == 0
