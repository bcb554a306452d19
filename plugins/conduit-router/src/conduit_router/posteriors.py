"""What the router believes about each model, as discounted sufficient statistics.

Per model and feature space the router keeps, for the Bayesian linear model of quality
``y ≈ θ·x``::

    S  = Σ γ^age · w · x xᵀ      r  = Σ γ^age · w · x y      n = Σ γ^age · w
    yy = Σ γ^age · w · y²        u  = number of quality updates (never discounted)

and for latency the discounted count and sum of ``log(latency_ms)`` (``lw``, ``ls``,
``lu``). An update multiplies the old statistics by the discount ``γ`` and adds the new
observation. Priors are not stored: they are added when the posterior is computed
(:mod:`conduit_router.bandit`), so a catalogue's priors can change without touching data.

Forgetting is driven by a change detector, so evidence piles up while nothing changes and
is dropped when something does. The caller passes each observation's standardised
residual against the model's current posterior, ``z = (y − ŷ) / sqrt(ŷ(1 − ŷ))`` (ŷ the
predicted quality; ``ŷ(1 − ŷ)`` is the largest variance an outcome in [0, 1] with that
mean can have, so ``z`` is conservative for any feedback). Two one-sided CUSUM sums

    dn = max(0, dn − w·(z + k))        up = max(0, up + w·(z − k))

(``k`` the allowance of :class:`DriftTest`) stay near 0 while outcomes agree with the
posterior; when one passes the threshold ``h`` the model has drifted: its quality
evidence is scaled down to ``keep`` observations' worth, both sums restart and ``dr``
counts the event. ``k = 0.25`` is half the smallest shift to catch quickly: half a standard
deviation, which is what halving a mid-range accuracy amounts to (GPQA's 0.47 → 0.23 is
0.47 sd); ``h = 12`` keeps the false-alarm interval of ideal residuals in the thousands of
observations (the linear model's misfit makes it shorter in practice). A drop of half a
standard deviation is caught in about 50 of the model's observations, one of a whole
standard deviation in about 16. (k = 0.5, h = 8, the earlier defaults, never caught a
0.47-sd drop on its own and raised more false alarms on the tests' workload.)

:class:`LocalPosteriors` keeps the statistics in this process (the default);
:class:`~conduit_router.redis_posteriors.RedisPosteriors` keeps them in Redis, where every
update is one Lua script, so workers and hosts share them without losing an update.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

__all__ = ["DriftTest", "LocalPosteriors", "ModelStats", "PosteriorBackend", "apply_update"]


@dataclass(frozen=True)
class DriftTest:
    """The change detector's knobs (see the module docstring): ``allowance`` k and
    ``threshold`` h in standard deviations of an outcome, ``keep`` the observations'
    worth of quality evidence left after a detected drift. ``threshold=0`` turns it off."""

    allowance: float = 0.25
    threshold: float = 12.0
    keep: float = 20.0

    def __post_init__(self) -> None:
        if not (self.allowance >= 0 and self.threshold >= 0 and self.keep > 0):
            raise ValueError("drift test: allowance and threshold must be >= 0 and keep > 0, got "
                             f"{self.allowance!r}, {self.threshold!r}, {self.keep!r}")


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
    dn: float = 0.0
    up: float = 0.0
    dr: int = 0
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
                "dn": self.dn, "up": self.up, "dr": self.dr}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelStats:
        d = int(data["d"])
        return cls(
            S=np.asarray(data["S"], dtype=np.float64).reshape(d, d),
            r=np.asarray(data["r"], dtype=np.float64),
            n=float(data["n"]), yy=float(data["yy"]), u=int(data["u"]),
            lw=float(data["lw"]), ls=float(data["ls"]), lu=int(data["lu"]), v=int(data["v"]),
            dn=float(data.get("dn", 0.0)), up=float(data.get("up", 0.0)), dr=int(data.get("dr", 0)),
        )

    def copy(self) -> ModelStats:
        return ModelStats(self.S.copy(), self.r.copy(), self.n, self.yy, self.u, self.lw, self.ls, self.lu, self.v,
                          self.dn, self.up, self.dr)


def apply_update(
    stats: ModelStats,
    x: np.ndarray | None,
    y: float | None,
    weight: float,
    gamma: float,
    log_latency: float | None,
    latency_gamma: float,
    z: float | None = None,
    drift: DriftTest | None = None,
) -> ModelStats:
    """Fold one observation into ``stats`` in place (the Lua script does exactly this).

    ``z`` is the observation's standardised residual for the change detector (None: the
    observation does not count for it, e.g. weak implicit evidence)."""
    if y is not None and x is not None:
        if z is not None and drift is not None and drift.threshold > 0:
            stats.dn = max(0.0, stats.dn - weight * (z + drift.allowance))
            stats.up = max(0.0, stats.up + weight * (z - drift.allowance))
            if stats.dn > drift.threshold or stats.up > drift.threshold:
                if stats.n > drift.keep:
                    f = drift.keep / stats.n
                    stats.S *= f
                    stats.r *= f
                    stats.n *= f
                    stats.yy *= f
                stats.dn = stats.up = 0.0
                stats.dr += 1
        wx = weight * x
        stats.S *= gamma
        stats.S += np.outer(wx, x)
        stats.r *= gamma
        stats.r += wx * y
        stats.n = gamma * stats.n + weight
        stats.yy = gamma * stats.yy + weight * y * y
        stats.u += 1
    if log_latency is not None:
        stats.lw = latency_gamma * stats.lw + 1.0
        stats.ls = latency_gamma * stats.ls + log_latency
        stats.lu += 1
    stats.v += 1
    return stats


class PosteriorBackend(Protocol):
    """Where the statistics live. Every update is atomic with respect to every reader."""

    async def snapshot(self, names: Iterable[str]) -> dict[str, ModelStats]:
        """The current statistics of ``names`` (models never updated are absent)."""
        ...

    def cached(self) -> dict[str, ModelStats]:
        """The last statistics seen, without I/O (for synchronous ``stats()``)."""
        ...

    async def update(self, name: str, x: np.ndarray | None, y: float | None, weight: float,
                     log_latency: float | None, z: float | None = None) -> ModelStats:
        """Fold one observation into ``name``'s statistics atomically; return the result
        (``z``: its standardised residual for the change detector, or None)."""
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

    async def snapshot(self, names: Iterable[str]) -> dict[str, ModelStats]:
        return self.cached()

    def cached(self) -> dict[str, ModelStats]:
        with self._lock:
            return dict(self._stats)

    async def update(self, name: str, x: np.ndarray | None, y: float | None, weight: float,
                     log_latency: float | None, z: float | None = None) -> ModelStats:
        if x is not None and len(x) != self.dim:
            raise ValueError(f"the context vector has {len(x)} values; these posteriors take {self.dim}")
        with self._lock:
            # Copy-on-write: a snapshot handed out earlier is never mutated under a reader.
            current = self._stats.get(name)
            stats = current.copy() if current is not None else ModelStats.empty(self.dim)
            apply_update(stats, x, y, weight, self.gamma, log_latency, self.latency_gamma, z, self.drift)
            self._stats[name] = stats
            return stats

    async def reset(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self._stats.pop(name, None)

    async def close(self) -> None:
        return None
