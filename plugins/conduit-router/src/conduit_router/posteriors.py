"""What the router believes about each model, as discounted sufficient statistics.

Per model and feature space the router keeps, for the Bayesian linear model of quality
``y ≈ θ·x``::

    S  = Σ γ^age · w · x xᵀ      r  = Σ γ^age · w · x y      n = Σ γ^age · w
    yy = Σ γ^age · w · y²        u  = number of quality updates (never discounted)

and for latency the discounted count and sum of ``log(latency_ms)`` (``lw``, ``ls``,
``lu``). An update multiplies the old statistics by the discount ``γ`` and adds the new
observation, so old evidence fades and a model whose quality drops loses traffic. Priors
are not stored: they are added when the posterior is computed
(:mod:`conduit_router.bandit`), so a catalogue's priors can change without touching data.

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

__all__ = ["LocalPosteriors", "ModelStats", "PosteriorBackend", "apply_update"]


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
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls, dim: int) -> ModelStats:
        return cls(S=np.zeros((dim, dim)), r=np.zeros(dim))

    @property
    def dim(self) -> int:
        return int(self.r.shape[0])

    def to_json(self) -> dict[str, Any]:
        return {"d": self.dim, "S": self.S.ravel().tolist(), "r": self.r.tolist(), "n": self.n, "yy": self.yy,
                "u": self.u, "lw": self.lw, "ls": self.ls, "lu": self.lu, "v": self.v}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelStats:
        d = int(data["d"])
        return cls(
            S=np.asarray(data["S"], dtype=np.float64).reshape(d, d),
            r=np.asarray(data["r"], dtype=np.float64),
            n=float(data["n"]), yy=float(data["yy"]), u=int(data["u"]),
            lw=float(data["lw"]), ls=float(data["ls"]), lu=int(data["lu"]), v=int(data["v"]),
        )

    def copy(self) -> ModelStats:
        return ModelStats(self.S.copy(), self.r.copy(), self.n, self.yy, self.u, self.lw, self.ls, self.lu, self.v)


def apply_update(
    stats: ModelStats,
    x: np.ndarray | None,
    y: float | None,
    weight: float,
    gamma: float,
    log_latency: float | None,
    latency_gamma: float,
) -> ModelStats:
    """Fold one observation into ``stats`` in place (the Lua script does exactly this)."""
    if y is not None and x is not None:
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
                     log_latency: float | None) -> ModelStats:
        """Fold one observation into ``name``'s statistics atomically; return the result."""
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

    def __init__(self, dim: int, *, gamma: float = 0.99, latency_gamma: float = 0.98) -> None:
        self.dim = dim
        self.gamma = gamma
        self.latency_gamma = latency_gamma
        self._stats: dict[str, ModelStats] = {}
        self._lock = threading.Lock()

    async def snapshot(self, names: Iterable[str]) -> dict[str, ModelStats]:
        return self.cached()

    def cached(self) -> dict[str, ModelStats]:
        with self._lock:
            return dict(self._stats)

    async def update(self, name: str, x: np.ndarray | None, y: float | None, weight: float,
                     log_latency: float | None) -> ModelStats:
        with self._lock:
            # Copy-on-write: a snapshot handed out earlier is never mutated under a reader.
            current = self._stats.get(name)
            stats = current.copy() if current is not None else ModelStats.empty(self.dim)
            apply_update(stats, x, y, weight, self.gamma, log_latency, self.latency_gamma)
            self._stats[name] = stats
            return stats

    async def reset(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self._stats.pop(name, None)

    async def close(self) -> None:
        return None
