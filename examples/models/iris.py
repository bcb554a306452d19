"""A tiny real model for the examples: a scikit-learn classifier trained on the iris data.

The iris measurements ship inside scikit-learn (no network). Training takes well under a
second, so the pickle is built, not committed: :func:`ensure_model` returns its path,
building it into the cache directory on first use. Pickles are tied to the scikit-learn
version that wrote them, so the cache keeps one file per version.

    python examples/models/iris.py                 # build (if needed) and print the path
    python examples/models/iris.py --out model.pkl # write it somewhere else

Cache directory: the ``examples_cache`` setting (``$CONDUIT_EXAMPLES_CACHE``, or
``examples_cache`` in ``[tool.conduit]`` / conduit.toml), else
``$XDG_CACHE_HOME/conduit/examples``, else ``~/.cache/conduit/examples``. This module declares
that setting through the ``conduit_config_schema`` hook: an app that builds the model registers
the module (``Conduit(extra_plugins=[iris])``), so Conduit does not report the variable as an
unknown setting.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import conduit
from conduit.config import Setting, Settings, load_settings

__all__ = ["FEATURES", "CLASSES", "SCHEMA", "cache_dir", "conduit_config_schema", "ensure_model", "train",
           "write_model"]

FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
CLASSES = ("setosa", "versicolor", "virginica")
SCHEMA: dict[str, Setting] = {
    "examples_cache": Setting((str, type(None)), None, "folder for the example models built at first use "
                              "(default: $XDG_CACHE_HOME/conduit/examples, else ~/.cache/conduit/examples)"),
}


@conduit.hookimpl
def conduit_config_schema() -> dict[str, Any]:
    """Declares ``examples_cache`` (see the module docstring)."""
    return dict(SCHEMA)


def cache_dir(settings: Settings | None = None) -> Path:
    """Where built example models are kept (see the module docstring): from an app's
    ``settings``, else from the same sources read now."""
    if settings is None:
        settings = load_settings(schema=SCHEMA)
    explicit = settings.get("examples_cache")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conduit" / "examples"


def train() -> Any:
    """A fitted LogisticRegression on the 150 iris samples (deterministic: lbfgs, no sampling)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris()
    return LogisticRegression(max_iter=1000).fit(data.data, data.target)


def write_model(path: Path) -> Path:
    """Train and pickle the model to ``path`` atomically (concurrent builders are safe)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(train(), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def ensure_model(settings: Settings | None = None) -> Path:
    """The path of the iris model for the installed scikit-learn, built on first use."""
    import sklearn

    path = cache_dir(settings) / f"sklearn-{sklearn.__version__}" / "iris.pkl"
    return path if path.is_file() else write_model(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the iris example model.")
    parser.add_argument("--out", type=Path, help="write the model here instead of the cache")
    args = parser.parse_args(argv)
    print(write_model(args.out) if args.out else ensure_model())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
