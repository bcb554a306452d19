"""MCP tools/call per second over Streamable HTTP: conduit-mcp against the official SDK's own server.

Issue 7's benchmark. Both servers serve the same async tool, ``add(a: int, b: int) -> int``,
at ``/mcp`` of 127.0.0.1 in one process on httptools and uvloop:

- Conduit: ``conduit run`` of bench/mcp/apps/conduit_mcp_app.py (``app.mount_mcp("/mcp", server)``);
- the SDK: bench/mcp/apps/sdk_mcp_app.py, ``mcp.server.MCPServer`` (formerly FastMCP) run with
  ``server.run("streamable-http")`` (uvicorn, its defaults).

Both keep their default answer format (an SSE stream per request; the SDK answers a
2026-07-28 request that finishes quickly with a JSON body). One load tool for both: wrk with
bench/mcp/toolcall.lua. Two protocol eras:

- ``2025-11-25`` (the handshake era): this script opens one session per wrk connection
  (``initialize``, then ``notifications/initialized``, as the SDK's client does) and hands the
  ``Mcp-Session-Id``s to wrk, whose requests go round them: ``tools/call`` with the session
  header and ``MCP-Protocol-Version: 2025-11-25``, a fresh JSON-RPC id every time;
- ``2026-07-28``: no session; every ``tools/call`` carries the ``_meta`` envelope and the
  headers the SDK's client sends (``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name``).

The Lua script checks every answer (status 200, text ``3``, no ``isError``) and counts the
others as errors. Servers, wrk output parsing and CPU accounting are bench/http/run.py's;
every (era, server) runs once per round, in turn, and the table shows medians and spreads.

    python bench/mcp/toolcall.py                # 5 rounds of 10 s; rewrites its section of docs/benchmarks.md
    python bench/mcp/toolcall.py --quick --no-write

Needs wrk, conduit-mcp and the ``mcp`` SDK (2.x).
"""

from __future__ import annotations

import argparse
import datetime as _dt
from http.client import HTTPConnection
import importlib.util
import json
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT / "bench"))
from common import write_section  # noqa: E402 - bench/common.py, by path
START = "<!-- bench/mcp/toolcall.py: start -->"
END = "<!-- bench/mcp/toolcall.py: end -->"
LUA = HERE / "toolcall.lua"
ERAS = ["2025-11-25", "2026-07-28"]
TARGET_RPS = 2.0  # issue 7: >= 2x the SDK's calls per second ...
TARGET_P99 = 0.5  # ... at <= 1/2 of its p99


