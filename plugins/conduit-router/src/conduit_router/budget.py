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

With a Redis state store the state is shared by every worker and host
(:mod:`conduit_router.shared_budget`: the same update, made atomically in Redis), so one
price is learned from all decisions; in memory it is per process, each process keeping its
own spending within ``b``. Costs are the
router's estimates at decision time (token estimate × list price), the same figures the
decision itself weighs; when the actual cost of a decision becomes known (``complete()``'s
usage, or ``feedback(cost=...)``) :meth:`BudgetPacer.settle` replaces the estimate with it,
so an estimate that runs low on some kind of query does not let spending drift above the
budget. The priciest model's cost is then taken at the answer's token counts when they are
known (``complete()``), else scaled by the same ratio as the chosen model's (it would have
written an answer as long); for a cached answer it is kept.
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
        self.settled = 0  # decisions whose actual cost replaced the estimate
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

    def settle(self, estimated: float, actual: float, max_estimated: float, *, same_model: bool = True,
               max_actual: float | None = None) -> None:
        """A decision's actual cost is known: move the price as :meth:`record` would have
        with it (``estimated`` and ``max_estimated`` are what was recorded then).

        ``max_actual`` is the priciest model's cost at the answer's actual token counts when
        they are known; otherwise the estimate is scaled like the chosen model's
        (``same_model``) or kept (an answer from another model, a cached one)."""
        if max_actual is None:
            max_actual = max_estimated * actual / estimated if same_model and estimated > 0 else max_estimated
        if not all(math.isfinite(v) and v >= 0 for v in (estimated, actual, max_estimated, max_actual)) \
                or max_estimated <= 0:
            return
        with self._lock:
            if self._max_mean <= 0:
                return
            # The running mean (the gradient's scale) follows the actual figure too.
            self._max_mean += (max_actual - max_estimated) / min(self.decisions, self.window)
            gradient = ((actual - estimated) - self.budget * (max_actual - max_estimated)) / self._max_mean
            gradient = max(-1.0, min(1.0, gradient))
            self.price = min(self.MAX_PRICE, max(self.MIN_PRICE, self.price * math.exp(self.step * gradient)))
            self.settled += 1
            self._spent = max(0.0, self._spent + actual - estimated)
            self._priciest = max(0.0, self._priciest + max_actual - max_estimated)

    @property
    def spend_share(self) -> float | None:
        """Recent spending as a share of what the priciest model would have cost (None before any decision)."""
        return self._spent / self._priciest if self._priciest > 0 else None

    def to_dict(self) -> dict[str, Any]:
        share = self.spend_share
        return {"cost_budget": self.budget, "cost_price": round(self.price, 6), "decisions": self.decisions,
                "settled": self.settled, "recent_spend_share": None if share is None else round(share, 4)}
