"""What OpenTelemetry costs on the hello endpoint: conduit-otel off, installed-but-off, on.

Each variant serves bench/otel/otel_hello.py with ``conduit run`` on 127.0.0.1 (a free
port) and is loaded with ``wrk --latency``; variants are measured in interleaved rounds
and the median of the rounds is reported. With telemetry on, spans and metrics are
exported over OTLP/HTTP to a receiver this script runs on 127.0.0.1 (it decodes the
protobuf bodies to count the spans that arrived), so the cost of exporting is included.

    python bench/otel/run.py                         # 3 rounds of 10 s, appends to docs/
    python bench/otel/run.py --rounds 1 --duration 3 --no-write

It ends with bench/otel/request_path.py's in-process table of the CPU a request pays.

Needs wrk (Debian: apt-get install -y wrk) and conduit-otel installed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import free_port  # noqa: E402 - bench/common.py, by path
DOC = ROOT / "docs" / "benchmarks.md"
START = "<!-- bench/otel/run.py: start -->"
END = "<!-- bench/otel/run.py: end -->"


@dataclass
class Variant:
    name: str
    label: str
    env: dict[str, str]
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # server CPU (user + system) per request, per round
    requests: int = 0  # warm-up included: those are traced too
    spans: int = 0


def variants(receiver: str) -> list[Variant]:
    on = {"CONDUIT_PLUGINS": "otel", "OTEL_ENABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver,
          "OTEL_METRIC_EXPORT_INTERVAL": "5000", "OTEL_SERVICE_NAME": "bench"}
    return [
        Variant("off", "no telemetry plugin loaded", {"CONDUIT_PLUGINS": ""}),
        Variant("installed", "conduit-otel loaded, not enabled", {"CONDUIT_PLUGINS": "otel"}),
        Variant("metrics", "metrics only (OTLP/HTTP)", {**on, "OTEL_TRACES_ENABLED": "false"}),
        Variant("traces+metrics", "traces and metrics (OTLP/HTTP)", on),
        Variant("sampled", "traces (10% sampled) and metrics (OTLP/HTTP)",
                {**on, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}),
        Variant("sampled-1", "traces (1% sampled) and metrics (OTLP/HTTP)",
                {**on, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"}),
    ]


class Receiver(ThreadingHTTPServer):
    """Answers OTLP/HTTP exports and counts the spans in them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans = 0
        self.metric_exports = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            if self.path == "/v1/traces":
                message = ExportTraceServiceRequest.FromString(body)
                self.server.spans += sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
            else:
                self.server.metric_exports += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(variant: Variant, port: int, http: str, loop: str) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("conduit")
    argv = [str(exe), "run", "otel_hello:app", "--host", "127.0.0.1", "--port", str(port), "--http", http, "--loop", loop]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CONDUIT_"))}
    env.update(variant.env, CONDUIT_LOG_LEVEL="warning", PYTHONPATH=str(HERE))
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{variant.name} exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{variant.name} did not start within 30 s")


