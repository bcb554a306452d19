"""The router's change detector on its own: false alarms on stationary right-or-wrong outcomes
and delay to catch a drop, for the detector conduit-router uses (``DriftTest``: a
risk-adjusted Bernoulli CUSUM of log-likelihood ratios) and the one it replaced on 2026-12-06
(two CUSUM sums of standardised residuals ``(y − p)/sqrt(p(1 − p))`` with allowance 0.25 and
threshold 12).

Outcomes are Bernoulli draws; the detector is told the prediction ``p``. "Stationary" rows
draw at ``p`` itself (a calibrated posterior) or a little below it (a model the sampler picks
often is predicted slightly too high: −0.03 here, about what bench/router_eval.py's workload
shows); "drop" rows draw at a lower accuracy from the first outcome and count the outcomes
until the first alarm. Deterministic (fixed seeds).

    python bench/router_detector.py [--steps 200000] [--runs 300]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Callable

import numpy as np
from conduit_router.posteriors import DriftTest

Step = Callable[[float, float], tuple[float, float]]


def residual_detector(allowance: float = 0.25) -> Step:
    def step(p: float, y: float) -> tuple[float, float]:
        z = (y - p) / math.sqrt(p * (1 - p))
        return -(z + allowance), z - allowance
    return step


def alarms(step: Step, threshold: float, outcomes: np.ndarray, p: float) -> list[int]:
    dn = up = 0.0
    fired = []
    for i, y in enumerate(outcomes):
        a, b = step(p, float(y))
        dn, up = max(0.0, dn + a), max(0.0, up + b)
        if dn > threshold or up > threshold:
            fired.append(i)
            dn = up = 0.0
    return fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000, help="outcomes per stationary row")
    parser.add_argument("--runs", type=int, default=300, help="runs per drop row")
    args = parser.parse_args()
    current = DriftTest()
    detectors = {
        f"likelihood ratio, odds {current.odds:g}, threshold {current.threshold:g} (now)": (current.evidence, current.threshold),
        "standardised residual, allowance 0.25, threshold 12 (before)": (residual_detector(0.25), 12.0),
    }
    stationary = [(0.9, 0.9), (0.85, 0.85), (0.6, 0.6), (0.9, 0.87), (0.8, 0.77), (0.6, 0.57)]
    drops = [(0.7, 0.35), (0.54, 0.27), (0.9, 0.6), (0.8, 0.6)]
    def false_alarms(step: Step, h: float, k: int, p: float, true: float) -> str:
        n = len(alarms(step, h, np.random.default_rng(k).random(args.steps) < true, p))
        return f"{args.steps / n:,.0f}" if n else f"> {args.steps:,}"

    def delay(step: Step, h: float, k: int, p: float, true: float) -> str:
        rng = np.random.default_rng(1000 + k)
        delays = []
        for _ in range(args.runs):
            fired = alarms(step, h, rng.random(2000) < true, p)
            delays.append(fired[0] + 1 if fired else 2001)
        return f"{statistics.median(delays):g} ({float(np.percentile(delays, 90)):g})"

    table("Stationary outcomes: observations per false alarm (higher is better)",
          [f"p {p:g}, right {t:g}" for p, t in stationary], detectors, stationary, false_alarms)
    table("\nA drop from the first outcome: observations until the alarm, median (90th percentile)",
          [f"{p:g} → {t:g}" for p, t in drops], detectors, drops, delay)
    confined(current, args.runs)


# (share of the model's answers on the kind that drops, its prediction, its accuracy after the
# drop, the prediction on the other kinds, their accuracy)
CONFINED = [(0.2, 0.9, 0.5, 0.9, 0.9), (0.2, 0.9, 0.5, 0.9, 0.93), (0.5, 0.86, 0.55, 0.7, 0.7),
            (0.5, 0.86, 0.55, 0.7, 0.73)]


def confined(test: DriftTest, runs: int, limit: int = 1000) -> None:
    """A drop confined to one kind of query while the model's other answers go on as predicted
    (or a little better): answers of the dropped kind until the alarm, with one pair of sums
    over all the model's answers and with a pair per kind (what conduit-router keeps)."""
    print("\nA drop on one kind of query only: answers of that kind until the alarm, median (90th percentile; "
          f"{limit:,}: none by then)\n")
    columns = [f"{share:.0%} of answers, {p:g} → {t:g}; the rest {po:g}, right {to:g}"
               for share, p, t, po, to in CONFINED]
    print("| sums | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for label, per_kind in (("one pair over all the model's answers (before)", False), ("a pair per kind (now)", True)):
        cells = []
        for k, (share, p, t, po, to) in enumerate(CONFINED):
            rng = np.random.default_rng(2000 + k)
            delays = []
            for _ in range(runs):
                sums = {0: [0.0, 0.0], 1: [0.0, 0.0]}
                seen = 0
                while seen < limit:
                    dropped = rng.random() < share
                    seen += dropped
                    expected, right = (p, t) if dropped else (po, to)
                    down, up = test.evidence(expected, float(rng.random() < right))
                    pair = sums[int(dropped) if per_kind else 0]
                    pair[0], pair[1] = max(0.0, pair[0] + down), max(0.0, pair[1] + up)
                    if max(pair) > test.threshold:
                        break
                delays.append(seen)
            cells.append(f"{statistics.median(delays):g} ({float(np.percentile(delays, 90)):g})")
        print(f"| {label} | " + " | ".join(cells) + " |")


def table(title: str, columns: list[str], detectors: dict[str, tuple[Step, float]],
          cases: list[tuple[float, float]], cell: Callable[[Step, float, int, float, float], str]) -> None:
    """One Markdown table: a row per detector, a column per (prediction, true accuracy) case."""
    print(title + "\n")
    print("| detector | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for label, (step, h) in detectors.items():
        print(f"| {label} | " + " | ".join(cell(step, h, k, p, true) for k, (p, true) in enumerate(cases)) + " |")

if __name__ == "__main__":
    sys.exit(main())
