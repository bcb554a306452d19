"""Multi-host rehearsal: two Conduit instances behind nginx, one killed with SIGKILL mid-run.

    python bench/scaleout/rehearsal.py                  # a few minutes; rewrites its section of docs/benchmarks.md
    python bench/scaleout/rehearsal.py --no-write --duration 12 --connections 4 --sessions 2   # a small run

Starts, on free ports of 127.0.0.1:

- the shared services: a private Redis (`redis-server --save ''`), a Chroma server (`chroma
  run`) and bench/otel's OTLP/HTTP receiver;
- two instances, A and B, each `conduit run examples.showcase:app --workers 2` (run.py's
  COMMAND, the same as deploy/) in its own process group, configured for the services by
  run.py's showcase_environment (the variables deploy/ sets), with a spending limit
  (CONDUIT_ROUTER_OBJECTIVE=cost_budget=...);
- Debian's nginx in front of them, built from deploy/nginx.conf: round robin, no session
  affinity, the same `location /` block, a failed upstream retried on the next one.

Every client talks to nginx only. Before the load, the checks that can be counted exactly run
on an idle cluster: the `POST /api/ask` limit (sent twice its size, new connection each time),
the response cache (one question asked 8 times through the official `openai` client) and the
merged metrics (40 requests counted across both instances' `/metrics`). Then, for --duration
seconds, three clients run at once:

- wrk with bench/scaleout/load.lua (chat completions, feedback, vector search);
- the official `openai` client, one thread, `chat.completions.create(model="auto")` in a loop
  with its default retries (2);
- the official `mcp` client: --sessions sessions at once (ClientSession over
  streamable_http_client), each calling the showcase's `route` and `search_docs` tools in a
  loop; a call that fails is sent again (at most 3 tries), as a client that retries does.

A third of the way in, instance B's whole process group gets SIGKILL (a host or container
dying); it is started again at once and rejoins when it says /health/ready. After the load:
the router's learning (feedback through nginx seen by both instances' /v1/stats), the spending
limit (one shared pacer count), and the limit again.

Reports requests lost (per client: failed after the client's own retries), 5xx, throughput
and p99 per client, and the shared-state results; exits 1 when a check failed or an openai or
MCP call was lost.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import free_port, write_section  # noqa: E402

_spec = importlib.util.spec_from_file_location("scaleout_run", HERE / "run.py")  # bench/otel has a run.py too
assert _spec is not None and _spec.loader is not None
_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_run)
AUTH, BIN, COMMAND, KEY, PROVIDER_VARIABLES = _run.AUTH, _run.BIN, _run.COMMAND, _run.KEY, _run.PROVIDER_VARIABLES
Receiver, docs_folder, parse_wrk, showcase_environment = (_run.Receiver, _run.docs_folder, _run.parse_wrk,
                                                          _run.showcase_environment)
start_redis, wait_http = _run.start_redis, _run.wait_http

START, END = "<!-- bench/scaleout/rehearsal.py: start -->", "<!-- bench/scaleout/rehearsal.py: end -->"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY_NGINX = ROOT / "deploy" / "nginx.conf"
FRESH = httpx.Limits(max_keepalive_connections=0)  # a new connection per request: the balancer picks each time


def nginx_conf(tmp: Path, port: int, upstreams: list[int]) -> str:
    """deploy/nginx.conf with this machine's ports and paths; its `location /` block unchanged."""
    text = DEPLOY_NGINX.read_text()
    changes = {
        "worker_processes auto;": (f"worker_processes 1;\ndaemon off;\npid {tmp}/nginx.pid;\n"
                                   f"error_log {tmp}/nginx-error.log warn;"),
        "  access_log off;": "  access_log off;\n" + "".join(
            f"  {kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        "    server conduit:8000 max_fails=1 fail_timeout=2s;": "\n".join(
            f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstreams),
        "    listen 8080;": f"    listen 127.0.0.1:{port};",
    }
    for old, new in changes.items():
        if old not in text:
            raise SystemExit(f"deploy/nginx.conf changed: {old.strip()!r} not found; update {Path(__file__).name}")
        text = text.replace(old, new, 1)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / kind).mkdir(exist_ok=True)
    return text


