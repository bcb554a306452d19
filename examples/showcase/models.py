"""The showcase's model: a tiny real ONNX classifier, or the MiniLM embedder as a fallback.

At first start examples/models/iris.py trains a scikit-learn LogisticRegression on the iris
measurements that ship inside scikit-learn (no network, well under a second); it is converted
with skl2onnx and written to the same cache (the ``examples_cache`` setting, ``$CONDUIT_EXAMPLES_CACHE``, else
``~/.cache/conduit/examples``);
later starts load the cached ``.onnx`` file. Where scikit-learn or skl2onnx is not installed
the offline MiniLM embedder (conduit-onnx) is served as the model instead.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ServedModel", "iris_onnx_path", "load_showcase_model"]


@dataclass(frozen=True)
class ServedModel:
    """What the model endpoint serves: the model, its name, and a sentence for the banner."""

    model: Any
    name: str
    description: str
    example: Any
    sample_schema: dict[str, Any] | None = None  # one sample's JSON Schema; None: derived from the model


def iris_onnx_path(settings: Any = None) -> Path:
    """Train and convert the iris classifier into the cache (once per scikit-learn version)."""
    import numpy as np
    import sklearn
    from skl2onnx import to_onnx

    from examples.models.iris import cache_dir, train

    path = cache_dir(settings) / f"sklearn-{sklearn.__version__}" / "iris.onnx"
    if path.is_file():
        return path
    onx = to_onnx(train(), np.zeros((1, 4), dtype=np.float32), options={"zipmap": False}, target_opset=17)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".iris.onnx.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(onx.SerializeToString())
        os.replace(tmp, path)  # atomic: two workers building at once both end with one file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_showcase_model(pm: Any = None, settings: Any = None) -> ServedModel:
    """The iris ONNX model, else the MiniLM embedder (see the module docstring)."""
    from conduit.ml import get_embedder, load_model

    try:
        path = iris_onnx_path(settings)
    except ImportError as exc:
        embedder = get_embedder(pm=pm)
        return ServedModel(embedder, "all-MiniLM-L6-v2",
                           f"MiniLM text embedder as the model ({exc.name} is not installed, so no iris ONNX model)",
                           "Conduit serves models over HTTP.",
                           {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": r"[^\s\x1c-\x1f\x85]"})
    model = load_model(path, pm=pm, use_gpu=False, name="iris")
    return ServedModel(model, "iris", "iris classifier: scikit-learn trained at first start, converted with skl2onnx "
                       "(4 floats in, class 0-2 out)", [5.1, 3.5, 1.4, 0.2])
