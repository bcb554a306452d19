"""The kernel's built-in model loader: pickled / joblib scikit-learn models (and any pickled predictor).

Registered through ``conduit_register_model_loaders`` like any plugin's loader, for
``.pkl``, ``.pickle`` and ``.joblib``. Nothing from scikit-learn, joblib or numpy is
imported until a file is loaded. Unpickling runs code from the file: load only files
you trust, exactly as with ``pickle.load``.

``convert_to_onnx=True`` converts a scikit-learn estimator with skl2onnx and serves it
through conduit-onnx, which is usually several times faster for small batches.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from conduit.framework.errors import ConfigurationError, InferenceError, ValidationError
from conduit.hookspecs import hookimpl

__all__ = ["SklearnModel", "conduit_register_model_loaders", "load_sklearn_model", "to_onnx_bytes"]

SUFFIXES = (".pkl", ".pickle", ".joblib")


class SklearnModel:
    """A scikit-learn estimator behind the seed's predictor interface.

    ``predict([f1, f2, ...])`` (one sample) returns one prediction; ``predict([[...], ...])``
    returns one per row. Lists in give plain Python values out; numpy arrays give arrays.
    """

    def __init__(self, estimator: Any, name: str = "model") -> None:
        if not hasattr(estimator, "predict"):
            raise ConfigurationError(f"{type(estimator).__name__} has no predict(); it cannot serve predictions")
        self.estimator = estimator
        self.name = name
        n = getattr(estimator, "n_features_in_", None)
        self.n_features: int | None = int(n) if n is not None else None

    def __repr__(self) -> str:
        return f"SklearnModel({self.name!r}, {type(self.estimator).__name__}, n_features={self.n_features})"

    def _rows(self, x: Any) -> tuple[Any, bool]:
        import numpy as np

        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                "features must be a list of numbers or a list of equal-length rows", str(exc)
            ) from exc
        if arr.ndim not in (1, 2) or arr.size == 0:
            raise ValidationError("features must be one row of numbers or a list of rows", f"got shape {list(arr.shape)}")
        single = arr.ndim == 1
        rows = arr[np.newaxis, :] if single else arr
        if self.n_features is not None and rows.shape[1] != self.n_features:
            raise ValidationError(
                f"model {self.name!r} expects {self.n_features} features per row", f"got {rows.shape[1]}"
            )
        return rows, single

    def validate_input(self, x: Any) -> Any:
        """Check one sample; raise ValidationError (422) naming the problem."""
        self._rows(x)
        return x

    def _call(self, method: Callable[[Any], Any], x: Any) -> Any:
        import numpy as np

        rows, single = self._rows(x)
        try:
            result = method(rows)
        except Exception as exc:
            raise InferenceError(f"model {self.name!r} failed to predict", f"{type(exc).__name__}: {exc}") from exc
        if single:
            result = result[0]
        if isinstance(x, np.ndarray):
            return result
        return result.tolist() if hasattr(result, "tolist") else result

    def predict(self, x: Any) -> Any:
        return self._call(self.estimator.predict, x)

    def predict_proba(self, x: Any) -> Any:
        if not hasattr(self.estimator, "predict_proba"):
            raise ConfigurationError(f"{type(self.estimator).__name__} has no predict_proba()")
        return self._call(self.estimator.predict_proba, x)

    def predict_batch(self, rows: Sequence[Any]) -> list[Any]:
        """One prediction per row, computed in a single estimator call."""
        import numpy as np

        out = self.predict(np.asarray(rows, dtype=np.float64) if not isinstance(rows, np.ndarray) else rows)
        as_lists = not any(isinstance(r, np.ndarray) for r in rows)
        return [v.tolist() if as_lists and hasattr(v, "tolist") else v for v in out]


def _unpickle(path: Path) -> Any:
    try:
        import joblib
    except ImportError:
        joblib = None
    try:
        if joblib is not None:
            return joblib.load(path)
        with path.open("rb") as fh:
            return pickle.load(fh)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"model file {path.name!r} needs the package {exc.name!r}, which is not installed; "
            f"`pip install {exc.name}` (for scikit-learn models: `pip install scikit-learn`)"
        ) from exc
    except Exception as exc:
        raise ConfigurationError(
            f"model file {path.name!r} could not be unpickled ({type(exc).__name__}: {exc}); "
            "save it with joblib.dump or pickle.dump"
        ) from exc


def to_onnx_bytes(estimator: Any, n_features: int | None = None) -> bytes:
    """Convert a fitted scikit-learn estimator to ONNX (float32 input ``input``, probabilities as a tensor)."""
    try:
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError as exc:
        raise ConfigurationError("convert_to_onnx=True needs skl2onnx; `pip install skl2onnx`") from exc
    n = n_features or getattr(estimator, "n_features_in_", None)
    if n is None:
        raise ConfigurationError("convert_to_onnx needs the number of features; pass n_features=")
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    onx = to_onnx(estimator, initial_types=[("input", FloatTensorType([None, int(n)]))], options=options)
    return onx.SerializeToString()


def load_sklearn_model(
    path: str | os.PathLike[str], *, convert_to_onnx: bool = False, name: str | None = None, **onnx_options: Any
) -> Any:
    """Load a pickled/joblib model. scikit-learn estimators are wrapped in :class:`SklearnModel`
    (or, with ``convert_to_onnx=True``, converted and loaded through conduit-onnx with
    ``onnx_options``); any other unpickled object with ``predict`` is returned as it is."""
    path = Path(path)
    obj = _unpickle(path)
    name = name or path.stem
    from_sklearn = type(obj).__module__.startswith("sklearn.") or hasattr(obj, "n_features_in_")
    if convert_to_onnx:
        if not from_sklearn:
            raise ConfigurationError(
                f"convert_to_onnx=True needs a scikit-learn estimator; {path.name!r} holds a {type(obj).__name__}")
        from conduit.ml.onnx import load_onnx_model

        return load_onnx_model(to_onnx_bytes(obj), name=name, **onnx_options)
    if from_sklearn:
        return SklearnModel(obj, name=name)
    if not hasattr(obj, "predict"):
        raise ConfigurationError(f"model file {path.name!r} holds a {type(obj).__name__}, which has no predict()")
    return obj


@hookimpl
def conduit_register_model_loaders(register: Callable[..., Any]) -> None:
    register("sklearn", load_sklearn_model, suffixes=SUFFIXES)