class Instance:
    """One `conduit run ... --workers 2` in its own process group (a host, for this rehearsal)."""

    def __init__(self, name: str, env: dict[str, str], tmp: Path) -> None:
        self.name, self.env, self.tmp = name, env, tmp
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = open(self.tmp / f"instance-{self.name}-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(BIN / COMMAND[0]), *COMMAND[1:], "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float) -> float:
        """Until /health/ready says 200 on new connections, twice in a row (both workers, most likely)."""
        t0 = time.monotonic()
        wait_http(self.base + "/health/live", timeout=timeout)
        ok = 0
        while time.monotonic() - t0 < timeout:
            assert self.proc is not None and self.proc.poll() is None, f"instance {self.name} exited"
            try:
                ok = ok + 1 if httpx.get(self.base + "/health/ready", timeout=10).status_code == 200 else 0
            except httpx.HTTPError:
                ok = 0
            if ok >= 4:
                return time.monotonic() - t0
            time.sleep(0.3)
        raise SystemExit(f"instance {self.name} was not ready within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL to the whole process group: the supervisor and its workers die at once."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def get(self, path: str) -> Any:
        r = httpx.get(self.base + path, headers={**AUTH, "Connection": "close"}, timeout=30)
        r.raise_for_status()
        return r.json()

    def prometheus(self) -> str:
        r = httpx.get(self.base + "/metrics?format=prometheus", headers={**AUTH, "Connection": "close"}, timeout=30)
        r.raise_for_status()
        return r.text


# -- the checks on an idle cluster ---------------------------------------------------------------

def check_limit(lb: str, limit: int) -> dict[str, Any]:
    """POST /api/ask 2 × limit times through the balancer, a new connection each: exactly `limit` pass."""
    counts: dict[int, int] = {}
    with httpx.Client(base_url=lb, headers=AUTH, timeout=60, limits=FRESH) as client:
        for i in range(2 * limit):
            r = client.post("/api/ask", json={"question": f"How do replicas share a rate limit? ({i})"})
            counts[r.status_code] = counts.get(r.status_code, 0) + 1
    return {"sent": 2 * limit, "admitted": counts.get(200, 0), "refused": counts.get(429, 0), "statuses": counts,
            "ok": counts.get(200, 0) == limit and counts.get(429, 0) == limit}


def counter(text: str, name: str, **labels: str) -> float:
    """The sum of the Prometheus counter ``name``'s series that carry ``labels``."""
    total = 0.0
    for found, value in re.findall(rf"^{name}\{{([^}}]*)\}} ([\d.e+]+)$", text, re.MULTILINE):
        if all(f'{k}="{v}"' in found for k, v in labels.items()):
            total += float(value)
    return total


def cache_counts(instances: list[Instance]) -> tuple[int, int]:
    """The response cache's hits and misses, summed over both instances' merged /metrics."""
    texts = [inst.prometheus() for inst in instances]
    return tuple(int(sum(counter(t, "conduit_cache_lookups_total", cache="response", result=result) for t in texts))
                 for result in ("hit", "miss"))  # type: ignore[return-value]


def check_cache(lb: str, instances: list[Instance], repeats: int = 8) -> dict[str, Any]:
    """One new question asked `repeats` times of one model through the openai client: one provider
    call in all. (A named model, not "auto": the router may pick another model for the same question,
    and the cache keys on the model.)"""
    import openai

    time.sleep(1.5)  # every worker's share written since the requests before this check
    before = cache_counts(instances)
    question = f"What does the response cache share? ({time.time_ns()})"
    with httpx.Client(limits=FRESH, timeout=60) as http:
        client = openai.OpenAI(base_url=lb + "/v1", api_key=KEY, http_client=http)
        model = next(m.id for m in client.models.list() if m.id != "auto")
        answers = {client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}]
                                                  ).choices[0].message.content for _ in range(repeats)}
    time.sleep(1.5)  # each worker writes its share of the metrics at least once a second
    after = cache_counts(instances)
    hits, misses = after[0] - before[0], after[1] - before[1]
    return {"asked": repeats, "hits": hits, "misses": misses, "distinct_answers": len(answers),
            "ok": misses == 1 and hits == repeats - 1 and len(answers) == 1}


