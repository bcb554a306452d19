"""The exact (numpy) search path against Chroma's HNSW and against brute force; include=."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conduit import hookimpl
from conduit.config import load_settings
from conduit.framework.errors import ConfigurationError, ValidationError
from conduit.plugins import activated, create_plugin_manager, reset_default_plugin_manager
from conduit_vector.exact import ExactIndex
from conduit_vector.store import VectorDB, create_vector_db

METRICS = ["cosine", "euclidean", "dot"]
DIM = 24


def _data(n: int, seed: int = 0) -> np.ndarray:
    """Embedding-like rows: 12 Gaussian clusters, scaled to norms around 1."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, DIM))
    return ((centres[rng.integers(0, 12, n)] + rng.normal(size=(n, DIM))) / np.sqrt(2 * DIM)).astype(np.float32)


def _brute(metric: str, rows: dict[str, np.ndarray], query: np.ndarray, k: int) -> list[tuple[str, float]]:
    """Chroma's distance definitions (docs/vector.md), in float64 on the float32 rows."""
    q = query.astype(np.float32).astype(np.float64)
    out = []
    for doc_id, row in rows.items():
        x = row.astype(np.float32).astype(np.float64)
        if metric == "cosine":
            d = 1 - (x / np.linalg.norm(x)) @ (q / np.linalg.norm(q))
        elif metric == "euclidean":
            d = float(((x - q) ** 2).sum())
        else:
            d = 1 - x @ q
        out.append((doc_id, float(d)))
    return sorted(out, key=lambda pair: pair[1])[:k]


@pytest.fixture(params=METRICS)
def filled(request: pytest.FixtureRequest) -> Iterator[tuple[VectorDB, dict[str, np.ndarray]]]:
    data = _data(400)
    rows = {f"v{i}": data[i] for i in range(len(data))}
    with create_vector_db(dimension=DIM, metric=request.param) as db:
        db.add_documents(
            [{"id": k, "embedding": v, "metadata": {"tag": i % 5}, "text": f"text {i}"} for i, (k, v) in enumerate(rows.items())]
        )
        yield db, rows


def _close(exact: list[Any], hnsw: list[Any]) -> int:
    """HNSW is approximate (and Chroma builds its graph on several threads, so not the same
    graph each run): the hits both return must agree exactly; returns how many that is."""
    by_id = {h.id: h for h in hnsw}
    shared = [a for a in exact if a.id in by_id]
    for a in shared:
        b = by_id[a.id]
        assert a.score == pytest.approx(b.score, abs=1e-6)
        assert a.distance == pytest.approx(b.distance, abs=1e-6)
        assert (a.metadata, a.document) == (b.metadata, b.document)
    return len(shared)


def _same(exact: list[Any], hnsw: list[Any]) -> None:
    """HNSW agrees with the exact path: as many hits, every shared hit identical, and at most
    one of them missing (HNSW is approximate; see :func:`_close`). Where the tests below
    need the exact answer they compare the exact path with brute force."""
    assert len(exact) == len(hnsw)
    assert _close(exact, hnsw) >= len(exact) - 1, ([h.id for h in exact], [h.id for h in hnsw])


def test_exact_and_hnsw_give_the_same_ids_and_scores(filled: tuple[VectorDB, dict[str, np.ndarray]]) -> None:
    db, rows = filled
    found = 0
    for query in _data(30, seed=1):
        exact = db.search(query, top_k=10, exact=True)
        shared = _close(exact, db.search(query, top_k=10, exact=False))
        assert shared >= 8  # one CI run missed the 10th of one query (dot product is not a metric)
        found += shared
        truth = _brute(db.metric, rows, query, 10)
        assert [h.id for h in exact] == [doc_id for doc_id, _ in truth]
        assert [h.distance for h in exact] == pytest.approx([d for _, d in truth], abs=1e-6)
    assert found >= 0.98 * 300  # recall@10 of HNSW against the exact path over the 30 queries


