"""Fixtures: scikit-learn models trained here and converted to ONNX with skl2onnx."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pluggy
import pytest

from conduit.config import load_settings
from conduit.plugins import activated, create_plugin_manager, reset_default_plugin_manager


@dataclass
class Trained:
    estimator: Any
    X: np.ndarray
    path: Path


def _convert(estimator: Any, n_features: int, path: Path) -> Path:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    onx = to_onnx(estimator, initial_types=[("features", FloatTensorType([None, n_features]))], options=options)
    path.write_bytes(onx.SerializeToString())
    return path


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Logistic regression on 3 synthetic classes, 4 features; X is float32 like the ONNX input."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(
        n_samples=300, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0
    )
    X = X.astype(np.float32)
    estimator = LogisticRegression(max_iter=500).fit(X, y)
    return Trained(estimator, X, _convert(estimator, 4, tmp_path_factory.mktemp("onnx") / "classifier.onnx"))


@pytest.fixture(scope="session")
def regressor(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Linear regression, 6 features."""
    from sklearn.datasets import make_regression
    from sklearn.linear_model import LinearRegression

    X, y = make_regression(n_samples=200, n_features=6, noise=0.1, random_state=1)
    X = X.astype(np.float32)
    estimator = LinearRegression().fit(X, y)
    return Trained(estimator, X, _convert(estimator, 6, tmp_path_factory.mktemp("onnx") / "regressor.onnx"))


@pytest.fixture
def onnx_pm() -> Iterator[pluggy.PluginManager]:
    """A plugin manager with the onnx plugin enabled, current (as a running app's is) and
    also installed as the process-wide default."""
    pm = create_plugin_manager(load_settings({"plugins": ["onnx"]}, environ={}, files=[]))
    reset_default_plugin_manager(pm)
    with activated(pm):
        yield pm
    reset_default_plugin_manager(None)


@pytest.fixture
def bare_pm() -> Iterator[pluggy.PluginManager]:
    """A plugin manager with no entry-point plugins (conduit-onnx installed but not enabled)."""
    pm = create_plugin_manager(load_settings({"disabled_plugins": ["*"]}, environ={}, files=[]))
    reset_default_plugin_manager(pm)
    yield pm
    reset_default_plugin_manager(None)