def requests_counted(instances: list[Instance], route: str) -> list[int]:
    """conduit_http_requests_total for GET `route`, 200, at each instance (its workers merged)."""
    return [int(counter(inst.prometheus(), "conduit_http_requests_total", method="GET", route=route, status="200"))
            for inst in instances]


def check_metrics(lb: str, instances: list[Instance], sent: int = 40) -> dict[str, Any]:
    """`sent` GET /api/status through the balancer: both instances' /metrics together count them
    all, and each instance answers the same figure whichever of its workers takes the scrape."""
    route = "/api/status"
    time.sleep(1.5)
    before = requests_counted(instances, route)
    pids: set[int] = set()
    with httpx.Client(base_url=lb, headers=AUTH, timeout=30, limits=FRESH) as client:
        for _ in range(sent):
            pids.add(client.get(route).raise_for_status().json()["worker_pid"])
    time.sleep(1.5)  # each worker writes its share at least once a second
    after = [requests_counted(instances, route) for _ in range(4)]  # four scrapes: any worker may answer
    steady = all(a == after[0] for a in after)
    per_instance = [a - b for a, b in zip(after[0], before)]
    return {"sent": sent, "workers_served": len(pids), "counted": per_instance, "steady": steady,
            "ok": sum(per_instance) == sent and steady and len(pids) == 4}


def observations(inst: Instance) -> int:
    return sum(m["observations"] for m in inst.get("/v1/stats")["models"].values())


def check_router(lb: str, instances: list[Instance], feedbacks: int = 20) -> dict[str, Any]:
    """Decisions and feedback through the balancer: both instances' posteriors count them all."""
    before = [observations(i) for i in instances]
    with httpx.Client(base_url=lb, headers=AUTH, timeout=60, limits=FRESH) as client:
        for i in range(feedbacks):
            r = client.post("/v1/route", json={"text": f"question {i}: what does a vector database store?"})
            r.raise_for_status()
            client.post("/v1/feedback", json={"query_id": r.json()["query_id"], "quality": 0.9}).raise_for_status()
    time.sleep(1.5)  # shared posteriors are re-read at most once a second
    after = [observations(i) for i in instances]
    seen = [a - b for a, b in zip(after, before)]
    return {"feedbacks": feedbacks, "seen": seen, "ok": all(s == feedbacks for s in seen)}


def check_budget(instances: list[Instance], budget: float) -> dict[str, Any]:
    """One routing decision at each instance: the pacer's decision count (shared) against the
    decisions each process made itself. (Decision and stats on one connection: one worker.)"""
    shared = []
    for inst in instances:
        with httpx.Client(base_url=inst.base, headers=AUTH, timeout=30) as client:
            client.post("/v1/route", json={"text": "how much may one query cost?"}).raise_for_status()
            stats = client.get("/v1/stats").json()
        shared.append({"pacer_decisions": stats["budget"]["decisions"], "own_decisions": stats["decisions"],
                       "spend_share": stats["budget"]["recent_spend_share"]})
    counts = [s["pacer_decisions"] for s in shared]
    return {"budget": budget, "instances": shared,
            "ok": counts[1] == counts[0] + 1 and all(s["pacer_decisions"] > 2 * s["own_decisions"] for s in shared)}


