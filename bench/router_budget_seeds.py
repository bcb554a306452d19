"""The cost budget seed by seed: quality and cost of ``Objective(cost_budget=0.45)`` against
always-strongest, after warm-up, on the workload of bench/router_eval.py, for each seed.

Run:  python bench/router_budget_seeds.py [--seeds 12] [--steps 4000] [--budget 0.45]

router_eval.py reports means over three seeds; this shows the spread behind them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import router_eval as bench
from conduit_router import Objective
from conduit_router.simulation import run_static


async def main(args: argparse.Namespace) -> None:
    objective = Objective(0.92, 0.08, 0.0, cost_budget=args.budget)
    warm = args.steps // 4
    top = bench.strongest(bench.environment(0))
    print(f"cost_budget {args.budget} (price learned from 0.92/0.08), {args.steps} queries, warm-up {warm}")
    print("| seed | quality, % of strongest | cost, % of strongest's |")
    print("|---:|---:|---:|")
    qs, cs = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        _, report = await bench.learn(objective, args.steps, seed, "hash")
        mine = report.window(warm)
        ref = run_static(bench.environment(seed), "strongest", args.steps, strongest=top).window(warm)
        qs.append(mine["quality"] / ref["quality"])
        cs.append(mine["cost"] / ref["cost"])
        print(f"| {seed} | {qs[-1]:.1%} | {cs[-1]:.1%} |", flush=True)
    print(f"| mean | {statistics.mean(qs):.1%} | {statistics.mean(cs):.1%} |")
    print(f"| range | {min(qs):.1%}–{max(qs):.1%} | {min(cs):.1%}–{max(cs):.1%} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--budget", type=float, default=0.45)
    asyncio.run(main(parser.parse_args()))
