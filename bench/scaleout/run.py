"""Scale-out run: two workers sharing Redis, a Chroma server and an OTLP receiver, with Redis
stopped mid-load.

    python bench/scaleout/run.py                 # about a minute; rewrites its section of docs/benchmarks.md
    python bench/scaleout/run.py --no-write --duration 10

Starts, on free ports of 127.0.0.1: a private Redis (`redis-server --save ''`), a Chroma
server (`chroma run`, seeded with 500 vectors), the OTLP/HTTP receiver of bench/otel, and
`conduit run bench.scaleout.app:app --workers 2` pointed at all three. Then:

1. rate limit shared: /limited (limit N per 10 minutes) is hit 2N times, each on a new
   connection; exactly N must be admitted, by both workers together;
2. router state shared: routing decisions and feedback go through a connection held by one
   worker; the other worker's GET /v1/stats must show the observations;
3. load: wrk (bench/scaleout/load.lua: hello, router decisions, Chroma searches); Redis is
   stopped a few seconds into the run and started again a few seconds later;
4. after the outage the checks 1 and 2 run again (Redis came back empty: the limiter counts
   from zero and admits exactly N again; feedback is shared again).

Reports throughput, p50/p99, the 5xx count (goal 0) and the shared-state results.
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
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "bench" / "otel"))
from run import Receiver

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench/scaleout/run.py: start -->", "<!-- bench/scaleout/run.py: end -->"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def distinct_workers(base: str, want: int = 2, tries: int = 200) -> dict[int, httpx.Client]:
    """One keep-alive client per worker (a connection stays with the worker that accepted it)."""
    clients: dict[int, httpx.Client] = {}
    for _ in range(tries):
        client = httpx.Client(base_url=base, timeout=10, limits=httpx.Limits(max_connections=1))
        pid = client.get("/pid").json()["pid"]
        if pid in clients:
            client.close()
        else:
            clients[pid] = client
        if len(clients) == want:
            return clients
    raise SystemExit(f"only {len(clients)} worker(s) answered in {tries} connections")


def check_limit(base: str, limit: int) -> dict[str, Any]:
    admitted: dict[int, int] = {}
    refused = 0
    other: list[int] = []
    for _ in range(2 * limit):
        r = httpx.get(base + "/limited", headers={"Connection": "close"}, timeout=10)
        if r.status_code == 200:
            pid = r.json()["pid"]
            admitted[pid] = admitted.get(pid, 0) + 1
        elif r.status_code == 429:
            refused += 1
        else:
            other.append(r.status_code)
    return {"sent": 2 * limit, "admitted": sum(admitted.values()), "by_worker": sorted(admitted.values()),
            "refused": refused, "other": other, "ok": sum(admitted.values()) == limit and len(admitted) == 2
            and not other}


def observations(client: httpx.Client) -> int:
    stats = client.get("/v1/stats").json()
    return sum(m["observations"] for m in stats["models"].values())


def check_router(base: str, feedbacks: int = 20) -> dict[str, Any]:
    clients = distinct_workers(base)
    (pid_a, a), (_pid_b, b) = clients.items()
    before_b = observations(b)
    for i in range(feedbacks):
        decision = a.post("/v1/route", json={"text": f"question {i}: what does a vector database store?"}).json()
        r = a.post("/v1/feedback", json={"query_id": decision["query_id"], "quality": 0.9})
        r.raise_for_status()
    seen_a = observations(a)
    seen_b = observations(b)
    for c in clients.values():
        c.close()
    return {"feedback_on_worker": pid_a, "feedbacks": feedbacks, "observations_a": seen_a,
            "observations_b_before": before_b, "observations_b": seen_b,
            "ok": seen_b - before_b == feedbacks and seen_b == seen_a}


def seed_chroma(url: str, n: int = 500) -> None:
    import random

    from conduit.ml import create_vector_db

    rng = random.Random(7)
    db = create_vector_db(16, metric="cosine", url=url, collection="scaleout")
    db.add_documents([{"id": f"v{i}", "embedding": [rng.random() for _ in range(16)]} for i in range(n)])
    db.close()


def wrk(base: str, duration: int, connections: int, redis_port: int, stop_at: float, down_for: float,
        redis: list[subprocess.Popen[bytes]]) -> tuple[str, dict[str, float]]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s",
           str(ROOT / "bench" / "scaleout" / "load.lua"), base]
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

    status = re.search(r"STATUS ok=(\d+) 4xx=(\d+) 5xx=(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50": lat("50"), "p99": lat("99"),
        "ok": int(status.group(1)), "4xx": int(status.group(2)), "5xx": int(status.group(3)),  # type: ignore[union-attr]
        "socket_errors": sum(map(int, sock.groups())) if sock else 0,
    }


def section(args: argparse.Namespace, res: dict[str, Any]) -> str:
    w, lim1, lim2, r1, r2 = res["wrk"], res["limit_before"], res["limit_after"], res["router_before"], res["router_after"]
    cmd = "python bench/scaleout/run.py" + (f" --duration {args.duration}" if args.duration != 30 else "")
    ok = lambda b: "yes" if b else "**no**"
    sock = (" wrk's socket errors are its own 2 s request timeouts: requests slower than that while"
            " Redis was down or coming back are counted there, not as responses." if w["socket_errors"] else "")
    return f"""{START}
## Scale-out: two workers, Redis, a Chroma server, an OTLP receiver; Redis stopped mid-run