def test_filtered_exact_search_equals_hnsw_and_brute_force_over_the_matching_rows(filled: tuple[VectorDB, dict[str, np.ndarray]]) -> None:
    db, rows = filled
    matching = {k: v for i, (k, v) in enumerate(rows.items()) if i % 5 in (1, 3)}
    where = {"tag": {"$in": [1, 3]}}
    for query in _data(20, seed=2):
        exact = db.search(query, top_k=7, where=where, exact=True)
        _same(exact, db.search(query, top_k=7, where=where, exact=False))
        assert [h.id for h in exact] == [doc_id for doc_id, _ in _brute(db.metric, matching, query, 7)]
        assert all(h.metadata["tag"] in (1, 3) for h in exact)
    assert db.search(_data(1)[0], top_k=3, where={"tag": 99}, exact=True) == []


def test_the_copy_follows_add_upsert_and_delete() -> None:
    data = _data(120, seed=3)
    with create_vector_db(dimension=DIM, metric="euclidean") as db:
        db.add_documents([{"id": f"v{i}", "embedding": data[i], "metadata": {"n": i}} for i in range(100)])
        db.upsert_documents([{"id": f"v{i}", "embedding": data[100 + i], "text": "moved"} for i in range(10)])
        db.upsert("new", data[110], {"n": -1})
        assert db.delete_documents([f"v{i}" for i in range(50, 80)] + ["absent"]) == 30
        db.add_document("v60", data[111], {"n": 60})
        current = {f"v{i}": data[100 + i] if i < 10 else data[i] for i in range(100) if not 50 <= i < 80}
        current |= {"new": data[110], "v60": data[111]}
        assert db.info()["exact"]["vectors"] == db.get_document_count() == len(current)
        for query in [*_data(15, seed=4), data[105], data[70]]:
            exact = db.search(query, top_k=8, exact=True)
            _same(exact, db.search(query, top_k=8, exact=False))
            assert [h.id for h in exact] == [doc_id for doc_id, _ in _brute("euclidean", current, query, 8)]
        moved = db.search(data[103], top_k=1, exact=True)[0]
        assert (moved.id, moved.document, moved.metadata, moved.distance) == ("v3", "moved", {}, 0.0)
        assert "v70" not in {h.id for h in db.search(data[70], top_k=20, exact=True)}


def test_the_copy_is_rebuilt_from_chroma_on_a_persistent_reopen(tmp_path: Path) -> None:
    data = _data(60, seed=5)
    with create_vector_db(dimension=DIM, metric="cosine", path=tmp_path, collection="kept") as db:
        db.add_documents([{"id": f"v{i}", "embedding": data[i], "metadata": {"n": i}, "text": f"t{i}"} for i in range(60)])
        db.delete_document("v7")
    with create_vector_db(dimension=DIM, metric="cosine", path=tmp_path, collection="kept") as again:
        assert again.info()["exact"]["vectors"] == 59
        for query in _data(10, seed=6):
            _same(again.search(query, top_k=5, exact=True), again.search(query, top_k=5, exact=False))
        hit = again.search(data[9], top_k=1, exact=True)[0]
        assert (hit.id, hit.metadata, hit.document) == ("v9", {"n": 9}, "t9")


def test_databases_on_one_named_collection_share_the_copy() -> None:
    data = _data(3, seed=7)
    with create_vector_db(dimension=DIM, collection="exact-shared") as one, create_vector_db(dimension=DIM, collection="exact-shared") as two:
        one.add_document("a", data[0], {"by": "one"})
        assert [h.id for h in two.search(data[0], top_k=1, exact=True)] == ["a"]
        two.delete_document("a")
        assert one.search(data[0], top_k=1, exact=True) == []
        one.drop()


