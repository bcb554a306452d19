"""How long each model's answers are, learned from the usage the router sees.

A decision's cost estimate is ``input tokens × input price + answer tokens × output price``,
and the answer's length is the part the router cannot read from the query. Its prior,
:func:`~conduit_router.analysis.expected_output_tokens`, is one figure per domain and
complexity for every model; real models differ (one writes twice as much as another on the
same question, a reasoning model's thinking tokens are billed as output) and so do
workloads. :class:`AnswerLengths` scales the prior by two learned factors:

    estimate = prior × base(x) × verbosity(model)

``base(x)`` is a ridge regression of the ratio ``r = tokens / prior`` on the query's context
vector ``x`` (the router's features: embedding projection, domain, complexity, length),
pooled over every model's answers, each divided by its model's verbosity first: how much
longer than the prior answers to this kind of query run, whoever writes them. Pooling
matters: every answered query teaches it, so it is not biased by which queries the router
happened to send to which model (a ratio kept per model and domain is: the flagship is
chosen for the hardest, longest queries of a domain, and would then be expected to write
long answers to all of them, which overstates the priciest model's cost a spending limit
is measured against). ``verbosity(model)`` is the mean of ``r / base(x)`` over the model's
answers, a prior of 1 worth ``prior_weight`` answers. Both are discounted by ``gamma`` per
answer, so a model that changes is followed. Ratios (not their logarithms) are averaged,
which keeps the estimated cost right on average: what a spending limit paced on estimates
needs.

Each answer is weighted, in the verbosity, by the inverse of the probability that the
router chose its model for that query (``weight``, at most ``1 / MIN_PROPENSITY``). The
regression cannot fit every kind of query exactly, and a router that sends a model the
queries whose answers ``base(x)`` underestimates would otherwise read the shortfall as that
model's verbosity: the winner's curse. Weighted, a model's verbosity is its mean over the
queries of the traffic, not over those it won. The flagship's inflated verbosity mattered
most: it is the budget's reference (what the priciest model would have cost), so a
spending limit overspent by as much.

Usage comes from ``complete()`` (the provider's token counts), ``feedback(output_tokens=...)``
and ``feedback(cost=...)`` (the answer tokens the cost implies at the model's prices). In
memory the figures are kept per process; with Redis they are shared by every worker and
host (:mod:`conduit_router.shared_lengths`). The verbosities are normalised to average 1
over the answers seen (weighted), so the regression keeps the overall scale and a model
never seen is expected to write like the average answer.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = ["AnswerLengths", "Sample"]


def _usable(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


class Sample(NamedTuple):
    """One answer, prepared for the update: ``ratio`` is tokens / prior, ``relative`` that
    ratio over the pooled estimate ``base(x)``, ``weight`` the inverse propensity (capped)."""

    model: str
    x: np.ndarray
    ratio: float
    relative: float
    weight: float


class AnswerLengths:
    """Learned answer length as a ratio to the prior (see the module docstring)."""

    PRIOR_WEIGHT = 5.0
    MIN_PROPENSITY = 0.05
    GAMMA = 0.995
    MAX_RATIO = 50.0
    MIN_BASE = 0.05

    def __init__(self, *, prior_weight: float = PRIOR_WEIGHT, gamma: float = GAMMA) -> None:
        if not (prior_weight > 0 and math.isfinite(prior_weight)) or not 0.5 <= gamma <= 1.0:
            raise ValueError(f"prior_weight must be > 0 and gamma in [0.5, 1]; got {prior_weight!r}, {gamma!r}")
        self.prior_weight = float(prior_weight)
        self.gamma = float(gamma)
        self._S: np.ndarray | None = None  # Σ γ-discounted x xᵀ
        self._r: np.ndarray | None = None  # Σ γ-discounted x · ratio
        self._weights: np.ndarray | None = None  # the regression's weights, None when stale
        self._wordy: dict[str, list[float]] = {}  # model -> [Σw, Σw·r/base, answers]
        self._lock = threading.Lock()

    def base(self, x: Sequence[float] | np.ndarray) -> float:
        """How much longer than the prior answers to a query with context ``x`` run (1 unseen)."""
        weights = self._solve(len(x))
        if weights is None:
            return 1.0
        return max(self.MIN_BASE, float(np.asarray(x, dtype=float) @ weights))

    def _solve(self, dim: int) -> np.ndarray | None:
        with self._lock:
            if self._S is None or self._r is None or self._S.shape[0] != dim:
                return None
            if self._weights is None:
                # Prior: the ratio is 1 (the bias, the last feature), worth prior_weight answers;
                # the other weights 0 with the same precision.
                prior = np.zeros(dim)
                prior[-1] = 1.0
                A = self._S + self.prior_weight * np.eye(dim)
                self._weights = np.linalg.solve(A, self._r + self.prior_weight * prior)
            return self._weights

    def _raw(self, model: str) -> float:
        sums = self._wordy.get(model)
        return 1.0 if sums is None else (self.prior_weight + sums[1]) / (self.prior_weight + sums[0])

    def verbosity(self, model: str) -> float:
        """How much longer than the pooled estimate ``model``'s answers run (1 unseen), relative
        to the answer-weighted mean over models (1), so the pooled regression keeps the scale."""
        total = sum(s[0] for s in self._wordy.values())
        if total <= 0:
            return 1.0
        mean = sum(s[0] * self._raw(m) for m, s in self._wordy.items()) / total
        return self._raw(model) / mean

    def ratio(self, model: str, x: Sequence[float] | np.ndarray) -> float:
        """The expected ratio of ``model``'s answer length to the prior for context ``x``."""
        return self.base(x) * self.verbosity(model)

    def estimate(self, model: str, x: Sequence[float] | np.ndarray, prior_tokens: float) -> float:
        """Expected answer tokens of ``model`` for a query with context ``x`` and prior ``prior_tokens``."""
        return prior_tokens * self.ratio(model, x)

    def prepare(self, model: str, x: Sequence[float] | np.ndarray, prior_tokens: float, tokens: float,
                weight: float = 1.0) -> Sample | None:
        """One answer as the update takes it (None when a figure is not usable): the context,
        the ratio to the prior, the ratio to the pooled estimate and the answer's weight."""
        if not _usable(prior_tokens, tokens, weight) or prior_tokens <= 0 or tokens < 0 or weight <= 0:
            return None
        vec = np.asarray(x, dtype=float)
        if vec.ndim != 1 or vec.size == 0 or not np.all(np.isfinite(vec)):
            return None
        ratio = min(self.MAX_RATIO, tokens / prior_tokens)
        return Sample(model, vec, ratio, ratio / self.base(vec), min(float(weight), 1.0 / self.MIN_PROPENSITY))

    def observe(self, model: str, x: Sequence[float] | np.ndarray, prior_tokens: float, tokens: float, *,
                weight: float = 1.0) -> bool:
        """One answer of ``tokens`` where the prior said ``prior_tokens``; ``weight`` is the
        inverse of the probability that ``model`` was chosen for it. False (ignored) when a
        figure is not usable."""
        sample = self.prepare(model, x, prior_tokens, tokens, weight)
        if sample is None:
            return False
        self.apply(sample)
        return True

    def apply(self, sample: Sample) -> None:
        """Fold a prepared answer in (the arithmetic :mod:`conduit_router.shared_lengths` repeats in Redis)."""
        with self._lock:
            wordy = self._wordy.setdefault(sample.model, [0.0, 0.0, 0])
            wordy[0] = self.gamma * wordy[0] + sample.weight
            wordy[1] = self.gamma * wordy[1] + sample.weight * sample.relative
            wordy[2] += 1
        verbosity = self.verbosity(sample.model)
        vec = sample.x
        with self._lock:
            if self._S is None or self._r is None or self._S.shape[0] != vec.size:
                self._S, self._r = np.zeros((vec.size, vec.size)), np.zeros(vec.size)
            self._S = self.gamma * self._S + np.outer(vec, vec)
            self._r = self.gamma * self._r + vec * (sample.ratio / verbosity)
            self._weights = None

    def state(self) -> dict[str, Any]:
        """The learned figures (what Redis keeps for every worker)."""
        with self._lock:
            return {"S": None if self._S is None else self._S.tolist(), "r": None if self._r is None else self._r.tolist(),
                    "m": {name: list(sums) for name, sums in self._wordy.items()}}

    def take(self, S: np.ndarray | None, r: np.ndarray | None, wordy: dict[str, list[float]]) -> None:
        """Replace the learned figures (by the shared ones)."""
        with self._lock:
            self._S, self._r, self._weights = S, r, None
            self._wordy = wordy

    def to_dict(self) -> dict[str, Any]:
        """Per model: the answers seen and the learned verbosity."""
        return {model: {"answers": int(sums[2]), "verbosity": round(self.verbosity(model), 4)}
                for model, sums in sorted(self._wordy.items())}
