"""Why a spending limit overspent when choices are nearly deterministic: the winner's curse
in the learned answer lengths.

Runs the tests' synthetic workload with long answers (code, math and reasoning answers three
times the router's prior; every model writes alike) under ``cost_budget=0.5`` with cost
feedback, as ``test_budget.py`` does, for plain Thompson sampling and for exploration
tempered as evidence grows (``paced_exploration_floor``), with each answer's weight in its model's
verbosity at 1/propensity (the default) or at 1 (``AnswerLengths.MIN_PROPENSITY = 1``, the
earlier estimator). Per run, over the second half: what the router spent as a share of the
priciest model's true cost, the pacer's own view of it (settled costs over the priciest
model's settled cost), the priciest model's settled cost over its true cost, and the
learned verbosities (all true verbosities are 1).

    python bench/router_lengths_bias.py [--seeds 2] [--steps 1500]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from conduit_router import Objective, Query, Router
from conduit_router.bandit import BanditConfig
from conduit_router.budget import BudgetPacer
from conduit_router.lengths import AnswerLengths
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS
from conduit_router.simulation import SYNTHETIC_QUALITY, Environment

LONG = {"code": 1200, "math": 900, "reasoning": 1200, "creative": 350, "factual": 100, "conversation": 60}


def environment(seed: int) -> Environment:
    return Environment(list(MODELS), {m: dict(q) for m, q in SYNTHETIC_QUALITY.items()}, seed=seed,
                       output_tokens=LONG)


class Watched(BudgetPacer):
    """A pacer that keeps each settlement's figures (the priciest model's settled cost)."""

    def __init__(self, objective: Objective) -> None:
        super().__init__(objective)
        self.settled_max: list[float] = []

    def settle(self, estimated: float, actual: float, max_estimated: float, *, same_model: bool = True,
               max_actual: float | None = None) -> None:
        if max_actual is None:
            max_actual = max_estimated * actual / estimated if same_model and estimated > 0 else max_estimated
        self.settled_max.append(max_actual)
        super().settle(estimated, actual, max_estimated, same_model=same_model, max_actual=max_actual)


async def run(seed: int, steps: int, floor: float) -> dict[str, Any]:
    objective = Objective(0.9, 0.1, 0.0, cost_budget=0.5)
    router = Router(MODELS, embedder="hash", seed=seed, objective=objective,
                    config=BanditConfig(exploration_floor=floor, paced_exploration_floor=floor))
    pacer = router.budget = Watched(objective)
    env = environment(seed)
    spent, truth = [], []
    for _ in range(steps):
        text, domain = env.sample()
        decision = await router.route(Query(text=text))
        model = decision.selected_model
        spent.append(env.cost(model, text, domain))
        truth.append(env.cost("large", text, domain))  # the priciest model
        await router.feedback(decision.query_id, quality=env.feedback(model, domain), latency_ms=env.latency(model),
                              cost=spent[-1])
    half = steps // 2
    settled = pacer.settled_max[half:]
    return {"spend": sum(spent[half:]) / sum(truth[half:]), "view": sum(spent[half:]) / sum(settled),
            "reference": sum(settled) / sum(truth[half:]),
            "verbosity": {m.name: router.lengths.verbosity(m.name) for m in MODELS}}


async def main(seeds: int, steps: int) -> None:
    for weighted in (False, True):
        AnswerLengths.MIN_PROPENSITY = 0.05 if weighted else 1.0
        for floor in (1.0, 0.3):
            for seed in range(seeds):
                f = await run(seed, steps, floor)
                wordy = " ".join(f"{name} {v:.3f}" for name, v in f["verbosity"].items())
                print(f"{'1/propensity' if weighted else 'per answer  '} floor {floor:.1f} seed {seed}: spend "
                      f"{f['spend']:.3f} (pacer's view {f['view']:.3f}), priciest settled / true "
                      f"{f['reference']:.3f}; verbosity {wordy}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    asyncio.run(main(args.seeds, args.steps))