# -- the clients under load ----------------------------------------------------------------------

class OpenAILoad(threading.Thread):
    """The official openai client in a loop, with its default retries (2)."""

    def __init__(self, lb: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.lb, self.stop = lb, stop
        self.latencies: list[float] = []
        self.lost: list[str] = []
        self.retried = 0  # responses the client retried: 5xx, or a connection that failed

    def run(self) -> None:
        import openai

        def seen(response: httpx.Response) -> None:
            if response.status_code >= 500:
                self.retried += 1

        with httpx.Client(limits=FRESH, timeout=30, event_hooks={"response": [seen]}) as http:
            client = openai.OpenAI(base_url=self.lb + "/v1", api_key=KEY, http_client=http, max_retries=2)
            n = 0
            while not self.stop.is_set():
                n += 1
                t0 = time.perf_counter()
                try:
                    client.chat.completions.create(model="auto", messages=[
                        {"role": "user", "content": f"Which model should answer question {n % 50}?"}])
                    self.latencies.append(time.perf_counter() - t0)
                except openai.OpenAIError as exc:
                    self.lost.append(f"{type(exc).__name__}: {str(exc)[:120]}")


class MCPLoad(threading.Thread):
    """Sessions of the official mcp client calling tools in a loop; a failed call is sent again."""

    def __init__(self, lb: str, sessions: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.lb, self.sessions, self.stop = lb, sessions, stop
        self.latencies: list[float] = []
        self.retried: list[str] = []
        self.lost: list[str] = []
        self.sessions_done = 0
        self.resumes: dict[int, int] = {}  # GETs with Last-Event-ID, by status
        self.session_errors: list[str] = []

    def run(self) -> None:
        import anyio

        anyio.run(self._main)

    async def _main(self) -> None:
        import anyio

        async with anyio.create_task_group() as tg:
            for n in range(self.sessions):
                tg.start_soon(self._session, n)

    async def _session(self, n: int) -> None:
        import anyio
        import httpx2
        from mcp.client import ClientSession
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        async def seen(response: Any) -> None:
            if response.request.method == "GET" and response.request.headers.get("last-event-id"):
                self.resumes[response.status_code] = self.resumes.get(response.status_code, 0) + 1

        http = create_mcp_http_client(headers=AUTH)
        http._transport = httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_keepalive_connections=0))  # noqa: SLF001
        http.event_hooks["response"].append(seen)
        try:
            async with http, streamable_http_client(self.lb + "/mcp", http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    i = 0
                    while not self.stop.is_set():
                        i += 1
                        tool, args = (("route", {"text": f"session {n} question {i}"}) if i % 2 else
                                      ("search_docs", {"query": "how do replicas share state?", "top_k": 3}))
                        await self._call(session, tool, args)
            self.sessions_done += 1
        except Exception as exc:  # noqa: BLE001 - reported: a session that did not go on
            self.session_errors.append(f"session {n}: {type(exc).__name__}: {str(exc)[:160]}")

    async def _call(self, session: Any, tool: str, args: dict[str, Any]) -> None:
        import anyio

        t0 = time.perf_counter()
        for attempt in range(3):
            try:
                with anyio.fail_after(30):
                    result = await session.call_tool(tool, args)
                if not result.is_error:
                    self.latencies.append(time.perf_counter() - t0)
                    return
                problem = str(result.content)[:160]
            except Exception as exc:  # noqa: BLE001 - McpError, a timeout: sent again
                problem = f"{type(exc).__name__}: {str(exc)[:160]}"
            self.retried.append(problem)
            await anyio.sleep(0.2 * (attempt + 1))
        self.lost.append(problem)


def run_wrk(lb: str, duration: int, connections: int) -> subprocess.Popen[str]:
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
                             "-s", str(HERE / "load.lua"), lb, "--", KEY], stdout=subprocess.PIPE, text=True)


