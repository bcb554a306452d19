"""What the router believes about each model, as discounted sufficient statistics.

Per model and feature space the router keeps, for the Bayesian linear model of quality
``y ≈ θ·x``::

    S  = Σ γ^age · w · x xᵀ      r  = Σ γ^age · w · x y      n = Σ γ^age · w
    yy = Σ γ^age · w · y²        u  = number of quality updates (never discounted)
    ee = Σ γ^age · w · (y − p)²  ev = Σ γ^age · w · (1 + v)   (full-weight answers only)

and for latency the discounted count and sum of ``log(latency_ms)`` (``lw``, ``ls``,
``lu``). An update multiplies the old statistics by the discount ``γ`` and adds the new
observation. ``ee`` and ``ev`` hold the answers' errors against what the posterior predicted
before them (``p``, with variance ``σ²·v``): ``E[(y − p)²] = σ²(1 + v)``, so ``ee / ev``
estimates the feedback's noise ``σ²`` (:func:`conduit_router.bandit.learned_noise`).
Priors are not stored: they are added when the posterior is computed
(:mod:`conduit_router.bandit`), so a catalogue's priors can change without touching data.

Forgetting is driven by a change detector, so evidence piles up while nothing changes and
is dropped when something does. The caller passes each observation's expected quality
``p`` (the model's current posterior mean for that query); the detector is the
risk-adjusted Bernoulli CUSUM of Steiner, Cook, Farewell and Treasure (Biostatistics,
2000): two one-sided sums of log-likelihood ratios,

    dn = max(0, dn + w·(y·ln(1/R) − ln(1 − p + p/R)))      (the odds of a right answer ÷ R)
    up = max(0, up + w·(y·ln(R)   − ln(1 − p + p·R)))      (the odds × R)

(``R`` the ``odds`` of :class:`DriftTest`; ``y`` in [0, 1], graded feedback enters the
Bernoulli likelihood linearly). While outcomes agree with the posterior each step is
negative on average (minus a Kullback-Leibler divergence), whatever ``p``; when one sum
passes the threshold ``h`` the model has drifted: its quality evidence is scaled down to
``keep`` observations' worth, every sum restarts and ``dr`` counts the event.

The sums are kept per kind of query (``cell``: the router passes the context's domain), a
pair each. A model can fail on one kind of query only (a provider's update that breaks its
maths); in a single pair of sums over all its traffic, the drop's evidence would be
diluted by its answers on every other kind, and, where those come out a little better than
predicted, cancelled (docs/router.md measures both). Per kind, each sum hears only the
outcomes it tests.

Why likelihood ratios rather than standardised residuals ``(y − p)/sqrt(p(1 − p))`` with an
allowance (the earlier detector): a right-or-wrong outcome is skewed, so a wrong answer from
a model right 85% of the time is a residual of −2.4 sd, and the sum of those raised "down"
alarms on stationary data, each dropping what the model had learned (docs/router.md gives
the alarm counts measured on bench/router_eval.py's workload). The likelihood ratio weighs a
wrong answer by how much more likely it is after the change than before, which is the
optimal test (Moustakides 1986). ``R = 3`` and ``h = 7`` (an in-control run length of at
least e^7 ≈ 1,100 observations for a perfectly calibrated posterior, far more in practice)
catch a halved accuracy in tens of the model's observations: a drop from 0.7 to 0.35 adds
0.24 per observation on average (about 29 observations to the threshold), one from GPQA's
0.54 to 0.27 adds 0.15 (about 47).

:class:`LocalPosteriors` keeps the statistics in this process (the default);
:class:`~conduit_router.redis_posteriors.RedisPosteriors` keeps them in Redis, where every
update is one Lua script, so workers and hosts share them without losing an update.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

__all__ = ["MAX_CELLS", "DriftTest", "LocalPosteriors", "ModelStats", "PosteriorBackend", "apply_update",
           "check_cell"]

# The detector keeps a pair of sums per kind of query; a cell index must be below this.
MAX_CELLS = 64


@dataclass(frozen=True)
class DriftTest:
    """The change detector's knobs (see the module docstring): ``odds`` R, the factor by
    which the odds of a right answer must fall (or rise) to count as a change, ``threshold``
    h in nats of evidence, ``keep`` the observations' worth of quality evidence left after a
    detected drift. ``threshold=0`` turns it off."""

    odds: float = 3.0
    threshold: float = 7.0
    keep: float = 10.0

    def __post_init__(self) -> None:
        if not (self.odds > 1 and math.isfinite(self.odds) and self.threshold >= 0 and self.keep > 0):
            raise ValueError("drift test: odds must be > 1, threshold >= 0 and keep > 0, got "
                             f"{self.odds!r}, {self.threshold!r}, {self.keep!r}")

    def evidence(self, expected: float, y: float) -> tuple[float, float]:
        """The log-likelihood ratios of outcome ``y`` for a fall and for a rise of the odds,
        against ``expected`` (clipped to [0.01, 0.99]). The Lua script computes the same."""
        p = min(0.99, max(0.01, expected))
        r = self.odds
        return (y * math.log(1.0 / r) - math.log(1.0 - p + p / r), y * math.log(r) - math.log(1.0 - p + p * r))


@dataclass
class ModelStats:
    """The sufficient statistics of one model (see the module docstring)."""

    S: np.ndarray
    r: np.ndarray
    n: float = 0.0
    yy: float = 0.0
    u: int = 0
    lw: float = 0.0
    ls: float = 0.0
    lu: int = 0
    v: int = 0
    dn: list[float] = field(default_factory=list)
    up: list[float] = field(default_factory=list)
    dr: int = 0
    ee: float = 0.0
    ev: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls, dim: int) -> ModelStats:
        return cls(S=np.zeros((dim, dim)), r=np.zeros(dim))

    @property
    def dim(self) -> int:
        return int(self.r.shape[0])

    def to_json(self) -> dict[str, Any]:
        return {"d": self.dim, "S": self.S.ravel().tolist(), "r": self.r.tolist(), "n": self.n, "yy": self.yy,
                "u": self.u, "lw": self.lw, "ls": self.ls, "lu": self.lu, "v": self.v,
                "dnc": self.dn, "upc": self.up, "dr": self.dr, "ee": self.ee, "ev": self.ev}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelStats:
        d = int(data["d"])
        return cls(
            S=np.asarray(data["S"], dtype=np.float64).reshape(d, d),
            r=np.asarray(data["r"], dtype=np.float64),
            n=float(data["n"]), yy=float(data["yy"]), u=int(data["u"]),
            lw=float(data["lw"]), ls=float(data["ls"]), lu=int(data["lu"]), v=int(data["v"]),
            dn=_sums(data.get("dnc")), up=_sums(data.get("upc")), dr=int(data.get("dr", 0)),
            ee=float(data.get("ee", 0.0)), ev=float(data.get("ev", 0.0)),  # absent: written by an earlier version
        )

    def copy(self) -> ModelStats:
        return ModelStats(self.S.copy(), self.r.copy(), self.n, self.yy, self.u, self.lw, self.ls, self.lu, self.v,
                          list(self.dn), list(self.up), self.dr, self.ee, self.ev)


def check_cell(cell: int) -> None:
    """Raise ValueError unless ``cell`` is a kind-of-query index the detector keeps sums for."""
    if isinstance(cell, bool) or not (isinstance(cell, int) and 0 <= cell < MAX_CELLS):
        raise ValueError(f"cell must be an integer in [0, {MAX_CELLS}), got {cell!r}")


def _sums(value: Any) -> list[float]:
    """The detector's sums as stored: a list (anything else, such as the single number an
    earlier version kept or the empty object Lua writes for an empty list, restarts them)."""
    return [float(v) for v in value] if isinstance(value, list) else []


def apply_update(
    stats: ModelStats,
    x: np.ndarray | None,
    y: float | None,
    weight: float,
    gamma: float,
    log_latency: float | None,
    latency_gamma: float,
    expected: float | None = None,
    drift: DriftTest | None = None,
    cell: int = 0,
    spread: float | None = None,
) -> ModelStats:
    """Fold one observation into ``stats`` in place (the Lua script does exactly this).

    ``expected`` is the quality the posterior predicted for this observation, for the change
    detector (None: the observation does not count for it, e.g. weak implicit evidence);
    ``cell`` the kind of query whose sums it adds to (0, 1, ...); ``spread`` the variance of
    that prediction over σ² (``xᵀA⁻¹x``), with ``expected`` for the noise's sums (None: not
    counted)."""
    if y is not None and x is not None:
        if expected is not None and drift is not None and drift.threshold > 0:
            down, up = drift.evidence(expected, y)
            for sums in (stats.dn, stats.up):
                sums.extend([0.0] * (cell + 1 - len(sums)))
            stats.dn[cell] = max(0.0, stats.dn[cell] + weight * down)
            stats.up[cell] = max(0.0, stats.up[cell] + weight * up)
            if stats.dn[cell] > drift.threshold or stats.up[cell] > drift.threshold:
                if stats.n > drift.keep:
                    f = drift.keep / stats.n
                    stats.S *= f
                    stats.r *= f
                    stats.n *= f
                    stats.yy *= f
                    stats.ee *= f
                    stats.ev *= f
                stats.dn = [0.0] * len(stats.dn)
                stats.up = [0.0] * len(stats.up)
                stats.dr += 1
        wx = weight * x
        stats.S *= gamma
        stats.S += np.outer(wx, x)
        stats.r *= gamma
        stats.r += wx * y
        stats.n = gamma * stats.n + weight
        stats.yy = gamma * stats.yy + weight * y * y
        stats.ee *= gamma
        stats.ev *= gamma
        if expected is not None and spread is not None:
            stats.ee += weight * (y - expected) ** 2
            stats.ev += weight * (1.0 + spread)
        stats.u += 1
    if log_latency is not None:
        stats.lw = latency_gamma * stats.lw + 1.0
        stats.ls = latency_gamma * stats.ls + log_latency
        stats.lu += 1
    stats.v += 1
    return stats


class PosteriorBackend(Protocol):
    """Where the statistics live. Every update is atomic with respect to every reader."""

    async def snapshot(self, names: Iterable[str], *, wait: bool = False) -> dict[str, ModelStats]:
        """The current statistics of ``names`` (models never updated are absent); a backend
        that keeps a copy of shared state may answer from it and read again later
        (:meth:`start_due`), or now with ``wait``."""
        ...

    def start_due(self) -> None:
        """Start a read :meth:`snapshot` left due, beside the caller (nothing to do here when
        the statistics are in this process)."""
        ...

    def cached(self) -> dict[str, ModelStats]:
        """The last statistics seen, without I/O (for synchronous ``stats()``)."""
        ...

    async def update(self, name: str, x: np.ndarray | None, y: float | None, weight: float,
                     log_latency: float | None, expected: float | None = None, cell: int = 0,
                     spread: float | None = None) -> ModelStats:
        """Fold one observation into ``name``'s statistics atomically; return the result
        (``expected``: the quality the posterior predicted, for the change detector, or None;
        ``cell``: the kind of query, whose sums of the detector it adds to; ``spread``: the
        prediction's variance over σ², for the noise's sums; see :func:`apply_update`)."""
        ...

    async def reset(self, names: Iterable[str]) -> None:
        """Forget everything learned about ``names``."""
        ...

    async def close(self) -> None:
        """Deliver anything pending; the backend is not used afterwards."""
        ...


class LocalPosteriors:
    """Statistics in this process, guarded by a lock (threads and event loops alike)."""

    shared = False

    def __init__(self, dim: int, *, gamma: float = 1.0, latency_gamma: float = 0.98,
                 drift: DriftTest | None = None) -> None:
        self.dim = dim
        self.gamma = gamma
        self.drift = drift
        self.latency_gamma = latency_gamma
        self._stats: dict[str, ModelStats] = {}
        self._lock = threading.Lock()

    async def snapshot(self, names: Iterable[str], *, wait: bool = False) -> dict[str, ModelStats]:
        return self.cached()

    def start_due(self) -> None:
        return None

    def cached(self) -> dict[str, ModelStats]:
        with self._lock:
            return dict(self._stats)

    async def update(self, name: str, x: np.ndarray | None, y: float | None, weight: float,
                     log_latency: float | None, expected: float | None = None, cell: int = 0,
                     spread: float | None = None) -> ModelStats:
        check_cell(cell)
        if x is not None and len(x) != self.dim:
            raise ValueError(f"the context vector has {len(x)} values; these posteriors take {self.dim}")
        with self._lock:
            # Copy-on-write: a snapshot handed out earlier is never mutated under a reader.
            current = self._stats.get(name)
            stats = current.copy() if current is not None else ModelStats.empty(self.dim)
            apply_update(stats, x, y, weight, self.gamma, log_latency, self.latency_gamma, expected, self.drift, cell,
                         spread)
            self._stats[name] = stats
            return stats

    async def reset(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self._stats.pop(name, None)

    async def close(self) -> None:
        return None