def _load_http_runner():  # bench/http/run.py is a script, not a package: load it by path
    spec = importlib.util.spec_from_file_location("bench_http_run", HERE.parent / "http" / "run.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


http = _load_http_runner()


REDIS_URL = "redis://127.0.0.1:6379/15"


def servers() -> dict[str, object]:
    conduit = http._conduit("conduit", "Conduit (conduit-mcp, mount_mcp), httptools, uvloop", "conduit_mcp_app",
                            "auto", "auto")
    conduit.env.update(PYTHONPATH=str(HERE / "apps"), CONDUIT_PLUGINS="mcp")
    # Two workers sharing MCP sessions through Redis (issue 21): wrk's connections spread over both,
    # and a session opened by one worker is served by the other from its Redis record.
    shared = http._conduit("conduit-redis", "Conduit, 2 workers sharing sessions in Redis, httptools, uvloop",
                           "conduit_mcp_app", "auto", "auto", workers=2)
    shared.env.update(PYTHONPATH=str(HERE / "apps"), CONDUIT_PLUGINS="mcp", CONDUIT_REDIS_URL=REDIS_URL)
    sdk = http.Server("sdk", f"official SDK {http._version('mcp')} (MCPServer.run(\"streamable-http\"), uvicorn)",
                      [sys.executable, str(HERE / "apps" / "sdk_mcp_app.py"), "{port}"])
    return {"conduit": conduit, "conduit-redis": shared, "sdk": sdk}


# --- the MCP conversation ------------------------------------------------------------------

ACCEPT = "application/json, text/event-stream"
CLIENT_INFO = {"name": "bench", "version": "1.0"}


def _post(port: int, body: dict, headers: dict[str, str]) -> tuple[int, dict[str, str], object]:
    conn = http_client(port)
    try:
        conn.request("POST", "/mcp", json.dumps(body), {"Accept": ACCEPT, "Content-Type": "application/json", **headers})
        response = conn.getresponse()
        raw = response.read().decode()
        head = {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
    if head.get("content-type", "").startswith("text/event-stream"):  # the last `data:` line is the answer
        data = [line[5:].strip() for line in raw.splitlines() if line.startswith("data:")]
        raw = data[-1] if data else ""
    return response.status, head, (json.loads(raw) if raw else None)


def http_client(port: int) -> HTTPConnection:
    return HTTPConnection("127.0.0.1", port, timeout=10)


def open_session(port: int) -> str:
    """initialize + notifications/initialized (2025-11-25); the session id."""
    status, head, answer = _post(port, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": CLIENT_INFO}}, {})
    session = head.get("mcp-session-id")
    if status != 200 or not session or answer.get("result", {}).get("protocolVersion") != "2025-11-25":  # type: ignore[union-attr]
        raise RuntimeError(f"initialize answered {status} {head} {answer}")
    headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    status, _, _ = _post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers)
    if status != 202:
        raise RuntimeError(f"notifications/initialized answered {status}")
    return session


def call_once(port: int, era: str, session: str | None) -> None:
    """One tools/call in ``era``, checked (before the load, so a broken server fails loudly)."""
    params: dict = {"name": "add", "arguments": {"a": 1, "b": 2}}
    if era == "2026-07-28":
        params["_meta"] = {"io.modelcontextprotocol/protocolVersion": era,
                           "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
                           "io.modelcontextprotocol/clientCapabilities": {}}
        headers = {"MCP-Protocol-Version": era, "Mcp-Method": "tools/call", "Mcp-Name": "add"}
    else:
        headers = {"Mcp-Session-Id": session or "", "MCP-Protocol-Version": era}
    status, _, answer = _post(port, {"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": params}, headers)
    result = answer.get("result", {}) if isinstance(answer, dict) else {}
    if status != 200 or result.get("isError") or result.get("content") != [{"type": "text", "text": "3"}]:
        raise RuntimeError(f"tools/call ({era}) answered {status} {answer}")


# --- load -------------------------------------------------------------------------------------


def wrk(port: int, era: str, sessions: list[str], args: argparse.Namespace, duration: int) -> str:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--latency", "-s", str(LUA),
            f"http://127.0.0.1:{port}/mcp", "--", era, *sessions]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    return done.stdout


def measure(server, era: str, args: argparse.Namespace):
    proc, port = http.start(server)
    try:
        sessions = [open_session(port) for _ in range(args.connections)] if era != "2026-07-28" else []
        call_once(port, era, sessions[0] if sessions else None)
        if args.warmup > 0:
            wrk(port, era, sessions, args, args.warmup)
        before = http.tree_cpu(proc.pid)
        out = wrk(port, era, sessions, args, args.duration)
        result = http.parse_wrk(out)
        result.cpu_us = (http.tree_cpu(proc.pid) - before) / max(result.requests, 1) * 1e6
        bad = int(out.split("bad answers: ", 1)[1].split()[0]) if "bad answers: " in out else 0
        result.errors += bad
        return result
    finally:
        http.stop(proc)


# --- report -----------------------------------------------------------------------------------


def _versions() -> str:
    import platform

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
    dists = ["conduit", "conduit-mcp", "mcp", "httptools", "uvloop", "uvicorn", "starlette", "pydantic", "orjson"]
    return ", ".join([f"Python {platform.python_version()}"] + [f"{d} {http._version(d)}" for d in dists] + [wrk_version])


def _range(values: list[float], fmt: str) -> str:
    return "–".join(fmt.format(v) for v in (min(values), max(values))) if len(values) > 1 else fmt.format(values[0])


def render(results: dict[tuple[str, str], list], labels: dict[str, str], args: argparse.Namespace, command: str) -> str:
    med = lambda key, attr: statistics.median(getattr(r, attr) for r in results[key])  # noqa: E731
    lines = [
        START,
        "## MCP tools/call over Streamable HTTP against the official SDK's server (bench/mcp)",
        "",
        f"Produced by `{command}` on {_dt.date.today().isoformat()}.",
        "",
        "The same async tool, `add(a: int, b: int) -> int`, served at `/mcp` on 127.0.0.1 by Conduit",
        "(`conduit run`, `app.mount_mcp(\"/mcp\", server)`) and by the official `mcp` SDK's own server",
        "(`mcp.server.MCPServer`, formerly FastMCP, `server.run(\"streamable-http\")` on uvicorn); both one",
        "process on httptools and uvloop, log level warning, default answer formats (SSE; the SDK answers",
        "a quick 2026-07-28 request with a JSON body). Load: wrk with `bench/mcp/toolcall.lua`. In the",
        f"2025-11-25 (handshake) era the script first opens {args.connections} sessions (`initialize`,",
        "`notifications/initialized`) and wrk's `tools/call`s go round them with `Mcp-Session-Id`; in",
        "the 2026-07-28 era every `tools/call` carries the `_meta` envelope and no session, with the",
        "headers the SDK's client sends. Every answer is checked (200, text `3`, no `isError`); errors",
        "counts the rest with wrk's socket errors. \"2 workers sharing sessions in Redis\" is the same app",
        "under `conduit run --workers 2` with `CONDUIT_REDIS_URL` (the machine's Redis, db 15): wrk's",
        "connections spread over both workers and each session, opened by either, is served by both",
        "from its Redis record (one `GET` per request); its CPU column counts both workers, not Redis.",
        "",
        f"- Machine: {http.machine()}. **Shared**: wrk, the server and other people's jobs ran on",
        "  the same 2 cores, so calls/s and latencies move between rounds (see the per-round columns);",
        "  CPU µs/call (user + system time of the server process over the measured run ÷ calls answered)",
        "  depends much less on that load.",
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency -s bench/mcp/toolcall.lua"
        f" http://127.0.0.1:PORT/mcp -- ERA SESSION...` after a {args.warmup} s warm-up; {args.rounds} round(s),"
        " every (era, server) once per round in turn, each server started fresh.",
        f"- Versions: {_versions()}.",
        "",
        "| era | server | calls/s | × SDK | CPU µs/call | × SDK by CPU | p50 ms | p99 ms | p99 ÷ SDK "
        "| calls/s per round | p99 ms per round | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    verdicts = []
    for era in ERAS:
        for name in ("conduit", "conduit-redis", "sdk"):
            key = (era, name)
            if not results.get(key):
                continue
            ref = (era, "sdk") if results.get((era, "sdk")) else None
            rps, cpu, p99 = med(key, "rps"), med(key, "cpu_us"), med(key, "p99_ms")
            x_rps = f"{rps / med(ref, 'rps'):.2f}" if ref else "–"
            x_cpu = f"{med(ref, 'cpu_us') / cpu:.2f}" if ref else "–"
            x_p99 = f"{p99 / med(ref, 'p99_ms'):.2f}" if ref else "–"
            lines.append(
                f"| {era} | {labels[name]} | {rps:,.0f} | {x_rps} | {cpu:,.0f} | {x_cpu} | {med(key, 'p50_ms'):.1f} "
                f"| {p99:.1f} | {x_p99} | {', '.join(f'{r.rps:.0f}' for r in results[key])} "
                f"| {', '.join(f'{r.p99_ms:.0f}' for r in results[key])} | {sum(r.errors for r in results[key])} |"
            )
        c, s = (era, "conduit"), (era, "sdk")
        if results.get(c) and results.get(s):
            by_rps = med(c, "rps") / med(s, "rps")
            by_cpu = med(s, "cpu_us") / med(c, "cpu_us")
            p99 = med(c, "p99_ms") / med(s, "p99_ms")
            per_round = [a.rps / b.rps for a, b in zip(results[c], results[s])]
            ok = by_rps >= TARGET_RPS and p99 <= TARGET_P99
            verdicts.append(
                f"- Target ({era}): Conduit ≥ {TARGET_RPS:g}× the SDK's calls per second at ≤ ½ its p99:"
                f" {by_rps:.2f}× by calls/s ({_range(per_round, '{:.2f}')}× round by round), {by_cpu:.2f}× by CPU"
                f" per call, p99 {p99:.2f}× — **{'met' if ok else 'missed'}**."
            )
    lines += ["", *verdicts, END]
    return "\n".join(lines) + "\n"


def write_doc(section: str) -> None:
    """Replace this script's section of docs/benchmarks.md, or append it at the end."""
    write_section(section, START, END, DOC)

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eras", nargs="*", default=ERAS, choices=ERAS)
    parser.add_argument("--only", nargs="*", default=None, choices=["conduit", "conduit-redis", "sdk"])
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s after a 1 s warm-up (a smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing docs/")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 3, 1
    chosen = {k: v for k, v in servers().items() if args.only is None or k in args.only}
    labels = {k: v.label for k, v in chosen.items()}  # type: ignore[attr-defined]
    results: dict[tuple[str, str], list] = {(e, k): [] for e in args.eras for k in chosen}
    for rnd in range(1, args.rounds + 1):
        for era in args.eras:
            for name, server in chosen.items():
                r = measure(server, era, args)
                results[(era, name)].append(r)
                print(f"round {rnd} {era} {name:8} {r.rps:8.0f} calls/s  {r.cpu_us:7.0f} CPU µs/call  "
                      f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  errors {r.errors}", flush=True)
    command = "python bench/mcp/toolcall.py" + ("".join(" " + shlex.quote(a) for a in sys.argv[1:]) if argv is None else "")
    section = render(results, labels, args, command)
    if args.no_write:
        print(section)
    else:
        write_doc(section)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
