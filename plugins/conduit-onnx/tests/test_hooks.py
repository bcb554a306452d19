"""conduit.ml facades find this plugin through its hooks, and fail clearly when it is disabled."""

from __future__ import annotations

import numpy as np
import pytest

import conduit.ml as ml
from conduit.framework.errors import MissingPluginError
from conduit_onnx import OnnxModel, TextEmbedder, has_gpu_support, working_providers


def test_load_model_dispatches_onnx_files_to_the_plugin(onnx_pm, classifier) -> None:
    model = ml.load_model(classifier.path, use_gpu=False)
    assert isinstance(model, OnnxModel)
    assert model.predict(classifier.X[:10]).tolist() == classifier.estimator.predict(classifier.X[:10]).tolist()
    assert ml.model_loaders(onnx_pm)[".onnx"].plugin == "onnx"


def test_load_onnx_model_facade_passes_the_seed_arguments(onnx_pm, classifier) -> None:
    model = ml.load_onnx_model(str(classifier.path), use_gpu=False, device_id=0, optimization_level=1)
    assert isinstance(model, OnnxModel) and model.providers == ["CPUExecutionProvider"]


def test_providers_facades_answer_from_the_plugin(onnx_pm) -> None:
    assert ml.get_onnx_providers() == working_providers()
    assert ml.has_gpu_support() is has_gpu_support()


def test_get_embedder_returns_the_minilm_embedder(onnx_pm) -> None:
    [info] = ml.list_embedders()
    assert (info.name, info.dimension, info.default, info.plugin) == ("all-MiniLM-L6-v2", 384, True, "onnx")
    embedder = ml.get_embedder()
    assert isinstance(embedder, TextEmbedder) and embedder is ml.get_embedder("all-MiniLM-L6-v2")


def test_scikit_learn_pickle_converts_to_onnx_through_the_plugin(onnx_pm, classifier, tmp_path) -> None:
    import joblib

    path = tmp_path / "clf.joblib"
    joblib.dump(classifier.estimator, path)
    model = ml.load_model(path, convert_to_onnx=True, use_gpu=False)
    assert isinstance(model, OnnxModel) and model.name == "clf"
    assert model.predict(classifier.X).tolist() == classifier.estimator.predict(classifier.X).tolist()
    np.testing.assert_allclose(
        model.predict(classifier.X, output="probabilities"), classifier.estimator.predict_proba(classifier.X), atol=1e-5
    )


def test_disabled_plugin_gives_a_message_naming_the_package(bare_pm, classifier) -> None:
    for call in (
        lambda: ml.load_model(classifier.path),
        lambda: ml.load_onnx_model(classifier.path),
        lambda: ml.get_onnx_providers(),
        lambda: ml.get_embedder(),
    ):
        with pytest.raises(MissingPluginError, match=r'install it with `pip install (-e )?"[^"`]*\[onnx\]"`'):
            call()
    assert ml.has_gpu_support() is False
