"""Recall@10 of Chroma's HNSW at the default settings against exact numpy search."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from conduit_vector.store import create_vector_db

pytestmark = pytest.mark.slow


def _exact_top10(metric: str, queries: np.ndarray, data: np.ndarray) -> np.ndarray:
    if metric == "cosine":
        unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
        return np.argsort(-(unit(queries) @ unit(data).T), axis=1)[:, :10]
    squared = (queries**2).sum(1)[:, None] - 2 * queries @ data.T + (data**2).sum(1)[None, :]
    return np.argsort(squared, axis=1)[:, :10]


def _recall(metric: str, data: np.ndarray, queries: np.ndarray) -> float:
    truth = _exact_top10(metric, queries.astype(np.float64), data.astype(np.float64))
    with create_vector_db(dimension=data.shape[1], metric=metric, exact=False) as db:  # HNSW itself
        db.add_documents([{"id": str(i), "embedding": row} for i, row in enumerate(data)])
        assert db.get_document_count() == len(data)
        found = [{int(hit.id) for hit in db.search(q, top_k=10)} for q in queries]
    return sum(len(f & set(t.tolist())) for f, t in zip(found, truth)) / (10 * len(queries))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_recall_at_10_on_10000_clustered_vectors(metric: str) -> None:
    """50 Gaussian clusters in 128-d whose spread (2.0) is twice the spread of their centres,
    so neighbours overlap across clusters: a hard but embedding-like set."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, 128))
    data = (centres[rng.integers(0, 50, 10_000)] + 2.0 * rng.normal(size=(10_000, 128))).astype(np.float32)
    queries = (centres[rng.integers(0, 50, 100)] + 2.0 * rng.normal(size=(100, 128))).astype(np.float32)
    assert _recall(metric, data, queries) >= 0.95


def _sentences() -> list[str]:
    subjects = ["The old farmer", "A young engineer", "My neighbour", "The tired nurse", "A curious child", "The chef", "Our teacher", "The pilot"]
    verbs = ["repaired", "painted", "sold", "photographed", "cleaned", "described", "borrowed", "designed"]
    objects = ["a red bicycle", "the wooden bridge", "an electric guitar", "the garden fence", "a small boat", "the kitchen table", "a vintage camera", "the school bus"]
    places = ["in the morning", "near the river", "during the storm"]
    return [f"{s} {v} {o} {p}." for s, v, o, p in itertools.product(subjects, verbs, objects, places)]


def test_recall_at_10_on_minilm_embeddings_of_generated_sentences(minilm: Any) -> None:
    sentences = _sentences()  # 1,536 sentences
    rng = np.random.default_rng(1)
    vectors = minilm.embed_array(sentences)
    questions = [f"Who {v} {o}?" for v, o in zip(rng.choice(["fixed", "sold", "painted", "drew"], 40), rng.choice(["a bike", "a bridge", "a guitar", "a boat", "a bus"], 40))]
    assert _recall("cosine", vectors, minilm.embed_array(questions)) >= 0.95
