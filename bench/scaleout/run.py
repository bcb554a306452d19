"""Scale-out run: the showcase with two workers sharing Redis, a Chroma server and an OTLP
receiver, with Redis stopped mid-load.

    python bench/scaleout/run.py                 # a few minutes; rewrites its section of docs/benchmarks.md
    python bench/scaleout/run.py --no-write --duration 5 --down 2 --docs docs/cli.md   # a smoke run

Starts, on free ports of 127.0.0.1: a private Redis (`redis-server --save ''`), a Chroma
server (`chroma run`), the OTLP/HTTP receiver of bench/otel, and
`conduit run examples.showcase:app --workers 2` configured for all three by the environment
(CONDUIT_REDIS_URL, CONDUIT_VECTOR_URL, OTEL_*), with its API key
(CONDUIT_SHOWCASE_API_KEY), an app-wide limit far above the load (CONDUIT_SHOWCASE_RATE_LIMIT:
every request still costs a Redis round trip) and a tight one on POST /api/ask
(CONDUIT_SHOWCASE_ASK_RATE_LIMIT). Each worker indexes the docs (--docs) into the Chroma
server at start-up; the run waits until both say /health/ready. Then:

1. rate limit shared: POST /api/ask (limit N a minute per key) is sent 2N times, alternating
   between a connection held by each worker; exactly N must be admitted, by both together;
2. router state shared: routing decisions and feedback go through the connection held by one
   worker; the other worker's GET /v1/stats must show the observations;
3. load: wrk (bench/scaleout/load.lua: POST /v1/chat/completions with model "auto",
   POST /v1/feedback for those answers, POST /api/search = an embedding and a Chroma query),
   all with the API key; Redis is stopped a third of the way into the run and started again
   --down seconds later;
4. after the outage the checks 1 and 2 run again (Redis came back empty: the limiter counts
   from zero and admits exactly N again; feedback is shared again).

Reports throughput, p50/p99, responses by status (5xx: goal 0) and the shared-state results;
exits 1 when a 5xx was answered or a shared-state check failed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "bench" / "otel"))
sys.path.insert(0, str(ROOT / "bench"))
from common import free_port, write_section
from run import Receiver

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench/scaleout/run.py: start -->", "<!-- bench/scaleout/run.py: end -->"
KEY = "sk-scaleout-bench"
AUTH = {"X-API-Key": KEY}
# What every replica runs, here and in deploy/ (compose.yaml, kubernetes.yaml, Dockerfile:
# tests/test_deploy.py checks they agree); each adds --host and --port.
COMMAND = ("conduit", "run", "examples.showcase:app", "--workers", "2")


def showcase_environment(redis_url: str, chroma_url: str, otlp_url: str, rate_limit: str, ask_limit: str) -> dict[str, str]:
    """The variables that point a showcase replica at the shared services (deploy/ sets the same)."""
    return {
        "CONDUIT_REDIS_URL": redis_url,
        "CONDUIT_VECTOR_URL": chroma_url,
        "CONDUIT_SHOWCASE_API_KEY": KEY,
        "CONDUIT_SHOWCASE_RATE_LIMIT": rate_limit,
        "CONDUIT_SHOWCASE_ASK_RATE_LIMIT": ask_limit,
        "OTEL_ENABLED": "true",
        "OTEL_SERVICE_NAME": "conduit-showcase",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_url,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    }


PROVIDER_VARIABLES = ("OPENAI_API_KEY", "GROQ_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                      "OPENAI_COMPATIBLE_BASE_URL")  # unset for the run: the showcase's stand-in provider answers


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def start_redis(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def worker_of(client: httpx.Client) -> int:
    r = client.get("/api/status", headers=AUTH)
    r.raise_for_status()
    return int(r.json()["worker_pid"])


def distinct_workers(base: str, want: int = 2, tries: int = 200) -> dict[int, httpx.Client]:
    """One keep-alive client per worker (a connection stays with the worker that accepted it)."""
    clients: dict[int, httpx.Client] = {}
    for _ in range(tries):
        client = httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=1))
        pid = worker_of(client)
        if pid in clients:
            client.close()
        else:
            clients[pid] = client
        if len(clients) == want:
            return clients
    raise SystemExit(f"only {len(clients)} worker(s) answered in {tries} connections")


def wait_ready(base: str, timeout: float) -> dict[int, dict[str, Any]]:
    """Until two workers (told apart by /api/status's worker_pid) say their docs index is ready."""
    seen: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = httpx.get(base + "/api/status", headers={**AUTH, "Connection": "close"}, timeout=30).json()
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        index = body["index"]
        if index["state"] == "failed":
            raise SystemExit(f"worker {body['worker_pid']} could not index the docs: {index['error']}")
        seen[body["worker_pid"]] = index
        if len(seen) >= 2 and all(i["state"] == "ready" for i in seen.values()):
            return seen
        time.sleep(0.5)
    raise SystemExit(f"the workers' docs indexes were not ready within {timeout:.0f} s: {seen}")


def check_limit(base: str, limit: int) -> dict[str, Any]:
    """POST /api/ask 2 × limit times, alternating between the two workers' connections."""
    clients = distinct_workers(base)
    pids = list(clients)
    admitted = dict.fromkeys(pids, 0)
    refused = 0
    other: list[int] = []
    for i in range(2 * limit):
        pid = pids[i % 2]
        r = clients[pid].post("/api/ask", headers=AUTH, json={"question": f"How do workers share a rate limit? ({i})"})
        if r.status_code == 200:
            admitted[pid] += 1
        elif r.status_code == 429:
            refused += 1
        else:
            other.append(r.status_code)
    stayed = all(worker_of(c) == pid for pid, c in clients.items())  # no connection moved to another worker
    for c in clients.values():
        c.close()
    total = sum(admitted.values())
    return {"sent": 2 * limit, "admitted": total, "by_worker": sorted(admitted.values()), "refused": refused,
            "other": other, "connections_stayed": stayed,
            "ok": total == limit and refused == limit and all(admitted.values()) and not other and stayed}


def observations(client: httpx.Client) -> int:
    stats = client.get("/v1/stats", headers=AUTH).json()
    return sum(m["observations"] for m in stats["models"].values())


def check_router(base: str, feedbacks: int = 20) -> dict[str, Any]:
    """Decisions and feedback through worker A; worker B's /v1/stats must count them."""
    clients = distinct_workers(base)
    (pid_a, a), (_pid_b, b) = clients.items()
    before_b = observations(b)
    for i in range(feedbacks):
        r = a.post("/v1/route", headers=AUTH, json={"text": f"question {i}: what does a vector database store?"})
        r.raise_for_status()
        a.post("/v1/feedback", headers=AUTH, json={"query_id": r.json()["query_id"], "quality": 0.9}).raise_for_status()
    seen_a = observations(a)
    seen_b = observations(b)
    stayed = all(worker_of(c) == pid for pid, c in clients.items())
    for c in clients.values():
        c.close()
    return {"feedback_on_worker": pid_a, "feedbacks": feedbacks, "observations_a": seen_a,
            "observations_b_before": before_b, "observations_b": seen_b, "connections_stayed": stayed,
            "ok": seen_b - before_b == feedbacks and seen_b == seen_a and stayed}


def wrk(base: str, duration: int, connections: int, redis_port: int, stop_at: float, down_for: float,
        redis: list[subprocess.Popen[bytes]]) -> tuple[str, dict[str, float]]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency", "-s",
           str(ROOT / "bench" / "scaleout" / "load.lua"), base, "--", KEY]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    time.sleep(stop_at)
    redis[0].terminate()
    redis[0].wait()
    stopped = time.monotonic() - t0
    time.sleep(down_for)
    redis[0] = start_redis(redis_port)
    started = time.monotonic() - t0
    out, _ = proc.communicate()
    return out, {"stopped_at": stopped, "started_at": started}