def _http_runner() -> Any:
    """bench/http/run.py (a script, not a package), for its process-tree CPU accounting."""
    import importlib.util

    module = sys.modules.get("bench_http_run")
    if module is None:
        spec = importlib.util.spec_from_file_location("bench_http_run", HERE.parent / "http" / "run.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules["bench_http_run"] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def wrk(url: str, duration: int, connections: int, threads: int) -> tuple[float, float, float, int]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, latency("50"), latency("99"), total


def measure(args: argparse.Namespace) -> tuple[list[Variant], Receiver]:
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}"
    todo = [v for v in variants(url) if not args.only or v.name in args.only]
    for round_no in range(1, args.rounds + 1):
        for variant in todo:
            port = free_port()
            spans_before = receiver.spans
            proc = serve(variant, port, args.http, args.loop)
            try:
                target = f"http://127.0.0.1:{port}/"
                *_, warm = wrk(target, args.warmup, args.connections, args.threads)
                cpu_before = _http_runner().tree_cpu(proc.pid)
                rps, p50, p99, total = wrk(target, args.duration, args.connections, args.threads)
                variant.cpu_us.append((_http_runner().tree_cpu(proc.pid) - cpu_before) / max(total, 1) * 1e6)
            finally:
                proc.terminate()  # graceful: the app's shutdown flushes what is queued
                proc.wait(60)
            variant.rps.append(rps)
            variant.p50.append(p50)
            variant.p99.append(p99)
            variant.requests += warm + total
            variant.spans += receiver.spans - spans_before
            print(f"round {round_no} {variant.name:15} {rps:10.0f} req/s  {variant.cpu_us[-1]:6.1f} CPU µs/req  "
                  f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms", flush=True)
    return todo, receiver


def section(
    todo: list[Variant],
    receiver: Receiver,
    args: argparse.Namespace,
    command: str,
    path_table: list[str],
    exported_table: list[str],
) -> str:
    base = statistics.median(todo[0].rps) if todo else 0.0
    base_cpu = statistics.median(todo[0].cpu_us) if todo else 0.0
    lines = [
        START,
        "## OpenTelemetry overhead (conduit-otel)",
        "",
        f"The hello JSON endpoint served by `conduit run` (`--http {args.http} --loop {args.loop}`, one worker), "
        f"loaded with `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency`; median of "
        f"{args.rounds} interleaved rounds. With telemetry on, every request is traced and measured and exported "
        "over OTLP/HTTP to a receiver on 127.0.0.1 run by the script (it decodes the protobuf to count spans).",
        "",
        "| variant | req/s (median) | vs. off | req/s range over rounds | server CPU µs/req | throughput cost by CPU | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v in todo:
        rps = statistics.median(v.rps)
        cpu = statistics.median(v.cpu_us)
        change = f"{(rps / base - 1) * 100:+.1f}%" if base else "n/a"
        cpu_cost = f"{(1 - base_cpu / cpu) * 100:.1f}%" if cpu and v is not todo[0] else "–"
        spread = f"{min(v.rps):,.0f}–{max(v.rps):,.0f}"
        lines.append(
            f"| {v.label} | {rps:,.0f} | {change} | {spread} | {cpu:.1f} | {cpu_cost} | "
            f"{statistics.median(v.p50):.2f} | {statistics.median(v.p99):.2f} |"
        )
    lines += [
        "",
        "Read the range column before the medians: on a small machine shared with other work the same "
        "variant's throughput moves a lot between rounds, and differences inside that spread are noise "
        "(the installed-but-off row runs exactly the code of the first; see the in-process table below). "
        "Server CPU µs/req is the server process's user + system time over the timed run divided by its "
        "requests (the export threads included); throughput lost by CPU is 1 − CPU(off) / CPU(variant), what "
        "the variant costs a server that is CPU-bound, and it moves less with the load beside it than req/s.",
    ]
    lines.append("")
    for v in todo:
        if v.spans:
            lines.append(
                f"- {v.label}: {v.spans:,} spans reached the receiver for {v.requests:,} requests (warm-up included)."
            )
    lines += [
        "",
        "Full tracing exports every span from the server process (protobuf encoding and HTTP in the "
        "BatchSpanProcessor's thread, under the same GIL), and the SDK's queue (2,048 spans) drops what it "
        "cannot export in time: at these rates sample (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, "
        "`OTEL_TRACES_SAMPLER_ARG`) as the last row does; a root request the ratio samples out skips the SDK "
        "altogether (docs/otel.md, Sampling). The HTTP histograms are aggregated in the plugin (about 0.5 µs a "
        "measurement against the SDK's 7; docs/otel.md, Metrics).",
        "",
    ]
    lines += [
        "What a request itself pays, measured in-process by `bench/otel/request_path.py` (CPU time of the "
        "calling thread per `app.handle()` of the hello endpoint, best of 5 × 10,000; exporters off, so this "
        "excludes the export threads; less disturbed by other load on the machine than the table above):",
        "",
        *path_table,
        "",
        "The same, exporting over OTLP/HTTP to a receiver in a child process: the request thread's CPU, and the "
        "whole server process's (`time.process_time` up to the end of a `force_flush`, so the "
        "BatchSpanProcessor's protobuf encoding and HTTP calls are in it) per request:",
        "",
        *exported_table,
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs (wrk, the server and the receiver share them), "
        f"Python {platform.python_version()}, {_dt.date.today().isoformat()}.",
        "",
        f"Command: `{command}`",
        END,
    ]
    return "\n".join(lines) + "\n"


def append_doc(text: str) -> None:
    """Replace this script's own section, or append it at the end; never touch the rest."""
    if DOC.exists():
        current = DOC.read_text()
        if START in current and END in current:
            before, rest = current.split(START, 1)
            _, after = rest.split(END, 1)
            DOC.write_text(before + text.rstrip("\n") + after)
            return
        DOC.write_text(current.rstrip("\n") + "\n\n" + text)
        return
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("# Benchmarks\n\n" + text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--http", default="h11", choices=("auto", "h11", "httptools"))
    parser.add_argument("--loop", default="asyncio", choices=("auto", "asyncio", "uvloop"))
    parser.add_argument("--only", nargs="*", help="variant names: off installed metrics traces+metrics sampled sampled-1")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing docs/")
    args = parser.parse_args(argv)
    todo, receiver = measure(args)
    sys.path.insert(0, str(HERE))
    import request_path

    path_table = request_path.table(request_path.measure())
    exported_table = request_path.exported_table(request_path.measure_exported())
    command = "python bench/otel/run.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = section(todo, receiver, args, command.strip(), path_table, exported_table)
    receiver.shutdown()
    if args.no_write:
        print(text)
    else:
        append_doc(text)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
