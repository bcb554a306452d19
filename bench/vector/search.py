"""Vector search at 100,000 × 384-d with conduit-vector (chromadb HNSW), against numpy brute force.

Issue 6's benchmark, in process (no HTTP). Two data sets of unit vectors, each row tagged
``{"tag": i % 10}``:

- ``clustered``: a mixture of 1,000 Gaussian clusters (centres ~ N(0, I); a point is its
  centre + 1.0 × N(0, I), normalised: cosine ≈ 0.7 to its centre, ≈ 0.5 to a cluster-mate,
  ≈ 0 to other clusters), as real embeddings are clustered;
- ``random``: uniform on the sphere, HNSW's worst case.

Queries are fresh draws from the same distribution. Measured:

1. **main**: both sets loaded into ``create_vector_db(384, "cosine")`` in memory with the HNSW
   settings given (``--ef-search`` ...), ingested through ``add_documents`` in chunks of 5,000
   that alternate between the two sets; then in ``--rounds`` interleaved rounds, single top-10
   ``search()`` calls and filtered ones (``where={"tag": 3}``, 10% of the rows): wall-clock
   p50/p99, process CPU per query (every thread, so Chroma's own included) and recall@10 against
   exact numpy search (same filter), beside numpy brute force itself;
2. **sweep** (unless ``--no-sweep``): for each (max_neighbors, ef_construction) built once into a
   persistent collection in a temporary folder, ``ef_search`` is changed with Chroma's ``modify``
   and the client reopened (a change only takes effect on a fresh load), then recall and latency
   are measured for each value. That is how the HNSW settings of the main table were chosen.

    python bench/vector/search.py               # 100,000 vectors; about 20 minutes; rewrites its section
    python bench/vector/search.py --quick --no-write     # 10,000 vectors, a small sweep

Needs conduit-vector (chromadb 1.5) and numpy.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib.metadata
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# numpy's OpenBLAS starts a thread per core and lets them spin after every call: on a
# 2-core machine those threads then take the cores from Chroma's query threads (HNSW p99
# 1.7 ms before the first brute-force search, 5.6-6.5 ms after it, 2026-12-04) and brute
# force itself runs slower (16 against 9.4 ms a query). One BLAS thread, set before numpy
# loads; BENCH_BLAS_THREADS overrides it.
BLAS_THREADS = os.environ.get("BENCH_BLAS_THREADS", "1")
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = BLAS_THREADS

import numpy as np  # noqa: E402 - after the BLAS thread settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT / "bench"))
from common import write_section  # noqa: E402 - bench/common.py, by path
START = "<!-- bench/vector/search.py: start -->"
END = "<!-- bench/vector/search.py: end -->"
DIM = 384
TAGS = 10
FILTER = {"tag": 3}
CHUNK = 5_000
TARGET_P99_MS = 5.0  # issue 6, clustered set, in process: p99 < 5 ms ...
TARGET_RECALL = 0.95  # ... with recall@10 >= 0.95 ...
TARGET_INGEST = 1_000.0  # ... and ingestion >= 1,000 vectors/s


# --- data ---------------------------------------------------------------------------------------


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_set(kind: str, n: int, queries: int, *, clusters: int, spread: float, seed: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(data, queries) for ``kind``, both unit vectors, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    if kind == "random":
        return unit(rng.normal(size=(n, DIM))), unit(rng.normal(size=(queries, DIM)))
    centres = rng.normal(size=(clusters, DIM))

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, DIM), dtype=np.float32)
        for start in range(0, count, 20_000):  # in slices, to keep float64 temporaries small
            m = min(20_000, count - start)
            out[start : start + m] = unit(centres[rng.integers(0, clusters, m)] + spread * rng.normal(size=(m, DIM)))
        return out

    return draw(n), draw(queries)


def exact_top10(data: np.ndarray, queries: np.ndarray, rows: np.ndarray | None = None) -> list[set[int]]:
    """The true top-10 ids (cosine) of every query, among ``rows`` when given."""
    subset = data if rows is None else data[rows]
    out = []
    for start in range(0, len(queries), 256):
        scores = queries[start : start + 256] @ subset.T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        for row in top:
            out.append({int(i) for i in (row if rows is None else rows[row])})
    return out


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    return sum(len(f & t) for f, t in zip(found, truth)) / (10 * len(truth))


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)  # seconds per query
    cpu: float = 0.0  # process CPU seconds over all of them
    found: list[set[int]] = field(default_factory=list)
    round_p99: list[float] = field(default_factory=list)

    def add_round(self, walls: list[float]) -> None:
        self.wall += walls
        self.round_p99.append(float(np.percentile(walls, 99)) * 1e3)

    @property
    def p50(self) -> float:
        return float(np.percentile(self.wall, 50)) * 1e3

    @property
    def p99(self) -> float:
        return float(np.percentile(self.wall, 99)) * 1e3

    @property
    def cpu_ms(self) -> float:
        return self.cpu / max(len(self.wall), 1) * 1e3


def run_queries(db: Any, queries: np.ndarray, where: dict | None, into: Timings, exact: bool = False) -> None:
    walls = []
    cpu = time.process_time()
    for q in queries:
        start = time.perf_counter()
        hits = db.search(q, top_k=10, where=where, exact=exact)
        walls.append(time.perf_counter() - start)
        into.found.append({int(h.id) for h in hits})
    into.cpu += time.process_time() - cpu
    into.add_round(walls)


def brute_force(data: np.ndarray, queries: np.ndarray, rows: np.ndarray | None, into: Timings) -> None:
    """numpy exact search, one query at a time (matrix-vector product + argpartition)."""
    subset = data if rows is None else np.ascontiguousarray(data[rows])
    walls = []
    cpu = time.process_time()
    for q in queries:
        start = time.perf_counter()
        scores = subset @ q
        top = np.argpartition(-scores, 10)[:10]
        top = top[np.argsort(-scores[top])]
        walls.append(time.perf_counter() - start)
    into.cpu += time.process_time() - cpu
    into.add_round(walls)


@dataclass
class Ingest:
    vectors: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    chunk_rates: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.vectors / self.wall if self.wall else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu / max(self.vectors, 1) * 1e6


def add_chunk(db: Any, data: np.ndarray, start: int, into: Ingest) -> None:
    end = min(len(data), start + CHUNK)
    docs = [{"id": str(i), "embedding": data[i], "metadata": {"tag": i % TAGS}} for i in range(start, end)]
    wall, cpu = time.perf_counter(), time.process_time()
    db.add_documents(docs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    into.vectors += end - start
    into.wall += wall
    into.cpu += cpu
    into.chunk_rates.append((end - start) / wall)


# --- the two phases -----------------------------------------------------------------------------


def main_phase(sets: dict[str, tuple[np.ndarray, np.ndarray]], hnsw: dict[str, int], args: argparse.Namespace) -> dict:
    from conduit_vector import create_vector_db

    dbs = {kind: create_vector_db(DIM, "cosine", **hnsw) for kind in sets}
    ingest = {kind: Ingest() for kind in sets}
    n = len(next(iter(sets.values()))[0])
    for start in range(0, n, CHUNK):  # alternate the sets chunk by chunk, so load drifts hit both
        for kind, (data, _) in sets.items():
            add_chunk(dbs[kind], data, start, ingest[kind])
        print(f"  ingested {min(n, start + CHUNK):,} of each set", flush=True)
    for kind, db in dbs.items():
        assert db.get_document_count() == n, f"{kind}: {db.get_document_count()} stored of {n}"
    rows = np.arange(n)[np.arange(n) % TAGS == FILTER["tag"]]
    out: dict[str, dict] = {}
    for kind in sets:
        out[kind] = {"ingest": ingest[kind], "search": Timings(), "filtered": Timings(), "brute": Timings(),
                     "brute_filtered": Timings(), "exact_filtered": Timings(), "hnsw": dbs[kind].hnsw}
    for kind, (data, queries) in sets.items():  # warm up: first queries load caches
        run_queries(dbs[kind], queries[:20], None, Timings())
        run_queries(dbs[kind], queries[:3], FILTER, Timings())
    q_slices = np.array_split(np.arange(args.queries), args.rounds)
    f_slices = np.array_split(np.arange(args.filtered_queries), args.rounds)
    for rnd in range(args.rounds):
        for kind, (data, queries) in sets.items():
            r = out[kind]
            run_queries(dbs[kind], queries[q_slices[rnd]], None, r["search"])
            run_queries(dbs[kind], queries[f_slices[rnd]], FILTER, r["filtered"])
            run_queries(dbs[kind], queries[f_slices[rnd]], FILTER, r["exact_filtered"], exact=True)
            brute_force(data, queries[q_slices[rnd]], None, r["brute"])
            brute_force(data, queries[f_slices[rnd]], rows, r["brute_filtered"])
            print(f"  round {rnd + 1} {kind:9} search p99 {r['search'].round_p99[-1]:6.2f} ms  filtered p99 "
                  f"{r['filtered'].round_p99[-1]:7.2f} ms", flush=True)
    for kind, (data, queries) in sets.items():
        r = out[kind]
        r["recall"] = recall(r["search"].found, exact_top10(data, queries[: args.queries]))
        r["recall_filtered"] = recall(r["filtered"].found, exact_top10(data, queries[: args.filtered_queries], rows))
        r["recall_exact_filtered"] = recall(r["exact_filtered"].found, exact_top10(data, queries[: args.filtered_queries], rows))
        dbs[kind].close()
    return out


def sweep_phase(sets: dict[str, tuple[np.ndarray, np.ndarray]], plan: dict[str, list[tuple[int, int]]],
                ef_values: dict[str, list[int]], args: argparse.Namespace) -> list[dict]:
    """Build each (max_neighbors, ef_construction) once on disk; measure every ef_search on it."""
    from conduit_vector import create_vector_db

    rows_out = []
    folder = Path(tempfile.mkdtemp(prefix="bench-vector-"))
    try:
        for kind, builds in plan.items():
            data, queries = sets[kind]
            queries = queries[: args.sweep_queries]
            truth = exact_top10(data, queries)
            for m, efc in builds:
                path = folder / f"{kind}-{m}-{efc}"
                db = create_vector_db(DIM, "cosine", path=str(path), collection="bench", exact=False,
                                      max_neighbors=m, ef_construction=efc, ef_search=ef_values[kind][0])
                ingest = Ingest()
                for start in range(0, len(data), CHUNK):
                    add_chunk(db, data, start, ingest)
                db.close()
                for ef in ef_values[kind]:
                    db = create_vector_db(DIM, "cosine", path=str(path), collection="bench", exact=False)
                    db.collection.modify(configuration={"hnsw": {"ef_search": ef}})
                    db.close()  # the index is loaded again, with the new ef_search, by the next client
                    db = create_vector_db(DIM, "cosine", path=str(path), collection="bench", exact=False)
                    if db.hnsw.get("ef_search") != ef:
                        raise RuntimeError(f"ef_search is {db.hnsw.get('ef_search')} after modify({ef})")
                    run_queries(db, queries[:20], None, Timings())  # loads the index
                    t = Timings()
                    for part in np.array_split(queries, args.rounds):
                        run_queries(db, part, None, t)
                    db.close()
                    row = {"kind": kind, "M": m, "efc": efc, "ef": ef, "ingest": ingest.rate, "ingest_cpu": ingest.cpu_us,
                           "recall": recall(t.found, truth), "p50": t.p50, "p99": t.p99, "cpu_ms": t.cpu_ms,
                           "round_p99": t.round_p99}
                    rows_out.append(row)
                    print(f"  sweep {kind:9} M={m:<3} ef_construction={efc:<4} ef_search={ef:<5} recall {row['recall']:.3f}"
                          f"  p50 {t.p50:6.2f} ms  p99 {t.p99:6.2f} ms  ingest {ingest.rate:6.0f}/s", flush=True)
                shutil.rmtree(path, ignore_errors=True)
                gc.collect()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows_out


# --- report -------------------------------------------------------------------------------------


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


def _range(values: list[float], fmt: str = "{:.1f}") -> str:
    return "–".join(fmt.format(v) for v in (min(values), max(values))) if len(values) > 1 else fmt.format(values[0])


def render(main: dict, sweep: list[dict], hnsw: dict[str, int], n: int, args: argparse.Namespace, command: str) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in hnsw.items())
    lines = [
        START,
        "## Vector search at 100,000 × 384-d: conduit-vector on chromadb HNSW (bench/vector)",
        "",
        f"Produced by `{command}` on {_dt.date.today().isoformat()}.",
        "",
        f"{n:,} unit vectors of 384 dimensions per set, each tagged `{{\"tag\": i % 10}}`, in process (no HTTP):",
        f"*clustered* is a mixture of {args.clusters:,} Gaussian clusters (centres ~ N(0, I), a point is its centre +",
        f"{args.spread:g} × N(0, I), normalised: cosine ≈ 0.5 to a cluster-mate, ≈ 0 to other clusters), as real",
        "embeddings are clustered; *random* is uniform on the sphere, HNSW's worst case. Queries are fresh draws",
        "from the same distribution. `create_vector_db(384, \"cosine\")` in memory (HNSW rows search with",
        "`exact=False`; the exact-path row with `exact=True`: Chroma's `get(where=...)` for the ids, then numpy), ingested with",
        f"`add_documents` in chunks of {CHUNK:,} alternating between the sets; then {args.rounds} interleaved rounds",
        f"of single top-10 `search()` calls ({args.queries:,} per set in all) and filtered ones",
        f"(`where={{\"tag\": 3}}`, 10% of the rows; {args.filtered_queries:,} per set). Recall@10 is against exact",
        "numpy search with the same filter. Latency is wall-clock per call; CPU/query is the process's CPU",
        "time (all threads, Chroma's Rust ones included) ÷ queries, which other jobs on the machine move less.",
        "",
        f"- Machine: {machine()}. **Shared** with other people's jobs while this ran:",
        "  the per-round p99 column shows how much the tail moved from round to round.",
        f"- Versions: Python {platform.python_version()}, conduit-vector {_version('conduit-vector')},"
        f" chromadb {_version('chromadb')}, numpy {_version('numpy')} ({BLAS_THREADS} BLAS thread(s): numpy's OpenBLAS"
        " pool spins after each call and took the cores from Chroma's queries; BENCH_BLAS_THREADS changes it).",
        f"- HNSW settings of this table: {settings} (chosen with the sweep below; conduit-vector's"
        " defaults are ef_construction=100, ef_search=100, max_neighbors=16).",
        "",
        "| set | search | recall@10 | p50 ms | p99 ms | p99 ms per round | CPU ms/query |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for kind, r in main.items():
        for key, label, rec in (("search", "HNSW top-10", r["recall"]),
                                ("filtered", "HNSW top-10, where tag = 3 (10%)", r["recall_filtered"]),
                                ("exact_filtered", "exact path (numpy copy, `exact=True`), where tag = 3 (10%)",
                                 r["recall_exact_filtered"]),
                                ("brute", "numpy brute force", 1.0),
                                ("brute_filtered", "numpy brute force on the 10% subset (its rows known in advance)", 1.0)):
            t = r[key]
            lines.append(f"| {kind} | {label} | {rec:.3f} | {t.p50:.2f} | {t.p99:.2f} "
                         f"| {', '.join(f'{v:.1f}' for v in t.round_p99)} | {t.cpu_ms:.2f} |")
    lines += ["", "| set | ingestion vectors/s | per 5,000-vector chunk (min–max) | CPU µs/vector |", "|---|---:|---|---:|"]
    for kind, r in main.items():
        ing = r["ingest"]
        lines.append(f"| {kind} | {ing.rate:,.0f} | {_range(ing.chunk_rates, '{:,.0f}')} | {ing.cpu_us:,.0f} |")
    if "clustered" in main:
        r = main["clustered"]
        ok_p99, ok_recall, ok_ingest = (r["search"].p99 < TARGET_P99_MS, r["recall"] >= TARGET_RECALL,
                                        r["ingest"].rate >= TARGET_INGEST)
        verdict = "met" if ok_p99 and ok_recall and ok_ingest else "missed"
        lines += ["", f"- Target (issue 6, clustered set, in process): p99 < {TARGET_P99_MS:g} ms: {r['search'].p99:.2f} ms"
                  f" ({'met' if ok_p99 else 'missed'}); recall@10 ≥ {TARGET_RECALL}: {r['recall']:.3f}"
                  f" ({'met' if ok_recall else 'missed'}); ingestion ≥ {TARGET_INGEST:,.0f} vectors/s:"
                  f" {r['ingest'].rate:,.0f} ({'met' if ok_ingest else 'missed'}) — **{verdict}**."]
    if sweep:
        lines += [
            "",
            "### Choosing the HNSW settings",
            "",
            "Each (max_neighbors, ef_construction) built once into a persistent collection (a temporary folder,",
            "so ingestion here includes SQLite and index writes); then `ef_search` changed with Chroma's `modify`",
            f"and the client reopened before each measurement ({args.sweep_queries:,} single queries,"
            f" {args.rounds} rounds).",
            "",
            "| set | max_neighbors | ef_construction | ef_search | recall@10 | p50 ms | p99 ms | p99 ms per round"
            " | CPU ms/query | ingestion vectors/s |",
            "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for row in sweep:
            lines.append(f"| {row['kind']} | {row['M']} | {row['efc']} | {row['ef']} | {row['recall']:.3f} | {row['p50']:.2f}"
                         f" | {row['p99']:.2f} | {', '.join(f'{v:.1f}' for v in row['round_p99'])} | {row['cpu_ms']:.2f}"
                         f" | {row['ingest']:,.0f} |")
        lines.append("")
        builds = dict.fromkeys((row["kind"], row["M"], row["efc"]) for row in sweep)
        for kind, m, efc in builds:
            rows = [r for r in sweep if (r["kind"], r["M"], r["efc"]) == (kind, m, efc)]
            enough = [r["ef"] for r in rows if r["recall"] >= TARGET_RECALL]
            lines.append(f"- {kind}, max_neighbors={m}, ef_construction={efc}: "
                         + (f"recall@10 ≥ {TARGET_RECALL} from ef_search={min(enough)}" if enough
                            else f"recall@10 < {TARGET_RECALL} at every ef_search measured (best {max(r['recall'] for r in rows):.3f})")
                         + f"; ingestion {rows[0]['ingest']:,.0f} vectors/s.")
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_doc(section: str) -> None:
    """Replace this script's section of docs/benchmarks.md, or append it at the end."""
    write_section(section, START, END, DOC)

