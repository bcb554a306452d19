"""EnsemblePredictor: several models answer the same input; their answers are combined.

``voting`` takes the most common answer (per row when answers are lists), ties going
to the earliest model; ``averaging`` takes the (weighted) mean of numeric answers,
element-wise for nested lists. Pure Python: any objects with ``predict`` will do.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conduit.framework.errors import ConfigurationError, InferenceError

__all__ = ["STRATEGIES", "EnsemblePredictor", "create_ensemble"]

STRATEGIES = ("voting", "averaging")


def _plain(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    return tolist() if tolist is not None else value


def _vote(answers: list[Any]) -> Any:
    if all(isinstance(a, list) for a in answers):
        lengths = {len(a) for a in answers}
        if len(lengths) != 1:
            raise InferenceError("ensemble members disagree on the number of answers", f"lengths {sorted(lengths)}")
        return [_vote([a[i] for a in answers]) for i in range(lengths.pop())]
    keys = [repr(a) for a in answers]
    counts = collections.Counter(keys)
    best = max(counts.values())
    return next(a for a, k in zip(answers, keys) if counts[k] == best)


def _average(answers: list[Any], weights: list[float]) -> Any:
    if all(isinstance(a, list) for a in answers):
        lengths = {len(a) for a in answers}
        if len(lengths) != 1:
            raise InferenceError("ensemble members disagree on the answer's shape", f"lengths {sorted(lengths)}")
        return [_average([a[i] for a in answers], weights) for i in range(lengths.pop())]
    if not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in answers):
        kinds = [type(a).__name__ for a in answers]
        raise InferenceError("averaging needs numeric answers", f"got {kinds}; use strategy='voting'")
    return sum(w * a for w, a in zip(weights, answers)) / sum(weights)


class EnsemblePredictor:
    """Run every model on the same input (in parallel threads when ``parallel``) and combine."""

    def __init__(
        self,
        models: Sequence[Any],
        strategy: str = "voting",
        weights: Sequence[float] | None = None,
        parallel: bool = True,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigurationError(f"ensemble strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
        if not models:
            raise ConfigurationError("an ensemble needs at least one model")
        for model in models:
            if not hasattr(model, "predict"):
                raise ConfigurationError(f"ensemble member {type(model).__name__} has no predict()")
        if weights is not None and (len(weights) != len(models) or any(w < 0 for w in weights) or sum(weights) <= 0):
            raise ConfigurationError("weights must be one non-negative number per model, not all zero")
        if weights is not None and strategy == "voting":
            raise ConfigurationError("weights apply to strategy='averaging' only")
        self.models = list(models)
        self.strategy = strategy
        self.weights = [float(w) for w in weights] if weights is not None else [1.0] * len(models)
        self._pool = (ThreadPoolExecutor(len(models), thread_name_prefix="conduit-ensemble")
                      if parallel and len(models) > 1 else None)

    def predict_all(self, features: Any) -> list[Any]:
        """Every member's answer, in model order."""
        if self._pool is None:
            return [_plain(m.predict(features)) for m in self.models]
        futures = [self._pool.submit(m.predict, features) for m in self.models]
        return [_plain(f.result()) for f in futures]

    def predict(self, features: Any) -> Any:
        answers = self.predict_all(features)
        return _vote(answers) if self.strategy == "voting" else _average(answers, self.weights)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"EnsemblePredictor({len(self.models)} models, strategy={self.strategy!r})"


def create_ensemble(
    models: Sequence[Any], strategy: str = "voting", weights: Sequence[float] | None = None, parallel: bool = True
) -> EnsemblePredictor:
    """``create_ensemble(models=[m1, m2, m3], strategy="voting")`` -> :class:`EnsemblePredictor`."""
    return EnsemblePredictor(models, strategy=strategy, weights=weights, parallel=parallel)
