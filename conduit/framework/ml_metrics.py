"""ML-specific metrics (seed 000's ``MLMetrics``), recorded into a :class:`Metrics`.

Names (Prometheus adds the namespace, ``conduit_`` by default):

- ``ml_inferences_total{model,outcome}`` and ``ml_inference_duration_seconds{model}``
- ``ml_batch_inferences_total{model}``, ``ml_batch_items_total{model}``,
  ``ml_batch_size{model}`` and ``ml_batch_inference_duration_seconds{model}``
- ``ml_pipeline_runs_total{pipeline,outcome}``, ``ml_pipeline_duration_seconds{pipeline}``,
  ``ml_pipeline_stages{pipeline}``
- ``ml_vector_searches_total{collection}``, ``ml_vector_search_duration_seconds{collection}``,
  ``ml_vector_search_results{collection}``, ``ml_vector_query_dims{collection}``
"""

from __future__ import annotations

from typing import Any

from conduit.framework.metrics import Metrics

__all__ = ["MLMetrics"]

_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_HELP: dict[str, tuple[str, tuple[float, ...] | None]] = {
    "ml_inferences_total": ("Model predictions by model and outcome", None),
    "ml_inference_duration_seconds": ("Seconds per prediction", None),
    "ml_batch_inferences_total": ("Batched predictions by model", None),
    "ml_batch_items_total": ("Items predicted in batches", None),
    "ml_batch_size": ("Items per batch", _SIZE_BUCKETS),
    "ml_batch_inference_duration_seconds": ("Seconds per batch", None),
    "ml_pipeline_runs_total": ("Pipeline runs by pipeline and outcome", None),
    "ml_pipeline_duration_seconds": ("Seconds per pipeline run", None),
    "ml_pipeline_stages": ("Stages in the pipeline's last run", None),
    "ml_vector_searches_total": ("Vector searches by collection", None),
    "ml_vector_search_duration_seconds": ("Seconds per vector search", None),
    "ml_vector_search_results": ("Results returned per vector search", _SIZE_BUCKETS),
    "ml_vector_query_dims": ("Dimensions of the last query vector", None),
}


class MLMetrics:
    """Track inference, batches, pipelines and vector searches into ``metrics``
    (the process-wide ``_metrics`` by default)."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        if metrics is None:
            from conduit.framework.monitoring import _metrics

            metrics = _metrics
        self.metrics = metrics
        for name, (help_text, buckets) in _HELP.items():
            metrics.describe(name, help_text, buckets=buckets)

    @staticmethod
    def _outcome(success: bool) -> str:
        return "success" if success else "error"

    def track_inference(self, model_name: str, duration: float, success: bool = True) -> None:
        m = self.metrics
        m.increment_counter("ml_inferences_total", 1, {"model": model_name, "outcome": self._outcome(success)})
        m.observe_histogram("ml_inference_duration_seconds", duration, {"model": model_name})

    def track_batch_inference(self, model_name: str, batch_size: int, duration: float, success: bool = True) -> None:
        m = self.metrics
        labels = {"model": model_name}
        m.increment_counter("ml_batch_inferences_total", 1, {**labels, "outcome": self._outcome(success)})
        m.increment_counter("ml_batch_items_total", batch_size, labels)
        m.observe_histogram("ml_batch_size", batch_size, labels)
        m.observe_histogram("ml_batch_inference_duration_seconds", duration, labels)

    def track_pipeline(self, pipeline_name: str, stage_count: int, duration: float, success: bool = True) -> None:
        m = self.metrics
        labels = {"pipeline": pipeline_name}
        m.increment_counter("ml_pipeline_runs_total", 1, {**labels, "outcome": self._outcome(success)})
        m.observe_histogram("ml_pipeline_duration_seconds", duration, labels)
        m.set_gauge("ml_pipeline_stages", stage_count, labels)

    def track_vector_search(
        self, query_dims: int, result_count: int, duration: float, collection: str = "default"
    ) -> None:
        m = self.metrics
        labels = {"collection": collection}
        m.increment_counter("ml_vector_searches_total", 1, labels)
        m.observe_histogram("ml_vector_search_duration_seconds", duration, labels)
        m.observe_histogram("ml_vector_search_results", result_count, labels)
        m.set_gauge("ml_vector_query_dims", query_dims, labels)

    def model_stats(self, model_name: str) -> dict[str, Any]:
        """Counts and latency percentiles (ms) of one model's single predictions."""
        m = self.metrics
        ok = m.get_counter("ml_inferences_total", {"model": model_name, "outcome": "success"})
        failed = m.get_counter("ml_inferences_total", {"model": model_name, "outcome": "error"})
        stats = m.get_histogram("ml_inference_duration_seconds", {"model": model_name})
        return {
            "predictions": int(ok + failed),
            "errors": int(failed),
            "error_rate": failed / (ok + failed) if ok + failed else 0.0,
            "p50_ms": stats.p50 * 1000,
            "p95_ms": stats.p95 * 1000,
            "p99_ms": stats.p99 * 1000,
        }
