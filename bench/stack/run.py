"""What the production middleware stack costs: the hello endpoint bare and behind the whole stack.

The stack is the seed's "Complete Production Example" in its order: security headers,
CORS, size limit, timeout, request logging, rate limit (memory store, or Redis at
``--redis``), error handler. Also measured: the built-in request-metrics middleware on
its own (``Conduit(monitoring=False)`` against the default). The servers, wrk runs, CPU
accounting and interleaved rounds are bench/http/run.py's; this script only adds the
variants (bench/stack/apps/stack_hello.py) and the table.

    python bench/stack/run.py                                  # full run, appends to docs/
    python bench/stack/run.py --rounds 1 --duration 3 --no-write

Needs wrk and Redis (started on 127.0.0.1:6379 when none answers, as the tests do).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT / "bench"))
from common import write_section  # noqa: E402 - bench/common.py, by path
START = "<!-- bench/stack/run.py: start -->"
END = "<!-- bench/stack/run.py: end -->"
TARGET = 0.20  # issue 25 (restating issue 3's 15%): the stack may cost at most 20% of throughput


def _load_http_runner():  # bench/http/run.py is a script, not a package: load it by path
    spec = importlib.util.spec_from_file_location("bench_http_run", HERE.parent / "http" / "run.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


http = _load_http_runner()


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    env: dict[str, str]


VARIANTS = [
    Variant("bare-nomon", "bare endpoint, monitoring=False", {"STACK_VARIANT": "bare", "STACK_MONITORING": "0"}),
    Variant("bare", "bare endpoint (built-in monitoring on, the default)", {"STACK_VARIANT": "bare"}),
    Variant("stack-memory", "whole stack, memory store", {"STACK_VARIANT": "stack"}),
    Variant("stack-redis", "whole stack, Redis store", {"STACK_VARIANT": "stack", "CONDUIT_REDIS_URL": "{redis}"}),
]
TRANSPORTS = {  # name -> (label, --http, --loop)
    "auto": ("httptools, uvloop", "auto", "auto"),
    "h11": ("h11, asyncio loop", "h11", "asyncio"),
}


def servers(
    transports: list[str], variants: list[Variant], redis_url: str, prefix: str, sources: dict[str, str | None]
) -> list[tuple[str, str, object]]:
    """(transport, variant key, bench/http Server) for every combination; with several
    ``sources`` (name -> a folder holding a ``conduit`` package), the key is ``name:variant``."""
    out = []
    for t in transports:
        t_label, http_impl, loop = TRANSPORTS[t]
        for src_name, src_dir in sources.items():
            for v in variants:
                key = v.key if len(sources) == 1 else f"{src_name}:{v.key}"
                server = http._conduit(f"{t}/{key}", f"{v.label}; {t_label}", "stack_hello", http_impl, loop)
                env = {k: val.replace("{redis}", redis_url) for k, val in v.env.items()}
                path = os.pathsep.join(p for p in (str(HERE / "apps"), src_dir) if p)
                server.env.update(env, PYTHONPATH=path, STACK_PREFIX=prefix)
                if "CONDUIT_REDIS_URL" not in env:
                    server.env["CONDUIT_REDIS_URL"] = "memory://"  # never inherit a Redis URL
                out.append((t, key, server))
    return out


def _head(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nOrigin: http://bench\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.partition(b"\r\n\r\n")[0].decode("latin-1").lower()


def measure(server, variant: str, args: argparse.Namespace):
    """bench/http's measure(), plus a check that the stack really runs (the limiter counts)."""
    proc, port = http.start(server)
    try:
        head = _head(port)
        if variant.startswith("stack") and not ("x-ratelimit-remaining:" in head and "x-frame-options:" in head):
            raise RuntimeError(f"{server.name}: the stack's headers are missing (store unreachable?):\n{head}")
        if args.warmup > 0:
            http.wrk(port, args, args.warmup)
        before = http.tree_cpu(proc.pid)
        result = http.parse_wrk(http.wrk(port, args, args.duration))
        result.cpu_us = (http.tree_cpu(proc.pid) - before) / max(result.requests, 1) * 1e6
        return result
    finally:
        http.stop(proc)


