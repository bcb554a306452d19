"""CPU time conduit-otel adds to one request, measured in-process (no load generator).

``app.handle()`` is called on prepared requests for the hello endpoint (with the ``Host``
header wrk sends). Two tables:

* **request path**: exporters off; the calling thread's CPU time (``time.thread_time``)
  per request, so other processes on the machine hardly disturb it. This is what a
  request itself waits for.
* **exported**: spans and metrics exported over OTLP/HTTP to a receiver in a child
  process (it decodes the protobuf and counts the spans). Besides the request thread,
  the whole process's CPU (``time.process_time``: the BatchSpanProcessor's protobuf
  encoding and HTTP calls included) is divided by the requests, measured up to the end of
  a ``force_flush``. Under one GIL that is what throughput pays.

Best of ``repeat`` runs of ``n`` requests each.

    python bench/otel/request_path.py
    python bench/otel/request_path.py --n 5000 --repeat 3 --only both sampled-0.01
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NO_EXPORT = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
HEADERS = {"host": "127.0.0.1:8000"}


def _ratio(ratio: str) -> dict[str, str]:
    return {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": ratio}


# name, label, Conduit settings, environ for conduit_otel.instrument (None: not instrumented)
VARIANTS: list[tuple[str, str, dict[str, Any], dict[str, str] | None]] = [
    ("off", "no telemetry plugin loaded", {"plugins": []}, None),
    ("installed", "conduit-otel loaded, not enabled", {"plugins": ["otel"], "otel_enabled": False}, None),
    ("metrics-lean", "metrics, body sizes off", {"otel_body_size_metrics": False},
     {**NO_EXPORT, "OTEL_TRACES_ENABLED": "false"}),
    ("metrics", "metrics", {}, {**NO_EXPORT, "OTEL_TRACES_ENABLED": "false"}),
    ("traces", "traces (every span)", {}, {**NO_EXPORT, "OTEL_METRICS_ENABLED": "false"}),
    ("sampled-0.1", "traces 10% sampled + metrics", {}, {**NO_EXPORT, **_ratio("0.1")}),
    ("sampled-0.01", "traces 1% sampled + metrics", {}, {**NO_EXPORT, **_ratio("0.01")}),
    ("both", "traces (every span) + metrics", {}, NO_EXPORT),
]

# Exported over OTLP/HTTP to the child-process receiver (its endpoint is added at run time).
EXPORTED: list[tuple[str, str, dict[str, Any], dict[str, str] | None]] = [
    ("off", "no telemetry plugin loaded", {"plugins": []}, None),
    ("metrics-lean", "metrics, body sizes off", {"otel_body_size_metrics": False}, {"OTEL_TRACES_ENABLED": "false"}),
    ("metrics", "metrics", {}, {"OTEL_TRACES_ENABLED": "false"}),
    ("lean-0.01", "traces 1% sampled + metrics, body sizes off", {"otel_body_size_metrics": False}, _ratio("0.01")),
    ("sampled-0.01", "traces 1% sampled + metrics", {}, _ratio("0.01")),
    ("sampled-0.1", "traces 10% sampled + metrics", {}, _ratio("0.1")),
    ("both", "traces (every span exported) + metrics", {}, {}),
    ("both-official", "the same, spans encoded by the official OTLP encoder", {"otel_lean_encoder": False}, {}),
]


@dataclass
class Cost:
    name: str
    label: str
    thread_us: float
    process_us: float | None = None
    spans: int | None = None
    requests: int | None = None


async def _cost(
    settings: dict[str, Any], environ: dict[str, str] | None, n: int, repeat: int, spans: Any = None
) -> tuple[float, float, int, int]:
    """``(thread µs, process µs, spans received, requests)`` per request, best of ``repeat``."""
    import conduit_otel

    from conduit import Conduit
    from conduit.testing import _build_request

    app = Conduit(otel_set_global_providers=False, **{"plugins": [], **settings})
    app.get("/")(_hello)
    if environ is not None:
        conduit_otel.instrument(app, environ=environ)
    await app.startup()
    runtime = conduit_otel.telemetry(app) if environ is not None else None
    best_thread = best_process = float("inf")
    received = 0
    try:
        for _ in range(repeat):
            batch = [
                _build_request(app, "GET", "/", params=None, headers=HEADERS, json=None, content=None, data=None,
                               client=("127.0.0.1", 40000))
                for _ in range(n)
            ]
            before = spans.value if spans is not None else 0
            process_start = time.process_time()
            start = time.thread_time()
            for request in batch:
                await app.handle(request)
            thread = time.thread_time() - start
            if runtime is not None and spans is not None:
                runtime.force_flush()
            process = time.process_time() - process_start
            best_thread = min(best_thread, thread / n)
            best_process = min(best_process, process / n)
            if spans is not None:
                received += spans.value - before
        return best_thread * 1e6, best_process * 1e6, received, n * repeat
    finally:
        await app.shutdown()


async def _hello(request: Any) -> dict[str, str]:
    return {"message": "Hello, World!"}


def measure(n: int = 10_000, repeat: int = 5, only: list[str] | None = None) -> list[Cost]:
    """The request-path table: µs of the request thread's CPU per request, exporters off."""
    _, _, settings, env = VARIANTS[0]
    asyncio.run(_cost(settings, env, n, 1))  # untimed: first-use costs (imports, caches) land here
    out = []
    for name, label, settings, env in VARIANTS:
        if only and name not in only and name != "off":
            continue
        thread, _, _, _ = asyncio.run(_cost(settings, env, n, repeat))
        out.append(Cost(name, label, thread))
    return out