Produced by `{cmd}` on {datetime.date.today().isoformat()} (2 cores shared by wrk, the
two workers, Redis, Chroma and the receiver). `conduit run bench.scaleout.app:app --workers 2`
with `CONDUIT_REDIS_URL` (a private `redis-server --save ''`), `CONDUIT_VECTOR_URL` (`chroma run`,
500 vectors of 16 dimensions) and `OTEL_ENABLED=true` (traces sampled at 10 %, metrics, OTLP/HTTP to
bench/otel's receiver). Every request passes a limiter counting in Redis. Load:
`wrk -t1 -c{args.connections} -d{args.duration}s --latency -s bench/scaleout/load.lua` (per 4 requests:
2 × `GET /`, 1 × `POST /v1/route`, 1 × `GET /vec` = a Chroma search). Redis was stopped
{res['outage']['stopped_at']:.1f} s into the run and started again (empty) at {res['outage']['started_at']:.1f} s.

| req/s | requests | p50 ms | p99 ms | 5xx | 4xx | socket errors | spans received | metric exports |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| {w['rps']:,.0f} | {w['requests']:,} | {w['p50']:.2f} | {w['p99']:.2f} | {w['5xx']} | {w['4xx']} | {w['socket_errors']} | {res['spans']:,} | {res['metric_exports']} |

| shared-state check | before the outage | after Redis came back |
|---|---|---|
| `/limited` (limit {args.limit}) hit {2 * args.limit}×, a new connection each: admitted (per worker) | {lim1['admitted']} ({' + '.join(map(str, lim1['by_worker']))}), refused {lim1['refused']} — {ok(lim1['ok'])} | {lim2['admitted']} ({' + '.join(map(str, lim2['by_worker']))}), refused {lim2['refused']} — {ok(lim2['ok'])} |
| {r1['feedbacks']} feedbacks sent to worker A: observations seen by worker B (before → after) | {r1['observations_b_before']} → {r1['observations_b']} (A sees {r1['observations_a']}) — {ok(r1['ok'])} | {r2['observations_b_before']} → {r2['observations_b']} (A sees {r2['observations_a']}) — {ok(r2['ok'])} |

While Redis is down the limiter fails open (warnings logged: {res['warnings']['conduit.ratelimit']})
 and the router keeps deciding from the posteriors it holds in memory (warnings
logged: {res['warnings']['conduit.router']}, one per failed Redis read or unshared decision), so no request fails; Redis restarted
without its data, so the limit counts from zero and the posteriors start again from the
feedback given after the outage.{sock}
{END}
"""


def write_doc(text: str) -> None:
    doc = DOC.read_text()  # re-read right before writing: others edit other sections
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        doc = head + text.rstrip("\n") + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    DOC.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=30, help="wrk seconds (default 30)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--limit", type=int, default=50, help="what /limited admits per run")
    ap.add_argument("--down", type=float, default=5.0, help="seconds Redis stays stopped")
    ap.add_argument("--no-write", action="store_true", help="print the section, leave docs/ alone")
    args = ap.parse_args(argv)
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y {'wrk' if tool == 'wrk' else 'redis-server'}")

    tmp = Path(tempfile.mkdtemp(prefix="conduit-scaleout-"))
    procs: list[subprocess.Popen[Any]] = []
    redis_port, chroma_port, app_port = free_port(), free_port(), free_port()
    redis = [start_redis(redis_port)]
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        chroma_url = f"http://127.0.0.1:{chroma_port}"
        procs.append(subprocess.Popen(
            [str(BIN / "chroma"), "run", "--path", str(tmp / "chroma"), "--host", "127.0.0.1", "--port", str(chroma_port)],
            stdout=open(tmp / "chroma.log", "wb"), stderr=subprocess.STDOUT))  # noqa: SIM115
        wait_http(chroma_url + "/api/v2/heartbeat")
        seed_chroma(chroma_url)

        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDUIT_", "OTEL_"))}
        env.update({
            "PYTHONPATH": str(ROOT),
            "CONDUIT_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "CONDUIT_VECTOR_URL": chroma_url,
            "SCALEOUT_PREFIX": f"scaleout-{uuid.uuid4().hex[:8]}",
            "SCALEOUT_LIMIT": str(args.limit),
            "OTEL_ENABLED": "true",
            "OTEL_SERVICE_NAME": "conduit-scaleout",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_address[1]}",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
        })
        server_log = open(tmp / "server.log", "wb")  # noqa: SIM115
        procs.append(subprocess.Popen(
            [str(BIN / "conduit"), "run", "bench.scaleout.app:app", "--workers", "2", "--host", "127.0.0.1",
             "--port", str(app_port)], cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{app_port}"
        wait_http(base + "/pid")
        httpx.get(base + "/vec", timeout=30)  # warm both clients of Chroma a little
        res: dict[str, Any] = {"limit_before": check_limit(base, args.limit), "router_before": check_router(base)}
        print("before:", res["limit_before"], res["router_before"], flush=True)
        stop_at = max(2.0, args.duration / 3)
        out, res["outage"] = wrk(base, args.duration, args.connections, redis_port, stop_at, args.down, redis)
        print(out, flush=True)
        res["wrk"] = parse_wrk(out)
        time.sleep(1)
        res["limit_after"] = check_limit(base, args.limit)
        res["router_after"] = check_router(base)
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
    log = (tmp / "server.log").read_text(errors="replace").splitlines()
    res["warnings"] = {name: sum(f"WARNING {name}:" in line for line in log)
                       for name in ("conduit.ratelimit", "conduit.router")}
    print(f"server log: {tmp / 'server.log'}; warnings: {res['warnings']}")
    text = section(args, res)
    print(text)
    if not args.no_write:
        write_doc(text)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0 if res["wrk"]["5xx"] == 0 and all(res[k]["ok"] for k in
                                                ("limit_before", "limit_after", "router_before", "router_after")) else 1


if __name__ == "__main__":
    sys.exit(main())