def p99_ms(samples: list[float]) -> float:
    if len(samples) < 2:
        return float("nan")
    return statistics.quantiles(samples, n=100)[98] * 1000


# -- the run -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=40, help="seconds of load (default 40)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    ap.add_argument("--sessions", type=int, default=4, help="MCP sessions at once (default 4)")
    ap.add_argument("--limit", type=int, default=20, help="what POST /api/ask admits a minute (default 20)")
    ap.add_argument("--budget", type=float, default=0.5, help="the router's cost_budget (default 0.5)")
    ap.add_argument("--docs", default="docs/deployment.md",
                    help="comma-separated .md files the showcase indexes (default docs/deployment.md)")
    ap.add_argument("--ready-timeout", type=float, default=300.0)
    ap.add_argument("--no-write", action="store_true", help="print the section, leave docs/ alone")
    args = ap.parse_args(argv)
    if args.duration < 9 or args.limit < 2 or args.sessions < 1:
        raise SystemExit("--duration must be at least 9 s, --limit at least 2, --sessions at least 1")
    for tool in ("wrk", "redis-server", NGINX):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y wrk redis-server nginx-light")

    tmp = Path(tempfile.mkdtemp(prefix="conduit-rehearsal-"))
    docs = docs_folder(tmp, args.docs)
    redis_port, chroma_port, lb_port = free_port(), free_port(), free_port()
    redis = start_redis(redis_port)
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    chroma: subprocess.Popen[bytes] | None = None
    nginx: subprocess.Popen[bytes] | None = None
    instances: list[Instance] = []
    res: dict[str, Any] = {}
    try:
        chroma_url = f"http://127.0.0.1:{chroma_port}"
        chroma = subprocess.Popen(
            [str(BIN / "chroma"), "run", "--path", str(tmp / "chroma"), "--host", "127.0.0.1", "--port",
             str(chroma_port)], stdout=open(tmp / "chroma.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
        wait_http(chroma_url + "/api/v2/heartbeat")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CONDUIT_", "OTEL_")) and k not in PROVIDER_VARIABLES}
        env.update(showcase_environment(f"redis://127.0.0.1:{redis_port}/0", chroma_url,
                                        f"http://127.0.0.1:{receiver.server_address[1]}", str(10**9), str(args.limit)))
        env.update({"PYTHONPATH": str(ROOT), "CONDUIT_SHOWCASE_DOCS": str(docs), "OTEL_METRIC_EXPORT_INTERVAL": "5000",
                    "CONDUIT_ROUTER_OBJECTIVE": f"cost_budget={args.budget}", "CONDUIT_SHOWCASE_QUIET": "true"})
        instances = [Instance("A", env, tmp), Instance("B", env, tmp)]
        for inst in instances:
            inst.start()
        for inst in instances:
            inst.wait_ready(args.ready_timeout)
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_conf(tmp, lb_port, [i.port for i in instances]))
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        lb = f"http://127.0.0.1:{lb_port}"
        wait_http(lb + "/health/live")
        print(f"ready: instances A :{instances[0].port}, B :{instances[1].port}, nginx :{lb_port}", flush=True)

        res["limit_before"] = check_limit(lb, args.limit)
        window_ends = time.monotonic() + 61  # the limit's one-minute window, from its last request
        res["cache"] = check_cache(lb, instances)
        res["metrics"] = check_metrics(lb, instances)
        print("idle checks:", res["limit_before"], res["cache"], res["metrics"], sep="\n  ", flush=True)

        stop = threading.Event()
        openai_load, mcp_load = OpenAILoad(lb, stop), MCPLoad(lb, args.sessions, stop)
        t0 = time.monotonic()
        wrk = run_wrk(lb, args.duration, args.connections)
        openai_load.start()
        mcp_load.start()
        time.sleep(args.duration / 3)
        instances[1].kill()
        killed_at = time.monotonic() - t0
        instances[1].start()
        back = instances[1].wait_ready(args.ready_timeout)
        res["outage"] = {"killed_at": killed_at, "ready_after": back}
        print(f"instance B killed at {killed_at:.1f} s, ready again {back:.1f} s later", flush=True)
        out, _ = wrk.communicate()
        stop.set()
        openai_load.join(60)
        mcp_load.join(60)
        elapsed = time.monotonic() - t0
        print(out, flush=True)
        res["wrk"] = parse_wrk(out)
        res["openai"] = {"calls": len(openai_load.latencies) + len(openai_load.lost), "lost": openai_load.lost,
                         "retried": openai_load.retried, "p99": p99_ms(openai_load.latencies),
                         "rate": len(openai_load.latencies) / elapsed}
        res["mcp"] = {"calls": len(mcp_load.latencies) + len(mcp_load.lost), "lost": mcp_load.lost,
                      "retried": mcp_load.retried, "p99": p99_ms(mcp_load.latencies),
                      "rate": len(mcp_load.latencies) / elapsed, "sessions": args.sessions,
                      "sessions_done": mcp_load.sessions_done, "session_errors": mcp_load.session_errors,
                      "resumes": mcp_load.resumes}
        print("openai:", {k: v for k, v in res["openai"].items() if k != "lost"}, openai_load.lost[:3], flush=True)
        print("mcp:", {k: v for k, v in res["mcp"].items() if k not in ("lost", "retried")},
              mcp_load.lost[:3], mcp_load.retried[:3], flush=True)

        time.sleep(2)
        res["router"] = check_router(lb, instances)
        res["budget"] = check_budget(instances, args.budget)
        time.sleep(max(0.0, window_ends - time.monotonic()))
        res["limit_after"] = check_limit(lb, args.limit)
        print("after:", res["router"], res["budget"], res["limit_after"], sep="\n  ", flush=True)
        time.sleep(6)  # one more metric export interval
        res["spans"], res["metric_exports"] = receiver.spans, receiver.metric_exports
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=30)
        for inst in instances:
            inst.stop()
        if chroma is not None:
            chroma.terminate()
            chroma.wait(timeout=30)
        redis.terminate()
        redis.wait()
        receiver.shutdown()
        print(f"logs: {tmp}", flush=True)
    logs = [line for f in sorted(tmp.glob("instance-*.log")) for line in f.read_text(errors="replace").splitlines()]
    res["tracebacks"] = sum(line.startswith("Traceback") for line in logs)
    text = section(args, res)
    print(text)
    if not args.no_write:
        write_section(text, START, END)
        print("wrote docs/benchmarks.md")
    checks = ("limit_before", "cache", "metrics", "router", "budget", "limit_after")
    failed = [k for k in checks if not res[k]["ok"]]
    lost = res["openai"]["lost"] or res["mcp"]["lost"] or res["mcp"]["session_errors"]
    if failed or lost or res["wrk"]["5xx"]:
        print(f"FAILED: checks {failed}; lost openai {len(res['openai']['lost'])}, mcp {len(res['mcp']['lost'])}, "
              f"sessions {res['mcp']['session_errors']}; wrk 5xx {res['wrk']['5xx']}")
        return 1
    return 0