def test_a_stale_copy_is_read_again_from_chroma_before_searching() -> None:
    data = _data(2, seed=8)
    with create_vector_db(dimension=DIM) as db:
        db.collection.add(ids=["around"], embeddings=[data[0].tolist()])  # written around VectorDB
        assert db.search(data[0], top_k=1, exact=True) == []
        db._exact_index.stale = True  # what a write that failed half-way leaves
        assert [h.id for h in db.search(data[0], top_k=1, exact=True)] == ["around"]


class SpanRecorder:
    """Records which path each search's span says it took."""

    __conduit_name__ = "exact-span-recorder"

    def __init__(self) -> None:
        self.spans: list[bool] = []

    @hookimpl
    def conduit_span(self, name: str, attributes: dict[str, Any]) -> Any:
        self.spans.append(attributes["exact"])
        return contextlib.nullcontext()


def _paths_taken(db: VectorDB, calls: list[dict[str, Any]]) -> list[bool]:
    recorder = SpanRecorder()
    pm = create_plugin_manager(load_settings({"disabled_plugins": ["*"]}, environ={}, files=[]), extra_plugins=[recorder])
    reset_default_plugin_manager(pm)
    try:
        with activated(pm):
            for call in calls:
                db.search([1.0] * DIM, top_k=2, **call)
    finally:
        reset_default_plugin_manager(None)
    return recorder.spans


def test_auto_searches_exactly_up_to_the_threshold_and_every_filtered_search() -> None:
    data = _data(30, seed=9)
    with create_vector_db(dimension=DIM, exact_threshold=20) as db:
        assert db.info()["exact"] == {"setting": "auto", "threshold": 20, "vectors": 0}
        db.add_documents([{"id": f"v{i}", "embedding": data[i], "metadata": {"n": i}} for i in range(20)])
        assert _paths_taken(db, [{}, {"where": {"n": 1}}]) == [True, True]
        db.add_document("v20", data[20], {"n": 20})
        assert _paths_taken(db, [{}, {"where": {"n": 1}}, {"exact": True}]) == [False, True, True]
    with create_vector_db(dimension=DIM, exact=True, exact_threshold=0) as db:
        assert _paths_taken(db, [{}, {"exact": False}]) == [True, False]
    with create_vector_db(dimension=DIM, exact=False) as db:
        assert db.info()["exact"]["vectors"] is None
        assert _paths_taken(db, [{}, {"where": {"n": 1}}]) == [False, False]
    assert create_vector_db(dimension=384).exact_threshold == 10_416


def test_exact_settings_that_cannot_work_name_what_to_change(chroma_server: Any) -> None:
    with pytest.raises(ConfigurationError, match="a Chroma server \\(url=\\) has other writers"):
        create_vector_db(dimension=2, url=chroma_server.url, exact=True)
    with pytest.raises(ConfigurationError, match="exact must be 'auto', True or False; got 'yes'"):
        create_vector_db(dimension=2, exact="yes")
    with pytest.raises(ConfigurationError, match="exact_threshold must be a number of vectors"):
        create_vector_db(dimension=2, exact_threshold=-1)
    with create_vector_db(dimension=2, url=chroma_server.url, collection="exact-remote") as remote:
        assert remote.info()["exact"]["vectors"] is None
        remote.add_document("a", [1.0, 0.0], None)
        assert [h.id for h in remote.search([1.0, 0.0], top_k=1)] == ["a"]
        with pytest.raises(ConfigurationError, match="only its HNSW search is available"):
            remote.search([1.0, 0.0], exact=True)
        remote.drop()
    with create_vector_db(dimension=2, exact=False) as db, pytest.raises(ConfigurationError, match="open it with exact='auto'"):
        db.search([1.0, 0.0], exact=True)


