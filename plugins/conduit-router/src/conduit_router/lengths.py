"""How long each model's answers are, learned from the usage the router sees.

A decision's cost estimate is ``input tokens × input price + answer tokens × output price``,
and the answer's length is the part the router cannot read from the query. Its prior,
:func:`~conduit_router.analysis.expected_output_tokens`, is one figure per domain and
complexity for every model; real models differ (one writes twice as much as another on the
same question, a reasoning model's thinking tokens are billed as output) and so do
workloads. :class:`AnswerLengths` scales the prior by two learned factors:

    estimate = prior × base(x) × verbosity(model)

``base(x)`` is how much longer than the prior answers to this kind of query run, whoever
writes them: a ridge regression of the ratio ``r = tokens / prior`` on the query's context
vector, one regression per *cell* (the domain the router's classifier gave the query: the
context's one-hot), on the context without its one-hot (the embedding's projection,
complexity, length, bias). Within a cell the regression separates the kinds of query the
classifier files together (requests for a poem and questions of fact both land in
"factual" when no rule matches; their answers differ fourfold), which one regression linear
in the whole context could not. ``verbosity(model)`` is how much longer than that a model
writes, one factor per model.

Both are fitted *jointly*, by least squares of ``r ≈ verbosity(m) · base(x)`` over every
answer seen, from sufficient statistics kept per (cell, model) pair: ``S = Σ w·z zᵀ``,
``ρ = Σ w·r·z`` and ``W = Σ w`` (``z`` the cell's features, ``w`` the answer's weight). With
the verbosities fixed, each cell's regression is a ridge solve of ``Σ_m v_m² S`` against
``Σ_m v_m ρ``; with the regressions fixed, each verbosity is ``Σ β·ρ / Σ βᵀ S β`` over its
cells (a prior of 1 worth ``prior_weight``). The alternation starts from the previous
solution and stops when no verbosity moves by more than ``TOLERANCE`` (relative): after a
few more answers that is one or two steps. The fit is refitted once every few answers
(:meth:`AnswerLengths._answered`), not after each. Fitted jointly, neither factor takes the other's
error for its own: when the cheap models answer most of the questions of fact, a base read
too high there would otherwise be "confirmed" by their verbosities read too low, and the
priciest model, which answers few of them, would be estimated too wordy on them (the
budget's reference, so a spending limit overspent by as much).

Each answer is weighted by the inverse of the probability that the router chose its model
for that query (``weight``, at most ``1 / MIN_PROPENSITY``): a router that sends a model the
queries whose answers the regression underestimates would otherwise read the shortfall as
that model's verbosity (the winner's curse). Each pair's sums are discounted by ``gamma``
per answer of the pair, so a model that changes is followed. Ratios (not their logarithms)
are fitted, which keeps the estimated cost right on average: what a spending limit paced on
estimates needs. The verbosities are normalised to average 1 over the answers seen
(weighted), so a model never seen is expected to write like the average answer.

Usage comes from ``complete()`` (the provider's token counts), ``feedback(output_tokens=...)``
and ``feedback(cost=...)`` (the answer tokens the cost implies at the model's prices). In
memory the figures are kept per process; with Redis the pairs' sums are shared by every
worker and host (:mod:`conduit_router.shared_lengths`) and each worker fits from them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = ["AnswerLengths", "Pair", "Sample"]


def _usable(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


class Sample(NamedTuple):
    """One answer, prepared for the update: its ``cell``, the cell's features ``z``, ``ratio``
    (tokens / prior) and ``weight`` (the inverse propensity, capped)."""

    model: str
    cell: int
    z: np.ndarray
    ratio: float
    weight: float


class Pair(NamedTuple):
    """The discounted sums of one (cell, model) pair: ``S = Σ w·z zᵀ``, ``rho = Σ w·r·z``,
    ``w = Σ w`` and ``n`` the answers seen (not discounted)."""

    S: np.ndarray
    rho: np.ndarray
    w: float
    n: int


class AnswerLengths:
    """Learned answer length as a ratio to the prior (see the module docstring).

    ``cells`` is where the context's one-hot of the query's domain sits (None: one cell, the
    whole context its features); ``prior_weight`` what the verbosity's prior of 1 is worth;
    ``ridge`` what each regression's prior (the ratio is 1: the last feature, the bias,
    weighs 1) is worth."""

    PRIOR_WEIGHT = 5.0
    RIDGE = 0.1
    MIN_PROPENSITY = 0.05
    GAMMA = 0.995
    MAX_RATIO = 50.0
    MIN_BASE = 0.05
    MAX_ALTERNATIONS = 20
    TOLERANCE = 1e-4
    REFIT_EVERY = 32

    def __init__(self, *, cells: slice | None = None, prior_weight: float = PRIOR_WEIGHT, ridge: float = RIDGE,
                 gamma: float = GAMMA) -> None:
        if not (prior_weight > 0 and math.isfinite(prior_weight)) or not (ridge > 0 and math.isfinite(ridge)) \
                or not 0.5 <= gamma <= 1.0:
            raise ValueError(f"prior_weight and ridge must be > 0 and gamma in [0.5, 1]; got {prior_weight!r}, "
                             f"{ridge!r}, {gamma!r}")
        self.cells = cells
        self.prior_weight = float(prior_weight)
        self.ridge = float(ridge)
        self.gamma = float(gamma)
        self._pairs: dict[tuple[int, str], Pair] = {}
        self._beta: dict[int, np.ndarray] = {}  # cell -> the regression's weights
        self._verbosity: dict[str, float] = {}
        self._keep: dict[int, np.ndarray] = {}  # context size -> the indices of the cell's features
        self._answers = 0  # answers folded in by this object
        self._since_fit = 0
        self._lock = threading.Lock()

    # --- reading ----------------------------------------------------------------------------------

    def split(self, x: Sequence[float] | np.ndarray, cell: int | None = None) -> tuple[int, np.ndarray]:
        """The cell of a context and the cell's features (the context without the one-hot);
        ``cell``: the cell when the caller knows it (the index of the one-hot's 1)."""
        vec = np.asarray(x, dtype=float)
        if self.cells is None:
            return 0, vec
        keep = self._keep.get(vec.size)
        if keep is None:
            if not range(vec.size)[self.cells]:
                raise ValueError(f"a context of {vec.size} values has no cells at {self.cells}")
            keep = self._keep[vec.size] = np.delete(np.arange(vec.size), np.arange(vec.size)[self.cells])
        return int(np.argmax(vec[self.cells])) if cell is None else cell, vec[keep]

    def base(self, x: Sequence[float] | np.ndarray, cell: int | None = None) -> float:
        """How much longer than the prior answers to a query with context ``x`` run (1 unseen;
        ``cell`` as for :meth:`split`)."""
        cell, z = self.split(x, cell)
        beta = self._beta.get(cell)
        if beta is None or beta.size != z.size:
            return 1.0
        return max(self.MIN_BASE, float(z @ beta))

    def verbosity(self, model: str) -> float:
        """How much longer than the cell's estimate ``model``'s answers run (1: the average answer,
        and a model never seen)."""
        return self._verbosity.get(model, 1.0)

    def ratio(self, model: str, x: Sequence[float] | np.ndarray) -> float:
        """The expected ratio of ``model``'s answer length to the prior for context ``x``."""
        return self.base(x) * self.verbosity(model)

    def estimate(self, model: str, x: Sequence[float] | np.ndarray, prior_tokens: float) -> float:
        """Expected answer tokens of ``model`` for a query with context ``x`` and prior ``prior_tokens``."""
        return prior_tokens * self.ratio(model, x)

    # --- learning ---------------------------------------------------------------------------------

    def prepare(self, model: str, x: Sequence[float] | np.ndarray, prior_tokens: float, tokens: float,
                weight: float = 1.0) -> Sample | None:
        """One answer as the update takes it (None when a figure is not usable)."""
        if not _usable(prior_tokens, tokens, weight) or prior_tokens <= 0 or tokens < 0 or weight <= 0:
            return None
        vec = np.asarray(x, dtype=float)
        if vec.ndim != 1 or vec.size == 0 or not np.all(np.isfinite(vec)):
            return None
        try:
            cell, z = self.split(vec)
        except ValueError:
            return None
        ratio = min(self.MAX_RATIO, tokens / prior_tokens)
        return Sample(model, cell, z, ratio, min(float(weight), 1.0 / self.MIN_PROPENSITY))

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

    def fold(self, pair: Pair | None, sample: Sample) -> Pair:
        """``pair`` with ``sample`` folded in (the arithmetic :mod:`conduit_router.shared_lengths`
        repeats in Redis); a pair of another dimension starts again."""
        z, w, g = sample.z, sample.weight, self.gamma
        if pair is None or pair.rho.size != z.size:
            return Pair(w * np.outer(z, z), w * sample.ratio * z, w, 1)
        return Pair(g * pair.S + w * np.outer(z, z), g * pair.rho + w * sample.ratio * z, g * pair.w + w, pair.n + 1)

    def apply(self, sample: Sample) -> None:
        """Fold a prepared answer in (and refit when it is time: :meth:`_answered`)."""
        with self._lock:
            key = (sample.cell, sample.model)
            self._pairs[key] = self.fold(self._pairs.get(key), sample)
            self._answered()

    def take(self, pairs: Mapping[tuple[int, str], Pair], *, replace: bool = True) -> None:
        """Take these pairs' sums (the shared ones) in place of the local ones: all of them
        when ``replace`` (refit), else only these pairs, one answer's update (refit when it is
        time)."""
        with self._lock:
            if replace:
                self._pairs = dict(pairs)
                self._since_fit = 0
                self._fit()
            else:
                self._pairs.update(pairs)
                self._answered()

    def _answered(self) -> None:
        """Count one answer; refit once every ``1 + answers / 50`` of them, at most
        ``REFIT_EVERY`` (caller holds the lock). A fit solves one small system per cell a
        few times over, far more than folding an answer in; the figures move little in one
        answer, and every pair remembers about ``1 / (1 - gamma)`` of its own, so a fit
        lagging a few dozen answers changes no estimate that matters, and a process that
        learns from every answer of a busy service spends little on it."""
        self._answers += 1
        self._since_fit += 1
        if self._since_fit >= min(self.REFIT_EVERY, 1 + self._answers // 50):
            self._since_fit = 0
            self._fit()

    def _fit(self) -> None:
        """One alternation of the joint least squares, from the previous verbosities (caller holds the lock)."""
        dims = {pair.rho.size for pair in self._pairs.values()}
        if len(dims) != 1:
            self._beta, self._verbosity = {}, {}
            return  # nothing seen yet (or figures of two layouts: wait for one)
        k = dims.pop()
        models = sorted({m for _, m in self._pairs})
        cells = sorted({c for c, _ in self._pairs})
        index = {m: i for i, m in enumerate(models)}
        S = np.zeros((len(cells), len(models), k, k))
        rho = np.zeros((len(cells), len(models), k))
        W = np.zeros((len(cells), len(models)))
        for ci, c in enumerate(cells):
            for m in models:
                pair = self._pairs.get((c, m))
                if pair is not None:
                    S[ci, index[m]], rho[ci, index[m]], W[ci, index[m]] = pair.S, pair.rho, pair.w
        prior = np.zeros(k)
        prior[-1] = 1.0
        ridge = self.ridge * np.eye(k)

        def regressions(v: np.ndarray) -> np.ndarray:
            A = np.einsum("m,cmij->cij", v * v, S) + ridge
            b = np.einsum("m,cmi->ci", v, rho) + self.ridge * prior
            return np.linalg.solve(A, b[..., None])[..., 0]

        answers = W.sum(axis=0)
        v = np.array([self._verbosity.get(m, 1.0) for m in models])
        beta = regressions(v)
        for _ in range(self.MAX_ALTERNATIONS):
            fitted = np.einsum("ci,cmi->m", beta, rho)
            explained = np.einsum("ci,cmij,cj->m", beta, S, beta)
            step = (self.prior_weight + fitted) / (self.prior_weight + explained)
            if answers.sum() > 0:
                step = step / (float(answers @ step) / float(answers.sum()))
            beta = regressions(step)
            settled = bool(np.all(np.abs(step - v) <= self.TOLERANCE * v))
            v = step
            if settled:
                break
        self._beta = {c: beta[ci] for ci, c in enumerate(cells)}
        self._verbosity = {m: float(v[index[m]]) for m in models}

    # --- figures ----------------------------------------------------------------------------------

    def pairs(self) -> dict[tuple[int, str], Pair]:
        """The learned sums (what Redis keeps for every worker)."""
        with self._lock:
            return dict(self._pairs)

    def to_dict(self) -> dict[str, Any]:
        """Per model: the answers seen and the learned verbosity."""
        with self._lock:
            answers: dict[str, int] = {}
            for (_, model), pair in self._pairs.items():
                answers[model] = answers.get(model, 0) + pair.n
        return {model: {"answers": n, "verbosity": round(self.verbosity(model), 4)} for model, n in sorted(answers.items())}
