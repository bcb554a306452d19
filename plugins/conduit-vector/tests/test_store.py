"""The in-memory VectorDB: the seed's methods, metrics and scores, filters, batches, upsert."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from conduit.framework.errors import ConfigurationError, ConflictError, NotFoundError
from conduit_vector.store import DEFAULT_HNSW, SearchResult, VectorDB, create_vector_db


@pytest.fixture
def db() -> VectorDB:
    with create_vector_db(dimension=3, metric="cosine") as opened:
        yield opened


def test_seed_example_add_search_count_delete(db: VectorDB) -> None:
    db.add_document(doc_id="doc1", embedding=[0.1, 0.2, 0.3], metadata={"title": "Hello", "content": "World"})
    db.add_document(doc_id="doc2", embedding=[-0.3, 0.1, 0.0], metadata={"title": "Other"})
    results = db.search([0.15, 0.25, 0.35], top_k=3)
    assert [r.id for r in results] == ["doc1", "doc2"]
    assert isinstance(results[0], SearchResult) and results[0].metadata == {"title": "Hello", "content": "World"}
    assert 0.99 < results[0].score <= 1.0 and 0.0 <= results[1].score < 0.5
    assert db.get_document_count() == 2
    assert db.delete_document("doc1") is True
    assert db.delete_document("doc1") is False
    assert db.get_document_count() == 1 and [r.id for r in db.search([0.1, 0.2, 0.3])] == ["doc2"]


def test_search_on_an_empty_database_returns_no_results(db: VectorDB) -> None:
    assert db.search([1.0, 0.0, 0.0], top_k=5) == []


QUERY = [2.0, 0.5, 0.0]
VECTORS = {"a": [1.0, 0.0, 0.0], "b": [0.0, 1.0, 0.0], "c": [-1.0, 0.0, 0.0], "d": [3.0, 3.0, 0.0]}


def _expected(metric: str) -> dict[str, float]:
    q = np.array(QUERY)
    scores = {}
    for doc_id, vector in VECTORS.items():
        v = np.array(vector)
        if metric == "cosine":
            scores[doc_id] = (1 + q @ v / (np.linalg.norm(q) * np.linalg.norm(v))) / 2
        elif metric == "euclidean":
            scores[doc_id] = 1 / (1 + np.linalg.norm(q - v))
        else:
            scores[doc_id] = q @ v
    return scores


@pytest.mark.parametrize(
    ("metric", "order"),
    [("cosine", ["a", "d", "b", "c"]), ("euclidean", ["a", "b", "d", "c"]), ("dot", ["d", "a", "b", "c"])],
)
def test_each_metric_orders_hits_and_scores_them_as_documented(metric: str, order: list[str]) -> None:
    with create_vector_db(dimension=3, metric=metric) as db:
        db.add_documents([{"id": k, "embedding": v} for k, v in VECTORS.items()])
        results = db.search(QUERY, top_k=4)
    assert [r.id for r in results] == order
    expected = _expected(metric)
    for hit in results:
        assert hit.score == pytest.approx(expected[hit.id], abs=1e-5), hit
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    if metric != "dot":
        assert all(0.0 <= s <= 1.0 for s in scores)


def test_metric_aliases_and_unknown_metric() -> None:
    with create_vector_db(dimension=2, metric="l2") as db:
        assert db.metric == "euclidean" and db.hnsw["space"] == "l2"
    with pytest.raises(ConfigurationError, match="unknown metric 'manhattan'; use one of cosine, euclidean, dot"):
        create_vector_db(dimension=2, metric="manhattan")


def test_top_k_limits_results_and_where_filters_on_metadata(db: VectorDB) -> None:
    db.add_documents(
        [
            {"id": f"d{i}", "embedding": [1.0, i / 10, 0.0], "metadata": {"lang": "en" if i % 2 else "fr", "year": 2000 + i}}
            for i in range(10)
        ]
    )
    assert len(db.search([1.0, 0.0, 0.0], top_k=3)) == 3
    english = db.search([1.0, 0.0, 0.0], top_k=10, where={"lang": "en"})
    assert sorted(r.id for r in english) == ["d1", "d3", "d5", "d7", "d9"]
    recent_fr = db.search([1.0, 0.0, 0.0], top_k=10, where={"$and": [{"lang": "fr"}, {"year": {"$gte": 2006}}]})
    assert sorted(r.id for r in recent_fr) == ["d6", "d8"]
    assert sorted(db.list_ids(where={"year": {"$lt": 2002}})) == ["d0", "d1"]


def test_adding_an_existing_id_is_a_conflict_and_writes_nothing(db: VectorDB) -> None:
    db.add_document("a", [1.0, 0.0, 0.0], {"v": 1})
    with pytest.raises(ConflictError, match=r"1 document id\(s\) already exist") as info:
        db.add_documents([{"id": "new", "embedding": [0.0, 1.0, 0.0]}, {"id": "a", "embedding": [0.0, 0.0, 1.0]}])
    assert info.value.status_code == 409 and "use upsert" in info.value.detail
    assert db.get_document_count() == 1
    assert db.get_document("a").metadata == {"v": 1}


def test_upsert_replaces_vector_metadata_and_text(db: VectorDB) -> None:
    db.add_document("a", [1.0, 0.0, 0.0], {"old": 1, "keep": "x"}, text="first version")
    db.upsert("a", [0.0, 1.0, 0.0], {"keep": "y"})
    stored = db.get_document("a", include_embedding=True)
    assert stored.metadata == {"keep": "y"} and stored.document is None
    assert stored.embedding == pytest.approx([0.0, 1.0, 0.0])
    ids = db.upsert_documents([{"id": "a", "embedding": [0.0, 0.0, 1.0], "text": "third"}, {"id": "b", "embedding": [1.0, 1.0, 0.0]}])
    assert ids == ["a", "b"] and db.get_document_count() == 2
    assert db.get_document("a").document == "third" and db.get_document("a").metadata == {}
    assert db.search([0.0, 0.0, 1.0], top_k=1)[0].id == "a"


def test_text_stored_with_a_vector_comes_back_in_hits(db: VectorDB) -> None:
    db.add_document("a", [1.0, 0.0, 0.0], {"k": [1, 2]}, text="the passage")
    hit = db.search([1.0, 0.0, 0.0], top_k=1)[0]
    assert hit.document == "the passage" and hit.metadata == {"k": [1, 2]}
    assert hit.to_dict() == {"id": "a", "score": hit.score, "metadata": {"k": [1, 2]}, "distance": hit.distance, "document": "the passage"}


def test_get_document_of_a_missing_id_is_404(db: VectorDB) -> None:
    with pytest.raises(NotFoundError, match="document not found") as info:
        db.get_document("nope")
    assert info.value.status_code == 404


def test_delete_documents_counts_only_those_that_existed(db: VectorDB) -> None:
    db.add_documents([{"id": i, "embedding": [1.0, 0.0, 0.0]} for i in ("a", "b", "c")])
    assert db.delete_documents(["a", "zz", "b", "a"]) == 2
    assert db.list_ids() == ["c"]


def test_in_memory_databases_are_independent_and_closing_drops_the_private_collection() -> None:
    first = create_vector_db(dimension=2)
    second = create_vector_db(dimension=2)
    first.add_document("a", [1.0, 0.0], None)
    assert first.get_document_count() == 1 and second.get_document_count() == 0
    assert first.collection_name != second.collection_name and first.mode == "memory"
    name = first.collection_name
    first.close()
    names = {c.name for c in second.client.list_collections()}
    assert name not in names
    second.close()


def test_named_in_memory_collection_is_shared_within_the_process() -> None:
    with create_vector_db(dimension=2, collection="shared-notes") as one, create_vector_db(dimension=2, collection="shared-notes") as two:
        one.add_document("a", [1.0, 0.0], None)
        assert two.get_document_count() == 1
        two.drop()
    with create_vector_db(dimension=2, collection="shared-notes") as fresh:
        assert fresh.get_document_count() == 0
        fresh.drop()


def test_hnsw_settings_are_applied_at_creation() -> None:
    with create_vector_db(dimension=2, ef_search=250, ef_construction=150, max_neighbors=24) as db:
        assert {k: db.hnsw[k] for k in DEFAULT_HNSW} == {"ef_search": 250, "ef_construction": 150, "max_neighbors": 24}
        assert db.info() == {
            "collection": db.collection_name,
            "dimension": 2,
            "metric": "cosine",
            "mode": "memory",
            "count": 0,
            "hnsw": {"space": "cosine", "ef_search": 250, "ef_construction": 150, "max_neighbors": 24},
            "exact": {"setting": "auto", "threshold": 2_000_000, "vectors": 0},
        }
    with pytest.raises(ConfigurationError, match="ef_search must be a positive integer; got 0"):
        create_vector_db(dimension=2, ef_search=0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dimension": 0}, "dimension must be a positive integer; got 0"),
        ({"dimension": 2, "collection": "x"}, "collection name 'x' is not valid for Chroma"),
        ({"dimension": 2, "collection": "-bad-"}, "collection name '-bad-' is not valid"),
        ({"dimension": 2, "path": "p", "url": "http://127.0.0.1:1"}, "give path= .* or url= .*, not both"),
        ({"dimension": 2, "url": "ftp://host:1"}, "must look like http://HOST:PORT"),
        ({"dimension": 2, "url": "http://host:1/api"}, "must not carry a path"),
    ],
)
def test_bad_construction_arguments_name_what_to_change(options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        create_vector_db(**options)


def test_concurrent_adds_and_searches_lose_nothing() -> None:
    rng = np.random.default_rng(7)
    with create_vector_db(dimension=8, metric="euclidean") as db:
        errors: list[BaseException] = []

        def writer(worker: int) -> None:
            try:
                for batch in range(5):
                    rows = [
                        {"id": f"w{worker}-{batch}-{i}", "embedding": rng.normal(size=8).tolist(), "metadata": {"worker": worker}}
                        for i in range(20)
                    ]
                    db.add_documents(rows)
                    assert len(db.search(rows[0]["embedding"], top_k=3)) >= 1
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert db.get_document_count() == 6 * 5 * 20
        assert all(len(db.list_ids(where={"worker": w})) == 100 for w in range(6))
        probe = db.get_document("w3-4-19", include_embedding=True)
        hit = db.search(probe.embedding, top_k=1)[0]
        assert hit.id == "w3-4-19" and math.isclose(hit.distance, 0.0, abs_tol=1e-6)


def test_a_closed_or_dropped_collection_leaves_no_metadata_to_the_next_one() -> None:
    """chromadb 1.5.9 alone keeps list metadata of a deleted collection and hands it to the
    next collection's rows while the in-memory system lives; VectorDB deletes the rows first."""
    with create_vector_db(dimension=2):  # keeps chromadb's in-memory system alive throughout
        for finish in ("close", "drop"):
            old = create_vector_db(dimension=2, collection=None if finish == "close" else "leaky-notes")
            old.add_document("a", [1.0, 0.0], {"tags": ["x", "y"]})
            getattr(old, finish)()
            with create_vector_db(dimension=2) as new:
                new.add_document("a", [1.0, 0.0], {"lang": "en"})
                assert new.get_document("a").metadata == {"lang": "en"}