def _pairs(text: str) -> list[tuple[int, int]]:
    return [tuple(int(x) for x in item.split("/")) for item in text.split(",")]  # type: ignore[misc]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000, help="unfiltered queries per set (main table)")
    parser.add_argument("--filtered-queries", type=int, default=100)
    parser.add_argument("--sweep-queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clusters", type=int, default=1_000)
    parser.add_argument("--spread", type=float, default=1.0)
    parser.add_argument("--sets", nargs="*", default=["clustered", "random"], choices=["clustered", "random"])
    parser.add_argument("--ef-search", type=int, default=100)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--max-neighbors", type=int, default=16)
    parser.add_argument("--sweep-clustered", default="16/100,16/50,8/50", help="max_neighbors/ef_construction,...")
    parser.add_argument("--sweep-random", default="16/100")
    parser.add_argument("--ef-clustered", default="10,20,50,100")
    parser.add_argument("--ef-random", default="100,400,1600")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10,000 vectors, 200 queries, 2 rounds, a small sweep")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing docs/")
    args = parser.parse_args(argv)
    if args.quick:
        args.vectors, args.queries, args.filtered_queries, args.sweep_queries, args.rounds = 10_000, 200, 40, 100, 2
        args.clusters = 100
        args.sweep_clustered, args.sweep_random, args.ef_clustered, args.ef_random = "16/100", "16/100", "10,100", "100,400"
    hnsw = {"ef_search": args.ef_search, "ef_construction": args.ef_construction, "max_neighbors": args.max_neighbors}
    top_queries = max(args.queries, args.filtered_queries, args.sweep_queries)
    sets = {kind: make_set(kind, args.vectors, top_queries, clusters=args.clusters, spread=args.spread) for kind in args.sets}
    print(f"main: {args.vectors:,} vectors per set, HNSW {hnsw}", flush=True)
    main_results = main_phase(sets, hnsw, args)
    gc.collect()
    sweep: list[dict] = []
    if not args.no_sweep:
        plan = {"clustered": _pairs(args.sweep_clustered), "random": _pairs(args.sweep_random)}
        efs = {"clustered": [int(x) for x in args.ef_clustered.split(",")],
               "random": [int(x) for x in args.ef_random.split(",")]}
        sweep = sweep_phase(sets, {k: v for k, v in plan.items() if k in sets}, efs, args)
    command = "python bench/vector/search.py" + ("".join(" " + shlex.quote(a) for a in sys.argv[1:]) if argv is None else "")
    section = render(main_results, sweep, hnsw, args.vectors, args, command)
    if args.no_write:
        print(section)
    else:
        write_doc(section)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
