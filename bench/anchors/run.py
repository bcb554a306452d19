"""Conduit's costs and Starlette's, side by side in one run: bare, built-in metrics, the stack, OTel.

Every variant is one server process (``conduit run`` or uvicorn, one worker) serving the
hello JSON endpoint, on both transports (h11 with the asyncio loop, httptools with uvloop),
loaded with ``wrk -t1 -c64 --latency`` after a warm-up; the server's CPU time per request
is read from /proc around the measured run. Rounds are interleaved (every server once per
round, started fresh) and the tables show medians and every round's value.

- Conduit: ``monitoring=False`` (bare), the default built-in request metrics, the seed's
  production stack (bench/stack/apps/stack_hello.py), conduit-otel tracing every request
  (bench/otel/otel_hello.py).
- Starlette on uvicorn: bare (bench/http/apps/starlette_app.py), the same stack with
  slowapi or with a pure-ASGI limiter on ``limits`` (apps/starlette_stack.py),
  opentelemetry-instrumentation-asgi with its default spans and with the server span only
  (apps/starlette_otel.py). Both sides export OTLP/HTTP to one receiver this script runs
  (bench/otel/run.py's, which decodes the protobuf and counts spans).

Before measuring it checks that every server answers ``GET /`` with the same JSON, that the
stacks set the same security and CORS headers, and that each OTel variant's spans reach the
receiver (one, three or one per request); it exits 1 naming what failed.

    python bench/anchors/run.py                                      # 5 rounds of 6 s, writes docs/
    python bench/anchors/run.py --rounds 1 --duration 2 --no-write   # a quick look
    python bench/anchors/run.py --only conduit-otel starlette-otel --transports h11

The servers, wrk runs and CPU accounting are bench/http/run.py's. Needs wrk and
bench/requirements.txt.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import importlib.util
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import command_line, publish  # noqa: E402 - bench/common.py, by path

START = "<!-- bench/anchors/run.py: start -->"
END = "<!-- bench/anchors/run.py: end -->"
GOALS = {  # issue 25: the most each may cost, as a share of bare throughput; None: none set
    ("metrics", "h11"): 0.05, ("metrics", "httptools"): 0.05,
    ("stack", "h11"): 0.20, ("stack", "httptools"): 0.20,
    ("otel", "h11"): 0.35, ("otel", "httptools"): None,
}
ORIGIN = "http://client.example"
OTEL_CHECK_REQUESTS = 200
METRIC_INTERVAL_MS = "5000"  # as bench/otel/run.py


def _load(name: str, path: Path) -> ModuleType:
    """A bench script (not a package) loaded by path, once per process."""
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


runner = _load("bench_http_run", ROOT / "bench" / "http" / "run.py")  # Server, start/stop, tree_cpu, wrk
otel_bench = _load("bench_otel_run", ROOT / "bench" / "otel" / "run.py")  # Receiver


# --- variants ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    side: str  # "conduit" or "starlette"
    kind: str  # "bare", "metrics", "stack" or "otel"
    spans_per_request: int = 0  # the spans each request must produce (OTel variants)


VARIANTS = [
    Variant("conduit-bare", "Conduit, `monitoring=False`", "conduit", "bare"),
    Variant("conduit-metrics", "Conduit, built-in request metrics (the default)", "conduit", "metrics"),
    Variant("conduit-stack", "Conduit + the seed's stack", "conduit", "stack"),
    Variant("conduit-otel", "Conduit + conduit-otel, every request traced", "conduit", "otel", 1),
    Variant("starlette-bare", "Starlette", "starlette", "bare"),
    Variant("starlette-slowapi", "Starlette + the stack, slowapi", "starlette", "stack"),
    Variant("starlette-limits", "Starlette + the stack, pure-ASGI limiter on `limits`", "starlette", "stack"),
    Variant("starlette-otel", "Starlette + otel-asgi, defaults (3 spans)", "starlette", "otel", 3),
    Variant("starlette-otel-1span", "Starlette + otel-asgi, server span only", "starlette", "otel", 1),
]
BY_KEY = {v.key: v for v in VARIANTS}
TRANSPORTS = {"h11": ("h11, asyncio loop", "h11", "asyncio"), "httptools": ("httptools, uvloop", "httptools", "uvloop")}


def make_server(v: Variant, transport: str, receiver_url: str, prefix: str, monitoring: bool) -> Any:
    """bench/http's Server for variant ``v`` on ``transport``."""
    _, http_impl, loop = TRANSPORTS[transport]
    name = f"{transport}/{v.key}"
    otel_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url, "OTEL_METRIC_EXPORT_INTERVAL": METRIC_INTERVAL_MS,
                "OTEL_SERVICE_NAME": "bench"}
    mon = "true" if monitoring else "false"
    if v.side == "conduit":
        module = "otel_hello" if v.kind == "otel" else "stack_hello"
        server = runner._conduit(name, v.label, module, http_impl, loop)
        apps = ROOT / "bench" / ("otel" if v.kind == "otel" else "stack/apps")
        env = {"PYTHONPATH": str(apps), "CONDUIT_REDIS_URL": "memory://", "STACK_PREFIX": prefix}
        if v.kind == "bare":
            env.update(STACK_VARIANT="bare", STACK_MONITORING="0", CONDUIT_MONITORING="false")
        elif v.kind == "metrics":
            env.update(STACK_VARIANT="bare", STACK_MONITORING="1", CONDUIT_MONITORING="true")
        elif v.kind == "stack":
            env.update(STACK_VARIANT="stack", STACK_MONITORING="1" if monitoring else "0", CONDUIT_MONITORING=mon)
        else:
            env.update(otel_env, CONDUIT_PLUGINS="otel", OTEL_ENABLED="true", CONDUIT_MONITORING=mon)
    else:
        module = {"bare": "starlette_app", "stack": "starlette_stack", "otel": "starlette_otel"}[v.kind]
        server = runner._uvicorn(name, v.label, module, http_impl, loop)
        env = {"PYTHONPATH": str(HERE / "apps")}  # starlette_app itself is in the working directory
        if v.kind == "stack":
            env["ANCHOR_LIMITER"] = "slowapi" if v.key == "starlette-slowapi" else "limits"
        elif v.kind == "otel":
            env.update(otel_env, OTEL_SEMCONV_STABILITY_OPT_IN="http",
                       ANCHOR_OTEL_SPANS="server" if v.key.endswith("-1span") else "all")
    server.env = {**server.env, **env}
    return server


