"""A spending limit as a learned price of cost (``Objective(cost_budget=b)``).

"Spend at most half of what the strongest model would cost, and get the best quality for
it" is a constraint, not a weight: which cost weight meets it depends on the traffic, the
catalogue and what the router has learned, and a fixed weight that meets it on one
workload over- or under-spends on the next. The router therefore treats the cost weight
as the Lagrange multiplier ``λ`` of the constraint

    Σ cost(chosen) ≤ b · Σ cost(priciest catalogue model)      (over the decisions)

and learns it online (dual ascent, multiplicatively so it can span orders of magnitude):
each decision is made with the weighted objective whose cost term is ``λ`` per unit of
quality weight, and then

    λ ← clip(λ · exp(η · (c − b·m) / m̄), λ_min, λ_max)

with ``c`` the chosen model's estimated cost, ``m`` the priciest model's estimated cost for
the same query and ``m̄`` a running mean of ``m``: λ rises while decisions spend above the
budget and falls while they spend below it. When even the quality-first choice spends less
than the budget, λ sinks to ``λ_min`` and the weights decide as if cost were (nearly) free.

The state is per process. With several workers each keeps its own spending within ``b``,
so their sum is too (a sum of ratios bounded by ``b`` is bounded by ``b``). Costs are the
router's estimates at decision time (token estimate × list price), the same figures the
decision itself weighs.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from conduit_router.models import Objective

__all__ = ["BudgetPacer"]


class BudgetPacer:
    """The learned price of cost for ``objective.cost_budget`` (see the module docstring).

    ``step`` is η; ``window`` the number of decisions the running means cover."""

    STEP = 0.1
    MIN_PRICE = 1e-3
    MAX_PRICE = 1e3
    WINDOW = 200
    DEFAULT_START = 0.1

    def __init__(self, objective: Objective, *, step: float = STEP, window: int = WINDOW) -> None:
        if objective.cost_budget is None:
            raise ValueError("BudgetPacer needs an objective with a cost_budget")
        if not (step > 0 and math.isfinite(step)) or window < 1:
            raise ValueError(f"step must be > 0 and window >= 1, got {step!r}, {window!r}")
        self.objective = objective
        self.budget = objective.cost_budget
        self.step = float(step)
        self.window = int(window)
        start = objective.cost / objective.quality if objective.cost > 0 else self.DEFAULT_START
        self.price = min(self.MAX_PRICE, max(self.MIN_PRICE, start))
        self.decisions = 0
        self._max_mean = 0.0  # running mean of the priciest model's cost per query
        self._spent = 0.0  # discounted sums over about `window` decisions, for reporting
        self._priciest = 0.0
        self._lock = threading.Lock()

    def current(self) -> Objective:
        """The weighted objective to decide the next query with (cost priced at the current λ,
        which every decision moves, so there is nothing to cache)."""
        return self.objective.priced(self.price)

    def record(self, cost: float, max_cost: float) -> None:
        """Account for one decision: ``cost`` of the chosen model, ``max_cost`` of the priciest one."""
        if not (math.isfinite(cost) and math.isfinite(max_cost)) or max_cost <= 0:
            return  # a catalogue without prices: nothing to pace
        with self._lock:
            self.decisions += 1
            self._max_mean += (max_cost - self._max_mean) / min(self.decisions, self.window)
            gradient = (cost - self.budget * max_cost) / self._max_mean
            gradient = max(-1.0, min(1.0, gradient))
            self.price = min(self.MAX_PRICE, max(self.MIN_PRICE, self.price * math.exp(self.step * gradient)))
            keep = 1.0 - 1.0 / self.window
            self._spent = keep * self._spent + cost
            self._priciest = keep * self._priciest + max_cost

    @property
    def spend_share(self) -> float | None:
        """Recent spending as a share of what the priciest model would have cost (None before any decision)."""
        return self._spent / self._priciest if self._priciest > 0 else None

    def to_dict(self) -> dict[str, Any]:
        share = self.spend_share
        return {"cost_budget": self.budget, "cost_price": round(self.price, 6), "decisions": self.decisions,
                "recent_spend_share": None if share is None else round(share, 4)}
