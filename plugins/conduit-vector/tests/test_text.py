"""Text in: add_text/search_text through the embedder offered by conduit-onnx (real MiniLM)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from conduit.framework.errors import ConfigurationError, MissingPluginError, ValidationError
from conduit_vector.store import VectorDB, create_vector_db

SENTENCES = {
    "cat": "The cat sleeps on the warm windowsill all afternoon.",
    "rocket": "The rocket launch was delayed because of high winds.",
    "bread": "Knead the dough and let the bread rise for an hour.",
    "stocks": "Stock markets fell sharply after the interest rate decision.",
}


@pytest.fixture
def text_db(vector_pm: Any, minilm: Any) -> Iterator[VectorDB]:
    with create_vector_db(dimension=384, metric="cosine") as db:
        yield db


def test_search_text_finds_the_sentence_with_the_same_meaning(text_db: VectorDB) -> None:
    text_db.add_texts([{"id": k, "text": v, "metadata": {"topic": k}} for k, v in SENTENCES.items()])
    assert text_db.get_document_count() == 4
    assert text_db.search_text("a kitten napping in the sun", top_k=1)[0].id == "cat"
    assert text_db.search_text("baking a loaf at home", top_k=1)[0].id == "bread"
    best = text_db.search_text("spacecraft takeoff postponed by weather", top_k=4)
    assert best[0].id == "rocket" and best[0].document == SENTENCES["rocket"]
    assert best[0].score > best[-1].score


def test_text_uses_the_embedder_from_the_hook(text_db: VectorDB, minilm: Any) -> None:
    assert text_db.has_embedder() and text_db.embedder is minilm
    text_db.add_text("one", "a single sentence", {"n": 1})
    stored = text_db.get_document("one", include_embedding=True)
    assert stored.document == "a single sentence"
    assert stored.embedding == pytest.approx(minilm.embed(["a single sentence"])[0], abs=1e-5)


def test_upsert_text_replaces_the_text_and_its_vector(text_db: VectorDB) -> None:
    text_db.add_text("doc", SENTENCES["cat"])
    text_db.upsert_texts([("doc", SENTENCES["stocks"], {"v": 2})])
    assert text_db.get_document("doc").document == SENTENCES["stocks"]
    assert text_db.search_text("the stock market dropped", top_k=1)[0].id == "doc"


def test_bad_texts_are_422_and_write_nothing(text_db: VectorDB) -> None:
    with pytest.raises(ValidationError, match=r"document 1 \('b'\): the text is empty"):
        text_db.add_texts([{"id": "a", "text": "fine"}, {"id": "b", "text": "   "}])
    with pytest.raises(ValidationError, match="the query text must be a string"):
        text_db.search_text(42)  # type: ignore[arg-type]
    assert text_db.get_document_count() == 0


def test_without_an_embedder_plugin_the_error_names_conduit_onnx(vector_only_pm: Any) -> None:
    with create_vector_db(dimension=384) as db:
        assert db.has_embedder() is False
        with pytest.raises(MissingPluginError, match=r'install it with `pip install (-e )?"[^"`]*\[onnx\]"`'):
            db.add_text("a", "some text")
        with pytest.raises(MissingPluginError, match="Text embedding needs the conduit-onnx plugin"):
            db.search_text("some text")
        db.add_document("v", [0.0] * 383 + [1.0], None)  # vectors still work
        assert db.get_document_count() == 1


def test_an_embedder_of_another_dimension_is_refused(vector_pm: Any, minilm: Any) -> None:
    with create_vector_db(dimension=8) as db:
        with pytest.raises(ConfigurationError, match="the embedder makes 384-dimensional vectors but this database holds 8"):
            db.search_text("hello")


class ToyEmbedder:
    """A deterministic 3-d embedder: counts of the letters a, b and c."""

    dimension = 3

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[float(t.count("a")), float(t.count("b")), float(t.count("c")) + 0.1] for t in texts]


def test_an_embedder_object_can_be_given_directly() -> None:
    with create_vector_db(dimension=3, embedder=ToyEmbedder()) as db:
        db.add_texts([("as", "aaaa"), ("bs", "bbbb"), ("cs", "cccc")])
        assert [r.id for r in db.search_text("abbbb", top_k=3)][0] == "bs"
