"""conduit.ml.load_model: suffix dispatch through hooks, scikit-learn pickles, clear errors."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from conduit import hookimpl
from conduit._install import install_command
from conduit.config import load_settings
from conduit.framework.errors import ConfigurationError, MissingPluginError, ModelNotFoundError, PluginError
from conduit.ml import SklearnModel, UnsupportedModelFormatError, load_model, model_loaders
from conduit.plugins import create_plugin_manager


def manager(*plugins: Any) -> Any:
    return create_plugin_manager(load_settings({"disabled_plugins": ["*"]}, environ={}, files=[]), extra_plugins=plugins)


class Echo:
    def __init__(self, path: Any, **options: Any) -> None:
        self.path, self.options = Path(path), options

    def predict(self, x: Any) -> Any:
        return x


class TextFormat:
    __conduit_name__ = "textformat"

    @hookimpl
    def conduit_register_model_loaders(self, register: Callable[..., Any]) -> None:
        register("text", Echo, suffixes=(".txt",), schemes=("mem",))


class AlsoText:
    __conduit_name__ = "alsotext"

    @hookimpl
    def conduit_register_model_loaders(self, register: Callable[..., Any]) -> None:
        register("text2", Echo, suffixes=".TXT")


def test_importing_conduit_ml_pulls_in_no_heavy_dependency() -> None:
    code = "import sys, conduit.ml; print(sorted(m for m in ('numpy', 'onnxruntime', 'sklearn', 'joblib', 'tokenizers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_third_party_format_is_loaded_through_the_hook(tmp_path: Path) -> None:
    path = tmp_path / "weights.txt"
    path.write_text("x")
    pm = manager(TextFormat())
    model = load_model(path, pm=pm, answer=42)
    assert isinstance(model, Echo) and model.path == path and model.options == {"answer": 42}
    assert model_loaders(pm)[".txt"].plugin == "textformat"
    assert isinstance(load_model("mem://model-a", pm=pm), Echo)


def test_two_plugins_claiming_one_suffix_is_an_error_naming_both() -> None:
    with pytest.raises(PluginError, match=r"model format '\.txt' is registered by both plugin") as info:
        model_loaders(manager(TextFormat(), AlsoText()))
    assert "'textformat' (text)" in str(info.value) and "'alsotext' (text2)" in str(info.value)


def test_onnx_without_its_plugin_names_the_package_to_install(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07")
    with pytest.raises(MissingPluginError, match=r"ONNX inference needs the conduit-onnx plugin.*" + re.escape(install_command("onnx"))):
        load_model(path, pm=manager())


def test_unknown_format_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedModelFormatError, match=r"no model loader for '\.pt'.*formats known here: \.joblib, \.pickle, \.pkl"):
        load_model(path, pm=manager())


def test_missing_file_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="model file 'absent.pkl' not found"):
        load_model(tmp_path / "absent.pkl", pm=manager())


def test_format_overrides_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(ConfigurationError, match="holds a dict, which has no predict"):
        load_model(path, format="pkl", pm=manager())


class Thresholder:
    """A plain pickled predictor (not scikit-learn): returned as it is."""

    def predict(self, x: float) -> bool:
        return x > 0.5


def test_pickled_plain_predictor_is_returned_as_is(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(Thresholder()))
    model = load_model(path, pm=manager())
    assert type(model).__name__ == "Thresholder" and model.predict(0.9) is True


@pytest.fixture(scope="module")
def sk_model() -> Any:
    sklearn = pytest.importorskip("sklearn", reason="scikit-learn is a test extra of conduit-onnx")
    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    assert sklearn
    X, y = make_classification(n_samples=120, n_features=5, random_state=3)
    return DecisionTreeClassifier(random_state=0).fit(X, y), X


@pytest.mark.parametrize("suffix", [".pkl", ".joblib"])
def test_scikit_learn_model_answers_like_the_estimator(tmp_path: Path, sk_model: Any, suffix: str) -> None:
    import joblib

    estimator, X = sk_model
    path = tmp_path / f"tree{suffix}"
    joblib.dump(estimator, path) if suffix == ".joblib" else path.write_bytes(pickle.dumps(estimator))
    model = load_model(path, pm=manager())
    assert isinstance(model, SklearnModel) and model.n_features == 5 and model.name == "tree"
    assert model.predict(X.tolist()) == estimator.predict(X).tolist()
    assert model.predict(X[0].tolist()) == int(estimator.predict(X[:1])[0])
    assert model.predict_batch([r.tolist() for r in X[:7]]) == estimator.predict(X[:7]).tolist()
    assert model.predict_proba(X[0].tolist()) == estimator.predict_proba(X[:1])[0].tolist()


def test_scikit_learn_model_rejects_the_wrong_feature_count(tmp_path: Path, sk_model: Any) -> None:
    from conduit.framework.errors import ValidationError

    estimator, _ = sk_model
    model = SklearnModel(estimator, name="tree")
    with pytest.raises(ValidationError, match="model 'tree' expects 5 features per row") as info:
        model.predict([1.0, 2.0])
    assert info.value.detail == "got 2"
    with pytest.raises(ValidationError, match="features must be a list of numbers"):
        model.validate_input(["a", "b", "c", "d", "e"])
