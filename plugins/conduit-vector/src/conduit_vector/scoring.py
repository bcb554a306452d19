"""Metrics: the seed's names, Chroma's HNSW spaces, and how a distance becomes a score.

Chroma returns a *distance* per hit (smaller is closer). Conduit reports both that raw
distance and a *score* (larger is closer), computed exactly as follows:

========== =========== ============================== =====================================
metric     Chroma space Chroma's distance ``d``       ``score``
========== =========== ============================== =====================================
cosine     ``cosine``  ``1 - cos(q, x)``, in [0, 2]   ``1 - d / 2`` = ``(1 + cos) / 2``,
                                                      clamped to [0, 1]
euclidean  ``l2``      ``||q - x||²`` (squared L2)    ``1 / (1 + sqrt(d))``, in (0, 1]
dot        ``ip``      ``1 - q·x``                    ``1 - d`` = ``q·x`` (unbounded; equals
                                                      the cosine for unit vectors)
========== =========== ============================== =====================================

The cosine score keeps the order of cosine similarity and maps it onto the seed's
"similarity score (0-1)": identical directions score 1, orthogonal 0.5, opposite 0.
"""

from __future__ import annotations

import math
from typing import Literal

from conduit.framework.errors import ConfigurationError

__all__ = ["METRICS", "SPACES", "Metric", "chroma_space", "metric_of_space", "score_from_distance"]

Metric = Literal["cosine", "euclidean", "dot"]

SPACES: dict[str, str] = {"cosine": "cosine", "euclidean": "l2", "dot": "ip"}
METRICS: tuple[str, ...] = tuple(SPACES)
_ALIASES = {"l2": "euclidean", "ip": "dot", "inner_product": "dot"}


def chroma_space(metric: str) -> str:
    """Chroma's HNSW space for one of the seed's metric names (``l2``/``ip`` accepted too)."""
    name = _ALIASES.get(metric, metric) if isinstance(metric, str) else metric
    if name not in SPACES:
        raise ConfigurationError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    return SPACES[name]


def metric_of_space(space: str) -> str:
    """The seed's metric name for a Chroma space."""
    for metric, chroma in SPACES.items():
        if chroma == space:
            return metric
    raise ConfigurationError(f"Chroma space {space!r} has no Conduit metric; Conduit supports {', '.join(SPACES.values())}")


def score_from_distance(metric: str, distance: float) -> float:
    """The score of a hit at Chroma ``distance`` under ``metric`` (see the module table)."""
    if metric == "cosine":
        return min(1.0, max(0.0, 1.0 - distance / 2.0))
    if metric == "euclidean":
        return 1.0 / (1.0 + math.sqrt(max(distance, 0.0)))
    if metric == "dot":
        return 1.0 - distance
    raise ConfigurationError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