def measure_exported(n: int = 10_000, repeat: int = 5, only: list[str] | None = None) -> list[Cost]:
    """The exported table: request thread and whole process, OTLP/HTTP to a child-process receiver."""
    mp = multiprocessing.get_context("spawn")
    spans = mp.Value("q", 0)
    ready = mp.Queue()
    child = mp.Process(target=_receive, args=(spans, ready), daemon=True)
    child.start()
    try:
        endpoint = f"http://127.0.0.1:{ready.get(timeout=60)}"
        base = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SERVICE_NAME": "bench"}
        _, _, settings, env = EXPORTED[0]
        asyncio.run(_cost(settings, env, n, 1))
        out = []
        for name, label, settings, env in EXPORTED:
            if only and name not in only and name != "off":
                continue
            environ = None if env is None else {**base, **env}
            thread, process, received, requests = asyncio.run(_cost(settings, environ, n, repeat, spans))
            traced = environ is not None and environ.get("OTEL_TRACES_ENABLED") != "false"
            out.append(Cost(name, label, thread, process, received if traced else None, requests))
        return out
    finally:
        child.terminate()
        child.join(10)


def _receive(spans: Any, ready: Any) -> None:
    """The child process: answer OTLP/HTTP exports, count the spans that arrive."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces":
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

                message = ExportTraceServiceRequest.FromString(body)
                count = sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
                with spans.get_lock():
                    spans.value += count
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ready.put(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Event().wait()


def table(results: list[Cost]) -> list[str]:
    base = results[0].thread_us
    lines = ["| variant | CPU µs / request | added µs |", "| --- | ---: | ---: |"]
    for cost in results:
        lines.append(f"| {cost.label} | {cost.thread_us:.1f} | {cost.thread_us - base:+.1f} |")
    return lines


def exported_table(results: list[Cost]) -> list[str]:
    base_thread, base_process = results[0].thread_us, results[0].process_us or 0.0
    lines = [
        "| variant (OTLP/HTTP to a local receiver) | request thread µs | added | whole process µs | added | spans received |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in results:
        process = c.process_us or 0.0
        spans = f"{c.spans:,} of {c.requests:,}" if c.spans is not None else "–"
        lines.append(
            f"| {c.label} | {c.thread_us:.1f} | {c.thread_us - base_thread:+.1f} | {process:.1f} | "
            f"{process - base_process:+.1f} | {spans} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="requests per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant (the best is kept)")
    parser.add_argument("--only", nargs="*", help="variant names (off is always measured)")
    parser.add_argument("--no-export", action="store_true", help="skip the exported table")
    args = parser.parse_args(argv)
    print("\n".join(table(measure(args.n, args.repeat, args.only))))
    if not args.no_export:
        print()
        print("\n".join(exported_table(measure_exported(args.n, args.repeat, args.only))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
