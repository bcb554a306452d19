"""CPU time conduit-otel adds to one request, measured in-process (no sockets, no wrk).

``app.handle()`` is called on prepared requests for the hello endpoint and the calling
thread's CPU time (``time.thread_time``) is divided by the number of requests, so other
processes on the machine hardly disturb it and export work (done in the SDK's own
threads) is not counted: this is what a request waits for. Best of ``repeat`` runs.

    python bench/otel/request_path.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

NO_EXPORT = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}

VARIANTS: list[tuple[str, str, dict[str, Any], dict[str, str] | None]] = [
    # name, label, Conduit settings, environ for conduit_otel.instrument (None: not instrumented)
    ("off", "no telemetry plugin loaded", {"plugins": []}, None),
    ("installed", "conduit-otel loaded, not enabled", {"plugins": ["otel"], "otel_enabled": False}, None),
    ("metrics-lean", "metrics, body sizes off", {"otel_body_size_metrics": False},
     {**NO_EXPORT, "OTEL_TRACES_ENABLED": "false"}),
    ("metrics", "metrics", {}, {**NO_EXPORT, "OTEL_TRACES_ENABLED": "false"}),
    ("traces", "traces", {}, {**NO_EXPORT, "OTEL_METRICS_ENABLED": "false"}),
    ("sampled", "traces 10% sampled + metrics", {},
     {**NO_EXPORT, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}),
    ("both", "traces + metrics", {}, NO_EXPORT),
]


async def _cost(settings: dict[str, Any], environ: dict[str, str] | None, n: int, repeat: int) -> float:
    import conduit_otel

    from conduit import Conduit
    from conduit.testing import _build_request

    app = Conduit(otel_set_global_providers=False, **{"plugins": [], **settings})
    app.get("/")(_hello)
    if environ is not None:
        conduit_otel.instrument(app, environ=environ)
    await app.startup()
    try:
        best = float("inf")
        for _ in range(repeat):
            batch = [
                _build_request(app, "GET", "/", params=None, headers=None, json=None, content=None, data=None,
                               client=("127.0.0.1", 40000))
                for _ in range(n)
            ]
            start = time.thread_time()
            for request in batch:
                await app.handle(request)
            best = min(best, (time.thread_time() - start) / n)
        return best * 1e6
    finally:
        await app.shutdown()


async def _hello(request: Any) -> dict[str, str]:
    return {"message": "Hello, World!"}


def measure(n: int = 10_000, repeat: int = 5) -> list[tuple[str, str, float]]:
    """``(name, label, µs of CPU per request)`` for every variant."""
    _, _, settings, env = VARIANTS[0]
    asyncio.run(_cost(settings, env, n, 1))  # untimed: first-use costs (imports, caches) land here
    return [(name, label, asyncio.run(_cost(settings, env, n, repeat))) for name, label, settings, env in VARIANTS]


def table(results: list[tuple[str, str, float]]) -> list[str]:
    base = results[0][2]
    lines = ["| variant | CPU µs / request | added µs |", "| --- | ---: | ---: |"]
    for _, label, micros in results:
        lines.append(f"| {label} | {micros:.1f} | {micros - base:+.1f} |")
    return lines


if __name__ == "__main__":
    print("\n".join(table(measure())))
    sys.exit(0)