def render(
    results: dict[tuple[str, str], list], args: argparse.Namespace, command: str, transports: list[str],
    sources: dict[str, str | None],
) -> str:
    lines = [
        START,
        "## Production middleware stack (bench/stack)",
        "",
        f"Produced by `{command}` on {_dt.date.today().isoformat()}.",
        "",
        "The hello endpoint (`GET /` → `{\"message\": \"Hello, World!\"}`, async handler) alone and behind",
        "the seed's production stack in its order: `security_headers()`, `enable_cors()`,",
        "`request_size_limit(max_mb=50)`, `request_timeout(30)`, `logging_middleware()`, `rate_limit(...)`",
        "(a limit the load never reaches, so every request is counted and allowed), `error_handler()`.",
        "The log level is `warning`, as in bench/http, so the access logger checks its level and writes",
        "nothing. \"monitoring\" is the built-in request-metrics middleware (on by default).",
        "",
        f"- Machine: {http.machine()}. wrk and the server share these cores and other work ran beside",
        "  the benchmark: rounds are interleaved, the table shows medians; CPU µs/request (the server's",
        "  user + system time over the run ÷ requests) is the steadier figure.",
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency` after a {args.warmup} s"
        f" warm-up; {args.rounds} round(s), every server once per round, started fresh each time.",
        f"- Versions: {http.versions()}; Redis {redis_version(args.redis)} on 127.0.0.1.",
        "",
        "| transport | code | variant | req/s | vs bare | CPU µs/req | vs bare (CPU) | p50 ms | p99 ms "
        "| req/s per round | errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    verdicts = []
    for t in transports:
        rps = {v: statistics.median(r.rps for r in rs) for (tt, v), rs in results.items() if tt == t and rs}
        cpu = {v: statistics.median(r.cpu_us for r in rs) for (tt, v), rs in results.items() if tt == t and rs}
        for src_name in sources:
            pre = "" if len(sources) == 1 else f"{src_name}:"
            for v in VARIANTS:
                key = pre + v.key
                rs = results.get((t, key))
                if not rs:
                    continue
                ref = pre + ("bare-nomon" if v.key == "bare" else "bare")
                d_rps = f"{rps[key] / rps[ref] - 1:+.1%}" if ref in rps and v.key != "bare-nomon" else "–"
                d_cpu = f"{cpu[key] / cpu[ref] - 1:+.1%}" if ref in cpu and v.key != "bare-nomon" else "–"
                lines.append(
                    f"| {TRANSPORTS[t][0]} | {src_name} | {v.label} | {rps[key]:,.0f} | {d_rps} | {cpu[key]:.0f} "
                    f"| {d_cpu} | {statistics.median(r.p50_ms for r in rs):.2f} "
                    f"| {statistics.median(r.p99_ms for r in rs):.2f} "
                    f"| {', '.join(f'{r.rps:.0f}' for r in rs)} | {sum(r.errors for r in rs)} |"
                )
            if pre + "stack-memory" in rps and pre + "bare" in rps:
                cost = 1 - rps[pre + "stack-memory"] / rps[pre + "bare"]
                cpu_cost = 1 - cpu[pre + "bare"] / cpu[pre + "stack-memory"]
                verdict = "met" if max(cost, cpu_cost) <= TARGET else "**missed**"
                verdicts.append(
                    f"- Target ({TRANSPORTS[t][0]}, {src_name}): the stack with the memory store costs "
                    f"≤ {TARGET:.0%} of throughput: {cost:.1%} by req/s, {cpu_cost:.1%} by CPU per request; {verdict}."
                )
    lines += ["", "\"vs bare\" compares each stack with the bare endpoint (both with monitoring on) and",
              "the bare endpoint with monitoring on against monitoring=False (the monitoring cost).",
              "Throughput lost by CPU = 1 − CPU(bare) / CPU(stack).", "", *verdicts, END]
    return "\n".join(lines) + "\n"


def export(rev: str, folder: Path) -> str:
    """``git archive REV conduit`` unpacked into ``folder``; returns the folder for PYTHONPATH."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "conduit"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return str(folder)


def redis_version(url: str) -> str:
    try:
        import redis

        return str(redis.Redis.from_url(url).info("server").get("redis_version", "?"))
    except Exception:  # noqa: BLE001 - the version is decoration
        return "?"


def write_doc(section: str) -> None:
    """Replace this script's section of docs/benchmarks.md, or append it at the end."""
    write_section(section, START, END, DOC)

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--transports", nargs="*", default=list(TRANSPORTS), choices=list(TRANSPORTS))
    parser.add_argument("--only", nargs="*", default=None, help="variant keys (default: all)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--rev", action="append", default=[], metavar="NAME=REV",
        help="measure the conduit package of git revision REV (exported to a temporary folder) as NAME; "
        "repeatable, for before/after comparisons (default: the working tree, as 'current')",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    variants = [v for v in VARIANTS if args.only is None or v.key in args.only]
    if any("CONDUIT_REDIS_URL" in v.env for v in variants) and args.redis == "redis://127.0.0.1:6379/0":
        sys.path.insert(0, str(ROOT))
        from conduit.storage.testing import ensure_redis

        ensure_redis()
    prefix = f"bench-stack:{uuid.uuid4().hex[:8]}"  # keys expire 10 s after the run
    exports = tempfile.TemporaryDirectory(prefix="bench-stack-")
    sources: dict[str, str | None] = {}
    for item in args.rev:
        name, sep, rev = item.partition("=")
        if not sep or not name or not rev:
            parser.error(f"--rev {item!r}: give NAME=REV, e.g. before=HEAD~4")
        sources[name] = export(rev, Path(exports.name) / name)
    sources = sources or {"current": None}
    chosen = servers(args.transports, variants, args.redis, prefix, sources)
    results: dict[tuple[str, str], list] = {(t, v): [] for t, v, _ in chosen}
    for rnd in range(1, args.rounds + 1):
        for t, v, server in chosen:
            r = measure(server, v, args)
            results[(t, v)].append(r)
            print(f"round {rnd} {server.name:32} {r.rps:8.0f} req/s  {r.cpu_us:6.1f} CPU µs/req  "
                  f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  errors {r.errors}", flush=True)
    command = "python bench/stack/run.py" + ("".join(" " + shlex.quote(a) for a in sys.argv[1:]) if argv is None else "")
    section = render(results, args, command, args.transports, sources)
    if args.no_write:
        print(section)
    else:
        write_doc(section)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