def parse_wrk(out: str) -> dict[str, Any]:
    def lat(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    line = re.search(r"^STATUS(.*)$", out, re.MULTILINE)
    assert line, out
    statuses = {int(code): int(n) for code, n in re.findall(r"(\d+)=(\d+)", line.group(1))}
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50": lat("50"), "p99": lat("99"), "statuses": statuses,
        "5xx": sum(n for code, n in statuses.items() if code >= 500),
        "4xx": sum(n for code, n in statuses.items() if 400 <= code < 500),
        "socket_errors": sum(map(int, sock.groups())) if sock else 0,
    }


def section(args: argparse.Namespace, res: dict[str, Any]) -> str:
    w, lim1, lim2, r1, r2 = res["wrk"], res["limit_before"], res["limit_after"], res["router_before"], res["router_after"]
    defaults = {"duration": 30, "connections": 32, "limit": 30, "down": 5.0, "docs": None}
    options = "".join(f" --{k} {getattr(args, k)}" for k, v in defaults.items() if getattr(args, k) != v)
    ok = lambda b: "yes" if b else "**no**"
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(w["statuses"].items()))
    sock = (" wrk's socket errors are its own 5 s request timeouts: requests slower than that while"
            " Redis was down or coming back are counted there, not as responses." if w["socket_errors"] else "")
    docs = f"`{args.docs}`" if args.docs else "all of docs/"
    return f"""{START}
## Scale-out: two workers, Redis, a Chroma server, an OTLP receiver; Redis stopped mid-run

Produced by `python bench/scaleout/run.py{options}` on {datetime.date.today().isoformat()} (2 cores shared by
wrk, the two workers, Redis, Chroma and the receiver). `conduit run examples.showcase:app --workers 2`
with `CONDUIT_REDIS_URL` (a private `redis-server --save ''`), `CONDUIT_VECTOR_URL` (`chroma run`; each
worker indexed {docs} into it at start-up: {res['chunks']} chunks), `OTEL_ENABLED=true` (traces sampled at
10 %, metrics, OTLP/HTTP to bench/otel's receiver), the API key, an app-wide limit of 10⁹ a minute
(every request is counted in Redis) and `CONDUIT_SHOWCASE_ASK_RATE_LIMIT={args.limit}`; the router
answers through the showcase's in-process stand-in provider. Load:
`wrk -t1 -c{args.connections} -d{args.duration}s --timeout 5s --latency -s bench/scaleout/load.lua URL -- KEY`
(per 3 requests: `POST /v1/chat/completions` with `model: "auto"`, `POST /v1/feedback` on one of those answers,
`POST /api/search` = a MiniLM embedding and a Chroma query). Redis was stopped
{res['outage']['stopped_at']:.1f} s into the run and started again (empty) at {res['outage']['started_at']:.1f} s.

| req/s | requests | p50 ms | p99 ms | 5xx | responses by status | socket errors | spans received | metric exports |
|---:|---:|---:|---:|---:|---|---:|---:|---:|
| {w['rps']:,.0f} | {w['requests']:,} | {w['p50']:.2f} | {w['p99']:.2f} | {w['5xx']} | {statuses} | {w['socket_errors']} | {res['spans']:,} | {res['metric_exports']} |

| shared-state check | before the outage | after Redis came back |
|---|---|---|
| `POST /api/ask` (limit {args.limit}/min) sent {2 * args.limit}×, alternating between the workers: admitted (per worker) | {lim1['admitted']} ({' + '.join(map(str, lim1['by_worker']))}), refused {lim1['refused']} — {ok(lim1['ok'])} | {lim2['admitted']} ({' + '.join(map(str, lim2['by_worker']))}), refused {lim2['refused']} — {ok(lim2['ok'])} |
| {r1['feedbacks']} feedbacks sent to worker A: observations seen by worker B (before → after) | {r1['observations_b_before']} → {r1['observations_b']} (A sees {r1['observations_a']}) — {ok(r1['ok'])} | {r2['observations_b_before']} → {r2['observations_b']} (A sees {r2['observations_a']}) — {ok(r2['ok'])} |

While Redis is down the limiter fails open (warnings logged: {res['warnings']['conduit.ratelimit']}) and the
router keeps deciding from the posteriors it holds in memory (warnings logged:
{res['warnings']['conduit.router']}); feedback for a decision whose record could not be shared is a 404
`unknown_query`, not a failure. Redis restarted without its data, so the limit counts from zero and
the posteriors start again from the feedback given after the outage.{sock}
{END}
"""


