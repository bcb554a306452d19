"""The offline all-MiniLM-L6-v2 embedder: shipped tokenizer, quality, order, validation."""

from __future__ import annotations

import numpy as np
import pytest

from conduit.framework.errors import ValidationError
from conduit_onnx.embedder import CPU_BATCH_SIZE, DIMENSION, GPU_BATCH_SIZE, TOKENIZER_PATH, TextEmbedder, default_embedder
from conduit_onnx.providers import has_gpu_support


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return TextEmbedder(use_gpu=False, batch_size=4)


def test_tokenizer_ships_inside_the_package_with_its_licence() -> None:
    folder = TOKENIZER_PATH.parent
    assert TOKENIZER_PATH.stat().st_size == 466_247
    notice = (folder / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice
    assert (folder / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_vectors_have_384_dimensions_and_unit_length(embedder) -> None:
    vectors = embedder.embed(["hello world", "a second, somewhat longer sentence about serving models"])
    assert embedder.dimension == DIMENSION == 384
    assert [len(v) for v in vectors] == [384, 384]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), [1.0, 1.0], atol=1e-5)


def test_paraphrases_score_higher_than_unrelated_sentences(embedder) -> None:
    anchor = "A man is playing a guitar."
    paraphrase = embedder.similarity(anchor, "Someone plays a guitar.")
    unrelated = embedder.similarity(anchor, "The central bank raised interest rates again.")
    assert paraphrase > 0.7
    assert unrelated < 0.3
    pairs = [
        ("How do I reset my password?", "I forgot my password and need to change it.", "The weather is sunny in Madrid."),
        ("The cat sleeps on the sofa.", "A kitten is napping on the couch.", "Stock prices fell sharply on Monday."),
    ]
    for a, same, other in pairs:
        assert embedder.similarity(a, same) > embedder.similarity(a, other) + 0.3


def test_length_sorted_sub_batches_keep_each_texts_own_vector_in_order(embedder) -> None:
    texts = [
        "short",
        "a much longer sentence that needs many more word pieces than the others do",
        "medium length text here",
        "tiny",
        "another fairly long sentence, to make the padding differ between sub-batches",
        "ok",
    ]
    together = np.asarray(embedder.embed(texts))
    alone = np.asarray([embedder.embed_one(t) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_long_text_is_truncated_at_max_length(embedder) -> None:
    long_text = "word " * 1000
    assert embedder.token_lengths([long_text]) == [256]
    assert len(embedder.embed_one(long_text)) == 384


@pytest.mark.parametrize("bad, message", [("", "text to embed is empty"), ("   ", "text to embed is empty"), (42, "must be a string")])
def test_bad_text_is_a_422(embedder, bad, message) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        embedder.embed(["fine", bad])
    assert info.value.status_code == 422


def test_predict_and_predict_batch_serve_engines(embedder) -> None:
    assert len(embedder.predict("one text")) == 384
    assert len(embedder.predict_batch(["a", "b", "c"])) == 3


def test_default_embedder_is_shared() -> None:
    assert default_embedder() is default_embedder()


def test_sub_batch_and_spinning_defaults_follow_where_the_session_runs() -> None:
    shared = default_embedder()
    if shared.model.uses_gpu:
        assert shared.batch_size == GPU_BATCH_SIZE == 32
    else:
        assert (shared.batch_size, CPU_BATCH_SIZE) == (8, 8)
        assert shared.model.allow_spinning is False
    assert f"batch_size={shared.batch_size}" in repr(shared)


def test_sub_batch_size_changes_the_calls_not_the_vectors(embedder) -> None:
    texts = [f"sentence number {i} " + "with more words " * (i % 7) for i in range(20)]
    wide = TextEmbedder(use_gpu=False, batch_size=32, allow_spinning=True)
    assert wide.batch_size == 32 and wide.model.allow_spinning is True
    np.testing.assert_allclose(np.asarray(embedder.embed(texts)), np.asarray(wide.embed(texts)), atol=1e-4)


@pytest.mark.parametrize("bad", [0, -1, True])
def test_bad_batch_size_is_a_configuration_error(bad) -> None:
    from conduit.framework.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="batch_size must be >= 1"):
        TextEmbedder(use_gpu=False, batch_size=bad)


@pytest.mark.skipif(not has_gpu_support(), reason="no GPU execution provider starts on this machine")
def test_gpu_embedder_runs_wide_sub_batches() -> None:
    gpu = TextEmbedder(use_gpu=True)
    assert gpu.model.uses_gpu and gpu.batch_size == GPU_BATCH_SIZE