@dataclass
class Entry:
    transport: str
    variant: Variant
    server: Any
    rounds: list[Any] = field(default_factory=list)  # bench/http Result per round
    spans: int = 0  # spans the receiver counted while this entry was measured
    requests: int = 0  # requests it served then (warm-up and readiness probe included)


# --- checks --------------------------------------------------------------------------------------


def _request(conn: http.client.HTTPConnection, method: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, "/", headers={"Host": "bench", **headers})
    reply = conn.getresponse()
    body = reply.read()
    merged: dict[str, str] = {}
    for name, value in reply.getheaders():
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return reply.status, merged, body


def _security_or_cors(name: str) -> bool:
    return name in SECURITY or name.startswith("access-control-")


SECURITY = {"x-content-type-options", "x-frame-options", "x-xss-protection", "referrer-policy",
            "content-security-policy", "strict-transport-security", "permissions-policy"}
TRANSPORT_HEADERS = {"date", "server", "content-length", "connection", "keep-alive", "transfer-encoding"}


def _diff(a: dict[str, str], b: dict[str, str], names: set[str]) -> list[str]:
    out = []
    for name in sorted(names):
        va, vb = a.get(name), b.get(name)
        if (va or "").lower() != (vb or "").lower():
            out.append(f"{name}: {va if va is not None else '(absent)'} ≠ {vb if vb is not None else '(absent)'}")
    return out


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # differences that do not fail the check
    otel: list[str] = field(default_factory=list)  # what each OTel variant sent