@pytest.mark.parametrize("exact", [True, False])
def test_include_chooses_what_comes_back_besides_ids_and_scores(exact: bool) -> None:
    with create_vector_db(dimension=2) as db:
        db.add_document("a", [1.0, 0.0], {"k": [1, 2]}, text="alpha")
        full = db.search([1.0, 0.1], top_k=1, exact=exact)[0]
        assert (full.id, full.metadata, full.document) == ("a", {"k": [1, 2]}, "alpha")
        for include, metadata, document in (((), {}, None), (["metadata"], {"k": [1, 2]}, None), ("document", {}, "alpha")):
            hit = db.search([1.0, 0.1], top_k=1, include=include, exact=exact)[0]
            assert (hit.id, hit.score, hit.distance, hit.metadata, hit.document) == ("a", full.score, full.distance, metadata, document)
        full.metadata["k"].append(3)  # a caller's change does not reach the stored row
        assert db.search([1.0, 0.1], top_k=1, exact=exact)[0].metadata == {"k": [1, 2]}


@pytest.mark.parametrize(
    ("include", "message"),
    [(["embeddings"], "include may only name 'metadata' and 'document'"), (5, "include must be a list of field names")],
)
def test_a_bad_include_is_422(include: Any, message: str) -> None:
    with create_vector_db(dimension=2) as db, pytest.raises(ValidationError, match=message) as info:
        db.search([1.0, 0.0], include=include)
    assert info.value.status_code == 422


@pytest.mark.parametrize("exact", [True, False])
def test_a_bad_where_filter_is_422_on_both_paths(exact: bool) -> None:
    with create_vector_db(dimension=2) as db:
        db.add_document("a", [1.0, 0.0], {"n": 1})
        with pytest.raises(ValidationError, match="invalid where filter") as info:
            db.search([1.0, 0.0], where={"n": {"$bad": 1}}, exact=exact)
    assert "$gt, $gte" in info.value.detail and not info.value.detail.endswith((" in query.", " in get."))


def test_an_all_zero_vector_is_orthogonal_to_everything_on_both_paths() -> None:
    with create_vector_db(dimension=3, metric="cosine") as db:
        db.add_documents([{"id": "zero", "embedding": [0.0, 0.0, 0.0]}, {"id": "x", "embedding": [1.0, 0.0, 0.0]}])
        for exact in (True, False):
            hits = {h.id: h for h in db.search([0.0, 1.0, 0.0], top_k=2, exact=exact)}
            assert hits["zero"].score == pytest.approx(0.5, abs=1e-6) and hits["x"].score == pytest.approx(0.5, abs=1e-6)


ops = st.lists(
    st.tuples(st.sampled_from(["upsert", "delete"]), st.lists(st.integers(0, 15), min_size=1, max_size=6, unique=True)),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ops, st.sampled_from(["cosine", "l2", "ip"]), st.integers(1, 20))
def test_exact_index_matches_a_dict_of_rows_after_any_writes(steps: list[tuple[str, list[int]]], space: str, k: int) -> None:
    rng = np.random.default_rng(len(steps))
    index = ExactIndex(4, space)
    model: dict[str, np.ndarray] = {}
    for op, keys in steps:
        ids = [f"d{key}" for key in keys]
        if op == "upsert":
            vectors = rng.normal(size=(len(ids), 4)).astype(np.float32)
            index.upsert(ids, vectors, [{"key": key} for key in keys])
            model.update(zip(ids, vectors))
        else:
            index.delete(ids)
            for doc_id in ids:
                model.pop(doc_id, None)
    assert len(index) == len(model)
    metric = {"cosine": "cosine", "l2": "euclidean", "ip": "dot"}[space]
    query = rng.normal(size=4)
    found = index.search(query, k)
    assert [(doc_id, meta) for doc_id, _, meta, _ in found] == [(d, {"key": int(d[1:])}) for d, _ in _brute(metric, model, query, k)]
    assert [distance for _, distance, _, _ in found] == pytest.approx([d for _, d in _brute(metric, model, query, k)], abs=1e-6)
    half = sorted(model)[::2]
    assert [doc_id for doc_id, *_ in index.search(query, k, half + ["missing"])] == [
        d for d, _ in _brute(metric, {i: model[i] for i in half}, query, k)
    ]
