"""OnnxModel: answers equal scikit-learn's, lists or arrays, metadata, and 422 for malformed input."""

from __future__ import annotations

import numpy as np
import pytest

from conduit.framework.errors import ConfigurationError, InferenceError, ModelNotFoundError, ValidationError
from conduit_onnx import OnnxModel, load_onnx_model


@pytest.fixture(scope="module")
def clf_model(classifier) -> OnnxModel:
    return load_onnx_model(classifier.path, use_gpu=False)


def test_classifier_labels_and_probabilities_equal_scikit_learns(classifier, clf_model) -> None:
    X = classifier.X
    assert clf_model.predict(X).tolist() == classifier.estimator.predict(X).tolist()
    np.testing.assert_allclose(
        clf_model.predict(X, output="probabilities"), classifier.estimator.predict_proba(X), atol=1e-5
    )


def test_regressor_answers_equal_scikit_learns(regressor) -> None:
    model = load_onnx_model(regressor.path, use_gpu=False)
    got = model.predict(regressor.X)
    np.testing.assert_allclose(got.ravel(), regressor.estimator.predict(regressor.X), rtol=1e-4, atol=1e-3)


def test_lists_in_give_lists_out_and_one_row_gives_one_answer(classifier, clf_model) -> None:
    row = classifier.X[0].tolist()
    expected = int(classifier.estimator.predict(classifier.X[:1])[0])
    assert clf_model.predict(row) == expected
    assert clf_model.predict([row, row]) == [expected, expected]
    assert isinstance(clf_model.predict(classifier.X[:2]), np.ndarray)
    probabilities = clf_model.predict(row, output="probabilities")
    assert isinstance(probabilities, list) and len(probabilities) == 3
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)


def test_predict_batch_answers_each_row_in_order(classifier, clf_model) -> None:
    rows = [r.tolist() for r in classifier.X[:17]]
    assert clf_model.predict_batch(rows) == classifier.estimator.predict(classifier.X[:17]).tolist()
    assert clf_model.predict_batch([]) == []


def test_multi_input_mapping_is_accepted(classifier, clf_model) -> None:
    row = classifier.X[3].tolist()
    assert clf_model.predict({"features": row}) == clf_model.predict(row)
    assert clf_model.run({"features": [row]})["label"].tolist() == [clf_model.predict(row)]


def test_metadata_describes_inputs_outputs_and_providers(clf_model) -> None:
    meta = clf_model.metadata()
    assert meta["inputs"] == [{"name": "features", "dtype": "float32", "shape": [None, 4]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert meta["outputs"][0]["dtype"] == "int64"
    assert meta["providers"] == ["CPUExecutionProvider"] and meta["device"] == "cpu"
    assert meta["producer"] == "skl2onnx"
    assert clf_model.name == "classifier"


@pytest.mark.parametrize(
    "bad, message, detail",
    [
        ([1.0, 2.0, 3.0], "input 'features' has the wrong shape", "axis 1 of shape [?, 4] must have 4 values, got 3"),
        (["a", "b", "c", "d"], "input 'features' must hold numbers (float32)", "got strings"),
        ([[1, 2, 3, 4], [1, 2]], "input 'features' is not a rectangular array", None),
        ([[[1.0, 2.0, 3.0, 4.0]]], "input 'features' has the wrong number of dimensions", None),
        ([], "input 'features' has the wrong shape", None),
    ],
)
def test_malformed_input_raises_422_naming_the_problem(clf_model, bad, message, detail) -> None:
    with pytest.raises(ValidationError) as info:
        clf_model.predict(bad)
    assert info.value.status_code == 422
    assert info.value.message == message
    if detail is not None:
        assert info.value.detail == detail
    with pytest.raises(ValidationError):
        clf_model.validate_input(bad)


def test_unknown_output_and_missing_inputs_are_named(classifier, clf_model) -> None:
    with pytest.raises(ValidationError, match="has no output 'scores'"):
        load_onnx_model(classifier.path, use_gpu=False, output="scores")
    with pytest.raises(ValidationError) as info:
        clf_model.run({"x": [[1, 2, 3, 4]]})
    assert info.value.detail == "missing: features. unknown: x"


def test_missing_file_is_model_not_found(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match="model file 'absent.onnx' not found"):
        load_onnx_model(tmp_path / "absent.onnx")


def test_corrupt_file_is_an_inference_error(tmp_path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    with pytest.raises(InferenceError, match="'broken.onnx' could not be loaded by onnxruntime"):
        load_onnx_model(broken, use_gpu=False)


def test_model_bytes_load_too(classifier) -> None:
    model = load_onnx_model(classifier.path.read_bytes(), use_gpu=False, name="from-bytes")
    assert model.name == "from-bytes"
    assert model.predict(classifier.X[:5]).tolist() == classifier.estimator.predict(classifier.X[:5]).tolist()


def test_cpu_sessions_do_not_spin_by_default_and_allow_spinning_sets_both_pools(classifier, clf_model) -> None:
    options = clf_model.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert clf_model.allow_spinning is False and clf_model.metadata()["allow_spinning"] is False
    spinning = load_onnx_model(classifier.path, use_gpu=False, allow_spinning=True, inter_op_threads=2)
    assert spinning.session.get_session_options().get_session_config_entry("session.inter_op.allow_spinning") == "1"
    assert spinning.allow_spinning is True
    assert spinning.predict(classifier.X[:20]).tolist() == clf_model.predict(classifier.X[:20]).tolist()


@pytest.mark.parametrize("bad", ["0", 1, "no"])
def test_allow_spinning_takes_only_a_bool_or_none(classifier, bad) -> None:
    with pytest.raises(ConfigurationError, match="allow_spinning must be True, False or None"):
        load_onnx_model(classifier.path, use_gpu=False, allow_spinning=bad)