def section(args: argparse.Namespace, res: dict[str, Any]) -> str:
    w, o, m = res["wrk"], res["openai"], res["mcp"]
    defaults = {"duration": 40, "connections": 16, "sessions": 4, "limit": 20, "budget": 0.5,
                "docs": "docs/deployment.md"}
    options = "".join(f" --{k} {getattr(args, k)}" for k, v in defaults.items() if getattr(args, k) != v)
    ok = lambda b: "yes" if b else "**no**"  # noqa: E731
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(w["statuses"].items()))
    lim1, lim2, cache, met, router, budget = (res[k] for k in ("limit_before", "limit_after", "cache", "metrics",
                                                                "router", "budget"))
    resumes = ", ".join(f"{code}: {n}" for code, n in sorted(m["resumes"].items())) or "none"
    pacer = "; ".join(f"{name}: pacer {s['pacer_decisions']:,}, own {s['own_decisions']:,}"
                      for name, s in zip("AB", budget["instances"]))
    return f"""{START}
## Multi-host rehearsal: two instances behind nginx, one killed mid-run

Produced by `python bench/scaleout/rehearsal.py{options}` on {datetime.date.today().isoformat()}, everything on
this machine's 2 cores: Debian's nginx (deploy/nginx.conf's `location /`: round robin, no affinity,
a failed upstream retried on the next) in front of two instances, each `conduit run examples.showcase:app
--workers 2` in its own process group, sharing a private Redis, a Chroma server (`chroma run`) and an
OTLP/HTTP receiver, with `CONDUIT_ROUTER_OBJECTIVE=cost_budget={args.budget}`; the router answers through the
showcase's in-process stand-in provider. Every client talks to nginx. During {args.duration} s of load
(wrk `-c{args.connections}` with bench/scaleout/load.lua; the official `openai` client in a loop with its default
retries; {args.sessions} sessions of the official `mcp` client calling `route` and `search_docs`, a failed call
sent again up to 3 times), instance B's process group got SIGKILL at {res['outage']['killed_at']:.1f} s; it was
started again at once and was ready {res['outage']['ready_after']:.1f} s later.

| client | calls or requests | lost | per second | p99 ms | notes |
|---|---:|---:|---:|---:|---|
| wrk | {w['requests']:,} | {w['socket_errors']} socket errors | {w['rps']:,.0f} | {w['p99']:.1f} | 5xx: {w['5xx']}; by status: {statuses} |
| openai | {o['calls']:,} | {len(o['lost'])} | {o['rate']:,.1f} | {o['p99']:.1f} | 5xx answers the client retried: {o['retried']} |
| mcp | {m['calls']:,} | {len(m['lost'])} | {m['rate']:,.1f} | {m['p99']:.1f} | calls sent again: {len(m['retried'])}; sessions that went on to the end: {m['sessions_done']} of {m['sessions']}; resumed streams (GET with Last-Event-ID) by status: {resumes} |

| shared state | measured | shared |
|---|---|---|
| rate limit, before the load: `POST /api/ask` (limit {args.limit}/min) sent {lim1['sent']}× | admitted {lim1['admitted']}, refused {lim1['refused']} | {ok(lim1['ok'])} |
| rate limit, after B's restart | admitted {lim2['admitted']}, refused {lim2['refused']} | {ok(lim2['ok'])} |
| response cache: one question {cache['asked']}× through the `openai` client | {cache['misses']} miss, {cache['hits']} hits over both instances | {ok(cache['ok'])} |
| metrics: {met['sent']} `GET /api/status` served by {met['workers_served']} workers | counted by A + B: {' + '.join(map(str, met['counted']))}; scrapes steady: {ok(met['steady'])} | {ok(met['ok'])} |
| router learning: {router['feedbacks']} feedbacks through nginx after the load | observations gained at A, B: {', '.join(map(str, router['seen']))} | {ok(router['ok'])} |
| spending limit: one decision at each instance | {pacer}; recent spend share {budget['instances'][-1]['spend_share']} of a {args.budget} budget | {ok(budget['ok'])} |

Spans received: {res['spans']:,}; metric exports: {res['metric_exports']}; tracebacks in the instances' logs:
{res['tracebacks']}. wrk does not retry: its socket errors and 5xx are the requests a client without
retries would have lost when B died. Each instance's `/metrics` is one scrape target (Prometheus adds
the `instance` label); a restarted instance starts its counters again, which Prometheus reads as a reset.
{END}
"""


if __name__ == "__main__":
    sys.exit(main())
