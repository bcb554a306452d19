"""Load the same hello JSON endpoint in Conduit and its peers with wrk; write docs/benchmarks.md.

Each server is started on 127.0.0.1 (a free port), polled until it answers, warmed up,
loaded with ``wrk --latency``, then stopped. Servers are measured in interleaved rounds
(every server once per round, in turn) so that slow drift in the machine's load spreads
over all of them; the table shows the median of the rounds.

    python bench/http/run.py                       # full run, rewrites the section in docs/
    python bench/http/run.py --only conduit-h11 --rounds 1 --duration 3 --no-write

Needs wrk (Debian: apt-get install -y wrk) and bench/requirements.txt.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import json
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
ROOT = HERE.parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT / "bench"))
from common import free_port, write_section  # noqa: E402 - bench/common.py, by path
START = "<!-- bench/http/run.py: start -->"
END = "<!-- bench/http/run.py: end -->"
BASELINE = "starlette-uvicorn-h11"
FAST_PEER = "starlette-uvicorn-httptools-uvloop"


@dataclass
class Server:
    name: str
    label: str
    argv: list[str]  # "{port}" is replaced
    env: dict[str, str] = field(default_factory=dict)


def _conduit(name: str, label: str, module: str, http: str, loop: str, workers: int = 1) -> Server:
    exe = Path(sys.executable).with_name("conduit")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from conduit.cli import main; sys.exit(main())"]
    argv = cmd + ["run", f"{module}:app", "--host", "127.0.0.1", "--port", "{port}",
                  "--workers", str(workers), "--http", http, "--loop", loop]
    return Server(name, label, argv, {"CONDUIT_PLUGINS": "", "CONDUIT_LOG_LEVEL": "warning"})


def _uvicorn(name: str, label: str, module: str, http: str, loop: str, workers: int = 1) -> Server:
    argv = [sys.executable, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", "{port}",
            "--http", http, "--loop", loop, "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    return Server(name, label, argv)


SERVERS = [
    _conduit("conduit-h11", "Conduit, h11, asyncio loop", "conduit_async", "h11", "asyncio"),
    _conduit("conduit-h11-uvloop", "Conduit, h11, uvloop", "conduit_async", "h11", "uvloop"),
    _conduit("conduit-httptools-uvloop", "Conduit, httptools, uvloop", "conduit_async", "httptools", "uvloop"),
    _conduit("conduit-sync-h11", "Conduit, sync handler, h11, asyncio loop", "conduit_sync", "h11", "asyncio"),
    _conduit("conduit-sync-auto", "Conduit, sync handler, auto (httptools, uvloop)", "conduit_sync", "auto", "auto"),
    _uvicorn(BASELINE, "Starlette on uvicorn, h11, asyncio loop", "starlette_app", "h11", "asyncio"),
    _uvicorn("starlette-uvicorn-h11-uvloop", "Starlette on uvicorn, h11, uvloop", "starlette_app", "h11", "uvloop"),
    _uvicorn(FAST_PEER, "Starlette on uvicorn, httptools, uvloop", "starlette_app", "httptools", "uvloop"),
    _uvicorn("fastapi-uvicorn-h11", "FastAPI on uvicorn, h11, asyncio loop", "fastapi_app", "h11", "asyncio"),
    _conduit("conduit-auto-2w", "Conduit, auto (httptools, uvloop), 2 workers", "conduit_async", "auto", "auto", 2),
    _conduit("conduit-h11-2w", "Conduit, h11, asyncio loop, 2 workers", "conduit_async", "h11", "asyncio", 2),
    _uvicorn("starlette-uvicorn-httptools-uvloop-2w", "Starlette on uvicorn, httptools, uvloop, 2 workers",
             "starlette_app", "httptools", "uvloop", 2),
    _uvicorn("starlette-uvicorn-h11-2w", "Starlette on uvicorn, h11, asyncio loop, 2 workers",
             "starlette_app", "h11", "asyncio", 2),
]

EXPECTED = {"message": "Hello, World!"}


# --- processes -----------------------------------------------------------------------------------


def _get(port: int) -> bytes | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            return data
    except OSError:
        return None


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return None


def start(server: Server) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [a.replace("{port}", str(port)) for a in server.argv]
    env = {**os.environ, **server.env}
    proc = subprocess.Popen(argv, cwd=APPS, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        reply = _get(port)
        if reply:
            head, _, body = reply.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200") or _json(body) != EXPECTED:
                stop(proc)
                raise RuntimeError(f"{server.name} answered unexpectedly: {reply[:300]!r}")
            return proc, port
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"{server.name} did not answer within 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants (workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)"
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    family = {pid}
    changed = True
    while changed:
        changed = False
        for child, (parent, _) in stats.items():
            if parent in family and child not in family:
                family.add(child)
                changed = True
    return sum(stats[p][1] for p in family if p in stats)


# --- wrk -------------------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    cpu_us: float = 0.0  # server CPU time per request (all its processes)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"cannot read latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if m:
        errors += int(m.group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    return Result(rps, p50, p99, errors, requests)


def wrk(port: int, args: argparse.Namespace, duration: int) -> str:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--latency",
            f"http://127.0.0.1:{port}/"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    return done.stdout


def measure(server: Server, args: argparse.Namespace) -> Result:
    proc, port = start(server)
    try:
        if args.warmup > 0:
            wrk(port, args, args.warmup)
        before = tree_cpu(proc.pid)
        result = parse_wrk(wrk(port, args, args.duration))
        result.cpu_us = (tree_cpu(proc.pid) - before) / max(result.requests, 1) * 1e6
        return result
    finally:
        stop(proc)


# --- report ----------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def versions() -> str:
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
    dists = ["conduit", "h11", "httptools", "uvloop", "anyio", "orjson", "starlette", "fastapi", "uvicorn"]
    parts = [f"Python {platform.python_version()}"] + [f"{d} {_version(d)}" for d in dists] + [wrk_version]
    return ", ".join(parts)


def render(results: dict[str, list[Result]], args: argparse.Namespace, command: str) -> str:
    rps = {name: statistics.median(r.rps for r in rs) for name, rs in results.items() if rs}
    cpu = {name: statistics.median(r.cpu_us for r in rs) for name, rs in results.items() if rs}

    def ratio(table: dict[str, float], name: str, peer: str, inverse: bool = False) -> str:
        if peer not in table or not table[name]:
            return "–"
        return f"{(table[peer] / table[name]) if inverse else (table[name] / table[peer]):.2f}"

    lines = [
        START,
        f"Produced by `{command}` on {_dt.date.today().isoformat()}.",
        "",
        f"- Machine: {machine()}. wrk and the server share these cores and other work ran beside",
        "  the benchmark, so single figures are noisy: rounds are interleaved and the table shows medians.",
        "  CPU µs/request (user + system time of the server's processes over the measured run, divided",
        "  by the requests served) moves much less with the machine's load than req/s does.",
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency` on `GET /` at"
        f" 127.0.0.1 after a {args.warmup} s warm-up; {args.rounds} round(s), each server once per round,"
        " started fresh each time.",
        f"- Versions: {versions()}.",
        "",
        "Ratios: A = Starlette on uvicorn, h11, asyncio loop; B = Starlette on uvicorn, httptools, uvloop.",
        "",
        "| server | req/s | × A | × B | CPU µs/req | × A by CPU | × B by CPU | p50 ms | p99 ms "
        "| req/s per round | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for server in SERVERS:
        rs = results.get(server.name)
        if not rs:
            continue
        name = server.name
        p50 = statistics.median(r.p50_ms for r in rs)
        p99 = statistics.median(r.p99_ms for r in rs)
        rounds = ", ".join(f"{r.rps:.0f}" for r in rs)
        errors = sum(r.errors for r in rs)
        lines.append(
            f"| {server.label} | {rps[name]:,.0f} | {ratio(rps, name, BASELINE)} | {ratio(rps, name, FAST_PEER)} "
            f"| {cpu[name]:.0f} | {ratio(cpu, name, BASELINE, True)} | {ratio(cpu, name, FAST_PEER, True)} "
            f"| {p50:.2f} | {p99:.2f} | {rounds} | {errors} |"
        )
    lines += ["", *targets(rps, cpu)]
    lines.append(END)
    return "\n".join(lines) + "\n"


TARGETS = [  # (server, peer, at least): issue 2's targets on this machine
    ("conduit-h11", BASELINE, 1.5),
    ("conduit-h11-uvloop", BASELINE, 2.0),
    ("conduit-httptools-uvloop", FAST_PEER, 1.0),
]


def targets(rps: dict[str, float], cpu: dict[str, float]) -> list[str]:
    labels = {s.name: s.label for s in SERVERS}
    out = []
    for name, peer, goal in TARGETS:
        if name in rps and peer in rps:
            by_rps = rps[name] / rps[peer]
            by_cpu = cpu[peer] / cpu[name] if cpu[name] else 0.0

            def verdict(ratio: float) -> str:
                return "met" if ratio >= goal else "**missed**"

            out.append(
                f"- Target: {labels[name]} ≥ {goal:g}× {labels[peer]}: {by_rps:.2f}× by req/s "
                f"({verdict(by_rps)}), {by_cpu:.2f}× by CPU per request ({verdict(by_cpu)})."
            )
    return out


def write_doc(section: str) -> None:
    """Replace this script's section of docs/benchmarks.md, or append it at the end."""
    write_section(section, START, END, DOC)

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured load per server per round")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load before each measurement")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None, help="server names to run (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print the table instead of writing docs/")
    parser.add_argument("--list", action="store_true", help="list server names and exit")
    args = parser.parse_args(argv)
    if args.list:
        for s in SERVERS:
            print(f"{s.name:40} {s.label}")
        return 0
    chosen = [s for s in SERVERS if args.only is None or s.name in args.only]
    unknown = set(args.only or ()) - {s.name for s in SERVERS}
    if unknown:
        parser.error(f"unknown server(s): {', '.join(sorted(unknown))}; see --list")
    results: dict[str, list[Result]] = {s.name: [] for s in chosen}
    for rnd in range(1, args.rounds + 1):
        for server in chosen:
            r = measure(server, args)
            results[server.name].append(r)
            print(f"round {rnd} {server.name:40} {r.rps:8.0f} req/s  {r.cpu_us:6.1f} CPU µs/req  "
                  f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  errors {r.errors}", flush=True)
    command = "python bench/http/run.py" + ("".join(" " + shlex.quote(a) for a in sys.argv[1:]) if argv is None else "")
    section = render(results, args, command)
    if args.no_write:
        print(section)
    else:
        write_doc(section)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