def check(entries: list[Entry], receiver: Any) -> CheckReport:
    """Start every server once and check body, headers and spans (see the module docstring)."""
    report = CheckReport()
    seen: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {}  # stack variant -> (name, GET, preflight)
    bodies: dict[bytes, list[str]] = {}
    for e in entries:
        name = e.server.name
        spans0, exports0 = receiver.spans, receiver.metric_exports
        try:
            proc, port = runner.start(e.server)  # one GET /, checked for status 200 and the JSON
        except RuntimeError as exc:
            report.problems.append(f"{name}: {exc}")
            continue
        sent = 1
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            status, headers, body = _request(conn, "GET", {"Origin": ORIGIN})
            sent += 1
            bodies.setdefault(body, []).append(name)
            if status != 200 or runner._json(body) != runner.EXPECTED:
                report.problems.append(f"{name}: GET / answered {status} {body[:200]!r}, not {runner.EXPECTED}")
            if e.variant.kind == "stack":
                if "x-ratelimit-remaining" not in headers:
                    report.problems.append(f"{name}: no X-RateLimit-Remaining header: is the limiter running?")
                pre_status, pre_headers, _ = _request(conn, "OPTIONS",
                                                      {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
                pre_headers["(status)"] = str(pre_status)
                sent += 1
                seen[name] = (name, headers, pre_headers)
            if e.variant.spans_per_request:
                for _ in range(OTEL_CHECK_REQUESTS):
                    status, _, _ = _request(conn, "GET", {})
                    sent += 1
                    if status != 200:
                        report.problems.append(f"{name}: GET / answered {status} during the span check")
                        break
            conn.close()
        except (OSError, http.client.HTTPException) as exc:
            report.problems.append(f"{name}: request failed: {exc!r}")
        finally:
            runner.stop(proc)  # SIGTERM: both sides flush their span and metric exporters on the way out
        if e.variant.spans_per_request:
            want = sent * e.variant.spans_per_request
            got = _settle(lambda base=spans0: receiver.spans - base, want)
            exports = receiver.metric_exports - exports0
            report.otel.append(f"{name}: {got} spans for {sent} requests ({got / sent:.2f} a request), "
                               f"{exports} metric export(s)")
            if got != want:
                report.problems.append(f"{name}: the receiver counted {got} spans for {sent} requests; "
                                       f"expected {e.variant.spans_per_request} a request ({want})")
            if exports == 0:
                report.problems.append(f"{name}: no metric export reached the receiver")
    if len(bodies) > 1:
        report.notes.append("bodies differ byte for byte (same JSON): " +
                            "; ".join(f"{b!r} from {', '.join(n)}" for b, n in bodies.items()))
    if len(seen) >= 2:
        (ref, ref_get, ref_pre), *others = seen.values()
        notes: dict[tuple[str, ...], str] = {}  # the same difference on both transports, once
        for other, get, pre in others:
            checked = {n for n in ref_get.keys() | get.keys() if _security_or_cors(n)}
            for line in _diff(ref_get, get, checked):
                report.problems.append(f"security/CORS header differs, {ref} vs {other}: {line}")
            pair = f"{ref.split('/')[-1]} vs {other.split('/')[-1]}"
            rest = (ref_get.keys() | get.keys()) - checked - TRANSPORT_HEADERS
            for line in _diff(ref_get, get, rest):
                notes.setdefault((pair, "get", line.split(":")[0]), f"GET with Origin, {pair}: {line}")
            for line in _diff(ref_pre, pre, (ref_pre.keys() | pre.keys()) - TRANSPORT_HEADERS):
                notes.setdefault((pair, "pre", line.split(":")[0]), f"CORS preflight, {pair}: {line}")
        report.notes += notes.values()
    elif seen:
        report.notes.append("header comparison skipped: it needs two stack variants (see --only)")
    return report


def _settle(count: Any, want: int, timeout: float = 10.0) -> int:
    """``count()`` once it reaches ``want`` or stops moving (the exports after shutdown are in)."""
    deadline = time.monotonic() + timeout
    last, still_since = count(), time.monotonic()
    while last < want and time.monotonic() < deadline and time.monotonic() - still_since < 2.0:
        time.sleep(0.05)
        now = count()
        if now != last:
            last, still_since = now, time.monotonic()
    return last


# --- measuring -----------------------------------------------------------------------------------


def measure(e: Entry, args: argparse.Namespace, receiver: Any) -> Any:
    """bench/http's measure(), counting the requests served and the spans that arrived."""
    spans0 = receiver.spans
    proc, port = runner.start(e.server)
    served = 1
    try:
        if args.warmup > 0:
            served += runner.parse_wrk(runner.wrk(port, args, args.warmup)).requests
        before = runner.tree_cpu(proc.pid)
        result = runner.parse_wrk(runner.wrk(port, args, args.duration))
        result.cpu_us = (runner.tree_cpu(proc.pid) - before) / max(result.requests, 1) * 1e6
        served += result.requests
    finally:
        runner.stop(proc)
    if e.variant.spans_per_request:  # stop() waited for the exit, so the last export was answered
        e.spans += receiver.spans - spans0
        e.requests += served
    return result


def _stop_children() -> None:
    """Stop the servers this process started and has not stopped (each leads its own session)."""
    me = os.getpid()
    leaders = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and int(fields[2]) == int(entry):  # our child, its own process group
            leaders.append(int(entry))
    for pid in leaders:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        break
                except ChildProcessError:
                    break
                time.sleep(0.05)
            else:
                continue
            break


# --- report --------------------------------------------------------------------------------------


def _med(e: Entry | None, attr: str) -> float | None:
    if e is None or not e.rounds:
        return None
    return statistics.median(getattr(r, attr) for r in e.rounds)


def versions() -> str:
    extra = ["conduit-otel", "slowapi", "limits", "opentelemetry-sdk", "opentelemetry-instrumentation-asgi",
             "opentelemetry-exporter-otlp-proto-http"]
    return runner.versions() + ", " + ", ".join(f"{d} {runner._version(d)}" for d in extra)


def _conduit_span_encoder() -> str:
    try:
        from conduit_otel.config import SETTINGS_SCHEMA
    except ImportError:
        return "conduit-otel is not installed"
    if "otel_lean_encoder" in SETTINGS_SCHEMA:
        on = SETTINGS_SCHEMA["otel_lean_encoder"].default
        return ("conduit-otel encodes the spans with its own OTLP/protobuf writer (`conduit_otel.otlp_spans`, "
                f"setting `otel_lean_encoder`, {'on' if on else 'off'} by default); the Starlette side with "
                "the official exporter's encoder")
    return "both sides encode spans with the official OTLP/HTTP exporter"


def render(entries: list[Entry], checks: CheckReport, args: argparse.Namespace, command: str) -> str:
    by = {(e.transport, e.variant.key): e for e in entries}
    transports = [t for t in TRANSPORTS if any(e.transport == t for e in entries)]
    mon = "on (the default, as in the seed's app)" if args.monitoring == "on" else "off"
    lines = [
        START,
        "## Side by side: what metrics, the stack and OpenTelemetry cost, Conduit and Starlette (bench/anchors)",
        "",
        f"Produced by `{command}` on {_dt.date.today().isoformat()}.",
        "",
        f"- Machine: {runner.machine()}. wrk, the server and the OTLP receiver share these cores and",
        "  other work may run beside them: rounds are interleaved and the tables show medians; CPU µs/request",
        "  (the server's user + system time over the measured run ÷ requests) moves less with that load.",
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency` on `GET /` after a "
        f"{args.warmup} s warm-up; {args.rounds} round(s), every server once per round, started fresh, one process.",
        "- Servers: `conduit run APP --http h11 --loop asyncio` / `--http httptools --loop uvloop`; uvicorn with",
        "  the same `--http` and `--loop`, `--no-access-log --log-level warning`. Conduit's log level is warning,",
        "  so neither side's request logger writes anything.",
        f"- Built-in metrics in the Conduit stack and OTel variants: {mon}. \"bare\" is `Conduit(monitoring=False)`.",
        f"- Versions: {versions()}.",
        "",
    ]
    for t in transports:
        lines += [
            f"### {TRANSPORTS[t][0]}",
            "",
            "| variant | req/s | CPU µs/req | p50 ms | p99 ms | req/s per round | CPU µs/req per round | errors |",
            "|---|---:|---:|---:|---:|---|---|---:|",
        ]
        for v in VARIANTS:
            e = by.get((t, v.key))
            if e is None or not e.rounds:
                continue
            lines.append(
                f"| {v.label} | {_med(e, 'rps'):,.0f} | {_med(e, 'cpu_us'):.1f} | {_med(e, 'p50_ms'):.2f} "
                f"| {_med(e, 'p99_ms'):.2f} | {', '.join(f'{r.rps:.0f}' for r in e.rounds)} "
                f"| {', '.join(f'{r.cpu_us:.1f}' for r in e.rounds)} | {sum(r.errors for r in e.rounds)} |"
            )
        lines.append("")

    lines += [
        "### Costs against the goals",
        "",
        "Cost = 1 − variant req/s ÷ bare req/s (bare: `Conduit(monitoring=False)`, same transport); the CPU",
        "columns give the CPU µs a request adds and the throughput that costs a CPU-bound server",
        "(1 − bare CPU ÷ variant CPU)."
        + (" The stack and OTel variants keep the built-in metrics on, so their costs include the metrics'."
           if args.monitoring == "on" else " With `--monitoring off` they run without them, so each cost is its own."),
        "",
        "| cost | transport | goal | by req/s | CPU µs/req added | by CPU | verdict (req/s) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for kind, what in (("metrics", "built-in request metrics"), ("stack", "the seed's stack"),
                       ("otel", "conduit-otel, every request traced")):
        for t in transports:
            bare, var = by.get((t, "conduit-bare")), by.get((t, f"conduit-{kind}"))
            b_rps, v_rps, b_cpu, v_cpu = _med(bare, "rps"), _med(var, "rps"), _med(bare, "cpu_us"), _med(var, "cpu_us")
            if None in (b_rps, v_rps, b_cpu, v_cpu):
                continue
            goal = GOALS[(kind, t)]
            cost = 1 - v_rps / b_rps
            verdict = "no goal" if goal is None else ("met" if cost <= goal else "**missed**")
            lines.append(f"| {what} | {t} | {'–' if goal is None else f'≤ {goal:.0%}'} | {cost:.1%} "
                         f"| {v_cpu - b_cpu:+.1f} | {1 - b_cpu / v_cpu:.1%} | {verdict} |")
    lines += [
        "",
        "### Against Starlette",
        "",
        "Conduit ÷ Starlette by req/s (above 1: Conduit serves more), and by CPU (Starlette's CPU µs/req ÷",
        "Conduit's; above 1: Conduit spends less per request).",
        "",
        "| Conduit | Starlette | transport | × by req/s | × by CPU |",
        "|---|---|---|---:|---:|",
    ]
    for mine, peer in (("conduit-bare", "starlette-bare"), ("conduit-stack", "starlette-slowapi"),
                       ("conduit-stack", "starlette-limits"), ("conduit-otel", "starlette-otel"),
                       ("conduit-otel", "starlette-otel-1span")):
        for t in transports:
            a, b = by.get((t, mine)), by.get((t, peer))
            a_rps, b_rps, a_cpu, b_cpu = _med(a, "rps"), _med(b, "rps"), _med(a, "cpu_us"), _med(b, "cpu_us")
            if None in (a_rps, b_rps, a_cpu, b_cpu):
                continue
            lines.append(f"| {BY_KEY[mine].label} | {BY_KEY[peer].label} | {t} | {a_rps / b_rps:.2f} | {b_cpu / a_cpu:.2f} |")
    lines += ["", "### What differs between the two sides", "", *DIFFERENCES]
    lines.append(f"- Span encoding: {_conduit_span_encoder()}.")
    otel_entries = [e for e in entries if e.variant.spans_per_request and e.requests]
    if otel_entries:
        lines.append("- Spans that reached the receiver during the measured runs (the SDK's queue drops what "
                     "its export thread cannot keep up with; requests include warm-ups):")
        lines += [f"  - {e.server.name}: {e.spans:,} spans for {e.requests:,} requests "
                  f"({e.spans / e.requests:.2f} a request; {e.variant.spans_per_request} made)" for e in otel_entries]
    if checks.otel:
        lines.append(f"- The span check ({OTEL_CHECK_REQUESTS} requests and the probes, then a graceful stop):")
        lines += [f"  - {line}" for line in checks.otel]
    if checks.notes:
        lines.append("- Headers that differ beyond those the check requires equal (the security headers and every "
                     "`Access-Control-*` one); `Vary` is listed here, not required:")
        lines += [f"  - {_escape(line)}" for line in checks.notes]
    lines.append(END)
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


DIFFERENCES = [
    "- Stack order and pieces: security headers, CORS, size limit (50 MB), timeout (30 s), request logging,",
    "  rate limit (10⁹ requests per 10 s, never refusing), error handler, outermost first, on both sides.",
    "  Starlette has CORS (`CORSMiddleware`, used with the same origins, methods, headers and max-age); the",
    "  other pieces are pure-ASGI middleware written for this benchmark (bench/anchors/apps/asgi_stack.py),",
    "  doing what Conduit's do. Starlette's own `ServerErrorMiddleware` and `ExceptionMiddleware` stay in place.",
    "- Limiter semantics: Conduit's is a sliding-window log (a deque of timestamps per client, one",
    "  `acquire` a request). slowapi and the `limits` limiter are `limits`' moving window on its memory",
    "  storage, also an exact log, but kept in a Python list that each hit prepends to (O(entries in the",
    "  window)) and that a timer thread trims every 10 ms; each request makes two calls (`hit`, then",
    "  `get_window_stats` for the headers). slowapi keys on the client address only and finds the route",
    "  first (`SlowAPIASGIMiddleware`, its pure-ASGI middleware); the `limits` limiter keys like Conduit",
    "  (API key, else address). Headers: Conduit and the `limits` limiter send `X-RateLimit-Limit/Remaining/",
    "  Reset`, `RateLimit-Policy` and `RateLimit`; slowapi sends `X-RateLimit-*` (its `Reset` an epoch",
    "  time) and `Retry-After` on every response.",
    "- OTel signals: both sides trace every request (parent-based always-on sampler) into a",
    "  `BatchSpanProcessor` and export spans and metrics over OTLP/HTTP to the same receiver, metrics every",
    f"  {int(METRIC_INTERVAL_MS) // 1000} s. Conduit: one SERVER span a request; metrics",
    "  `http.server.request.duration`, `http.server.active_requests` and the request/response body sizes",
    "  (histograms aggregated in the plugin), plus the built-in metrics bridged as OTel instruments when",
    "  monitoring is on. Starlette: opentelemetry-instrumentation-asgi with",
    "  `OTEL_SEMCONV_STABILITY_OPT_IN=http` (stable names), a SERVER span plus, by default, one INTERNAL",
    "  span per ASGI `send` (two for this response), or the server span alone with",
    "  `exclude_spans=[\"receive\", \"send\"]`; the same four HTTP metrics through the SDK's own aggregation.",
]


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=6, help="seconds of measured load per server per round")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load before each measurement")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--transports", nargs="*", default=list(TRANSPORTS), choices=list(TRANSPORTS))
    parser.add_argument("--only", nargs="*", default=None, metavar="VARIANT",
                        help=f"variants to run (default: all): {', '.join(BY_KEY)}")
    parser.add_argument("--monitoring", choices=("on", "off"), default="on",
                        help="built-in metrics in the Conduit stack and OTel variants (default: on, as in the seed)")
    parser.add_argument("--check-only", action="store_true", help="run the checks and stop")
    write = parser.add_mutually_exclusive_group()
    write.add_argument("--write", dest="no_write", action="store_false", help="write docs/benchmarks.md (the default)")
    write.add_argument("--no-write", dest="no_write", action="store_true", help="print the section instead")
    parser.set_defaults(no_write=False)
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - set(BY_KEY)
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(sorted(unknown))}; known: {', '.join(BY_KEY)}")
    for name in [k for k in os.environ if k.startswith(("OTEL_", "CONDUIT_"))]:
        del os.environ[name]  # the servers get exactly the settings set here
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below

    receiver = otel_bench.Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}"
        prefix = f"bench-anchors:{uuid.uuid4().hex[:8]}"
        entries = [
            Entry(t, v, make_server(v, t, url, prefix, args.monitoring == "on"))
            for t in args.transports for v in VARIANTS if args.only is None or v.key in args.only
        ]
        print(f"checking {len(entries)} server(s)...", flush=True)
        checks = check(entries, receiver)
        for line in checks.otel:
            print(f"  {line}")
        for line in checks.notes:
            print(f"  note: {line}")
        if checks.problems:
            sys.stdout.flush()
            print("checks failed, nothing measured:", file=sys.stderr)
            for line in checks.problems:
                print(f"  - {line}", file=sys.stderr)
            return 1
        print("checks passed", flush=True)
        if args.check_only:
            return 0
        for rnd in range(1, args.rounds + 1):
            for e in entries:
                r = measure(e, args, receiver)
                e.rounds.append(r)
                print(f"round {rnd} {e.server.name:32} {r.rps:8.0f} req/s  {r.cpu_us:6.1f} CPU µs/req  "
                      f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  errors {r.errors}", flush=True)
        section = render(entries, checks, args, command_line("bench/anchors/run.py", argv))
        publish(section, START, END, no_write=args.no_write)
        return 0
    except KeyboardInterrupt:
        print("interrupted; stopping the servers", file=sys.stderr)
        return 130
    finally:
        _stop_children()
        receiver.shutdown()
        receiver.server_close()


if __name__ == "__main__":
    sys.exit(main())
