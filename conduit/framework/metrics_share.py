"""One ``/metrics`` for every worker: each writes its registry to a shared folder, the one
that takes a scrape merges them all.

Under ``conduit run --workers N`` a scrape reaches whichever worker accepted the
connection. Answering from that worker's registry alone makes a counter read 44,938, then
47,275, then 44,938 again: Prometheus sees resets and ``rate()`` is wrong. So each worker
writes its registry's state (:meth:`Metrics.state`) to ``<folder>/worker-<pid>.json`` once
a second and, when it takes a scrape, writes its own first and then answers from the merge
of every file:

- counters and histograms (buckets, sum, count) are summed over every worker that ever
  wrote, those that died included, so totals never go down when a worker is replaced;
- a scrape reads its own worker fresh and the others as of their last write, and every
  worker's successive writes only grow: whichever worker answers, a counter never falls;
- the seed's gauges are combined as they mean: throughput and memory summed over live
  workers, uptime the longest, cache hit rate and latency percentiles from the merged
  counts and recent samples; the app's own gauges are kept per live worker, labelled
  ``worker="<pid>"`` (a gauge's meaning is the app's to combine).

prometheus_client's multiprocess mode does this for its own metric objects, through
memory-mapped files. The kernel's registry is not made of them (it also serves seed 003's
JSON document, with percentiles from recent samples, and lets one name take any label set),
so recording every request twice to use it would cost more than this once-a-second write.
Across hosts nothing is merged: each instance is its own scrape target, and Prometheus adds
the ``instance`` label.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from conduit.framework.metrics import Metrics

__all__ = ["MergedMetrics", "SharedMetrics"]

logger = logging.getLogger("conduit.monitoring")

_PREFIX = "worker-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MergedMetrics(Metrics):
    """A read-only registry holding the merge of several workers' states."""

    def __init__(self, states: list[dict[str, Any]], live: set[int], template: Metrics) -> None:
        super().__init__(namespace=template.namespace, reservoir_size=template.reservoir_size * max(1, len(live)),
                         window_seconds=template.window_seconds, track_memory=False)
        self._states = states
        self._live_states = [s for s in states if s["pid"] in live]
        self.track_memory = template.track_memory
        for state in states:
            self._merge(state, per_worker_gauges=state["pid"] in live)

    def _merge(self, state: dict[str, Any], *, per_worker_gauges: bool) -> None:
        restored = Metrics.from_state(state, reservoir_size=self.reservoir_size)
        for name, kind in restored._types.items():
            self._types.setdefault(name, kind)
        self._help.update(restored._help)
        for key, value in restored._counters.items():
            self._counters[key] = self._counters.get(key, 0.0) + value
        if per_worker_gauges:
            for (name, labels), value in restored._gauges.items():
                self._gauges[(name, tuple(sorted(labels + (("worker", str(state["pid"])),))))] = value
        for key, hist in restored._histograms.items():
            mine = self._histograms.get(key)
            if mine is None:
                self._histograms[key] = hist
                continue
            if mine.bounds != hist.bounds:
                logger.warning("metric %s has other buckets in worker %s; its counts there are left out",
                               key[0], state["pid"])
                continue
            mine.counts = [a + b for a, b in zip(mine.counts, hist.counts)]
            mine.count += hist.count
            mine.sum += hist.sum
            mine.min, mine.max = min(mine.min, hist.min), max(mine.max, hist.max)
            mine.recent.extend(hist.recent)
        self._latency.count += restored._latency.count
        self._latency.sum += restored._latency.sum
        self._latency.recent.extend(restored._latency.recent)
        self._cache[0] += restored._cache[0]
        self._cache[1] += restored._cache[1]
        self._throughput.total += restored._throughput.total
        slots: dict[int, int] = {int(second): int(n) for second, n in self._throughput.slots}
        for second, n in restored._throughput.slots:
            slots[second] = slots.get(second, 0) + n
        self._throughput.slots.clear()
        self._throughput.slots.extend([s, n] for s, n in sorted(slots.items()))

    @property
    def uptime_seconds(self) -> float:
        now = time.time()
        return max((now - s["started_wall"] for s in self._live_states), default=0.0)

    def get_memory_stats(self) -> dict[str, float]:
        live = [s["memory"] for s in self._live_states]
        current = sum(m["current_mb"] for m in live)
        initial = sum(m["initial_mb"] for m in live)
        return {
            "current_mb": round(current, 1),
            "peak_mb": round(sum(m["peak_mb"] for m in live), 1),
            "initial_mb": round(initial, 1),
            "growth_mb": round(current - initial, 1),
        }

    def get_throughput_stats(self) -> dict[str, Any]:
        rate = self._throughput.rate(time.time(), self.uptime_seconds)
        return {"requests_per_second": rate, "total_requests": self._throughput.total,
                "window_seconds": self.window_seconds, "workers": len(self._live_states)}


class SharedMetrics:
    """Writes ``metrics``' state to ``folder`` and merges every worker's there."""

    def __init__(self, metrics: Metrics, folder: str | os.PathLike[str], *, interval: float = 1.0) -> None:
        self.metrics = metrics
        self.folder = Path(folder)
        self.interval = interval
        self.pid = os.getpid()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> Path:
        return self.folder / f"{_PREFIX}{self.pid}.json"

    def write(self) -> None:
        """Write this worker's state now (the state is taken inside the lock, so a later write
        never carries an older state than an earlier one)."""
        with self._write_lock:
            state = self.metrics.state()
            state["pid"] = self.pid
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps(state))
            os.replace(tmp, self.path)

    def start(self) -> None:
        """Write now, then every ``interval`` seconds from a daemon thread (per worker)."""
        self.pid = os.getpid()
        self.write()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="conduit-metrics-share", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.write()
            except OSError:
                logger.warning("could not write this worker's metrics to %s", self.folder, exc_info=True)

    def merged(self) -> Metrics:
        """Every worker's metrics as one registry; this worker's as of now."""
        self.write()
        states: list[dict[str, Any]] = []
        for path in sorted(self.folder.glob(f"{_PREFIX}*.json")):
            try:
                states.append(orjson.loads(path.read_bytes()))
            except (OSError, orjson.JSONDecodeError):
                logger.warning("unreadable worker metrics file %s; left out", path.name)
        live = {s["pid"] for s in states if s["pid"] == self.pid or _alive(s["pid"])}
        return MergedMetrics(states, live, self.metrics)