def docs_folder(tmp: Path, docs: str | None) -> Path:
    """The folder the showcase indexes: docs/, or a copy of the files named by --docs."""
    if not docs:
        return ROOT / "docs"
    folder = tmp / "docs"
    folder.mkdir()
    for name in docs.split(","):
        source = Path(name) if Path(name).is_absolute() else ROOT / name
        if not source.is_file():
            raise SystemExit(f"--docs: {name} is not a file; give comma-separated .md files, e.g. docs/cli.md")
        shutil.copy(source, folder / source.name)
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=30, help="wrk seconds (default 30)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--limit", type=int, default=30, help="what POST /api/ask admits a minute (default 30)")
    ap.add_argument("--down", type=float, default=5.0, help="seconds Redis stays stopped (default 5)")
    ap.add_argument("--docs", default=None,
                    help="comma-separated .md files the showcase indexes (default: all of docs/, a minute or two)")
    ap.add_argument("--ready-timeout", type=float, default=600.0, help="seconds to wait for the docs indexes")
    ap.add_argument("--no-write", action="store_true", help="print the section, leave docs/ alone")
    args = ap.parse_args(argv)
    if args.duration < 3 or args.limit < 2 or args.down <= 0:
        raise SystemExit("--duration must be at least 3 s, --limit at least 2, --down above 0")
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y {'wrk' if tool == 'wrk' else 'redis-server'}")

    tmp = Path(tempfile.mkdtemp(prefix="conduit-scaleout-"))
    docs = docs_folder(tmp, args.docs)
    procs: list[subprocess.Popen[Any]] = []
    redis_port, chroma_port, app_port = free_port(), free_port(), free_port()
    redis = [start_redis(redis_port)]
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    res: dict[str, Any] = {}
    try:
        chroma_url = f"http://127.0.0.1:{chroma_port}"
        procs.append(subprocess.Popen(
            [str(BIN / "chroma"), "run", "--path", str(tmp / "chroma"), "--host", "127.0.0.1", "--port", str(chroma_port)],
            stdout=open(tmp / "chroma.log", "wb"), stderr=subprocess.STDOUT))  # noqa: SIM115
        wait_http(chroma_url + "/api/v2/heartbeat")

        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CONDUIT_", "OTEL_")) and k not in PROVIDER_VARIABLES}
        env.update(showcase_environment(f"redis://127.0.0.1:{redis_port}/0", chroma_url,
                                        f"http://127.0.0.1:{receiver.server_address[1]}", str(10**9), str(args.limit)))
        env.update({"PYTHONPATH": str(ROOT), "CONDUIT_SHOWCASE_DOCS": str(docs), "OTEL_METRIC_EXPORT_INTERVAL": "5000"})
        server_log = open(tmp / "server.log", "wb")  # noqa: SIM115
        procs.append(subprocess.Popen(
            [str(BIN / COMMAND[0]), *COMMAND[1:], "--host", "127.0.0.1", "--port", str(app_port)], cwd=ROOT, env=env,
            stdout=server_log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{app_port}"
        wait_http(base + "/health/live", timeout=180)
        indexes = wait_ready(base, args.ready_timeout)
        res["chunks"] = max(i["chunks"] for i in indexes.values())
        print(f"ready: {len(indexes)} workers, {res['chunks']} chunks indexed", flush=True)
        res["limit_before"], res["router_before"] = check_limit(base, args.limit), check_router(base)
        print("before:", res["limit_before"], res["router_before"], flush=True)
        stop_at = max(1.0, args.duration / 3)
        out, res["outage"] = wrk(base, args.duration, args.connections, redis_port, stop_at,
                                 min(args.down, args.duration - stop_at - 0.5), redis)
        print(out, flush=True)
        res["wrk"] = parse_wrk(out)
        time.sleep(1)
        res["limit_after"], res["router_after"] = check_limit(base, args.limit), check_router(base)
        print("after:", res["limit_after"], res["router_after"], flush=True)
        time.sleep(6)  # one more metric export interval
        res["spans"], res["metric_exports"] = receiver.spans, receiver.metric_exports
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()
        redis[0].terminate()
        redis[0].wait()
        receiver.shutdown()
        print(f"server log: {tmp / 'server.log'}", flush=True)
    log = (tmp / "server.log").read_text(errors="replace").splitlines()
    res["warnings"] = {name: sum(f"WARNING {name}:" in line for line in log)
                       for name in ("conduit.ratelimit", "conduit.router")}
    res["tracebacks"] = sum(line.startswith("Traceback") for line in log)
    print(f"warnings: {res['warnings']}; tracebacks in the server log: {res['tracebacks']}")
    text = section(args, res)
    print(text)
    if not args.no_write:
        write_section(text, START, END, DOC)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0 if res["wrk"]["5xx"] == 0 and all(res[k]["ok"] for k in
                                                ("limit_before", "limit_after", "router_before", "router_after")) else 1


if __name__ == "__main__":
    sys.exit(main())
