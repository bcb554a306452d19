"""MLMetrics records into a Metrics registry under labelled, documented names."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conduit.framework.metrics import Metrics
from conduit.framework.monitoring import MLMetrics


def test_seed_calls_record_what_they_say() -> None:
    metrics = Metrics()
    ml = MLMetrics(metrics)
    ml.track_inference(model_name="bert-base", duration=0.05, success=True)
    ml.track_inference(model_name="bert-base", duration=0.15, success=False)
    ml.track_batch_inference(model_name="bert-base", batch_size=32, duration=0.5)
    ml.track_pipeline(pipeline_name="rag-pipeline", stage_count=3, duration=1.2)
    ml.track_vector_search(query_dims=768, result_count=10, duration=0.02)

    assert metrics.get_counter("ml_inferences_total", {"model": "bert-base", "outcome": "success"}) == 1
    assert metrics.get_counter("ml_inferences_total", {"model": "bert-base", "outcome": "error"}) == 1
    assert metrics.get_counter("ml_batch_items_total", {"model": "bert-base"}) == 32
    assert metrics.get_gauge("ml_pipeline_stages", {"pipeline": "rag-pipeline"}) == 3
    assert metrics.get_gauge("ml_vector_query_dims", {"collection": "default"}) == 768
    assert metrics.get_histogram("ml_vector_search_results", {"collection": "default"}).sum == 10
    stats = ml.model_stats("bert-base")
    assert stats["predictions"] == 2 and stats["errors"] == 1 and stats["error_rate"] == 0.5
    assert stats["p50_ms"] == pytest.approx(100.0)


def test_batch_sizes_use_size_buckets_and_names_have_help() -> None:
    metrics = Metrics()
    ml = MLMetrics(metrics)
    MLMetrics(metrics)  # a second tracker on the same registry is fine
    for size in (1, 7, 64, 300):
        ml.track_batch_inference("m", size, 0.1)
    families = {f.name: f for f in text_string_to_metric_families(metrics.export_metrics_prometheus())}
    sizes = families["conduit_ml_batch_size"]
    assert sizes.documentation == "Items per batch"
    buckets = {s.labels["le"]: s.value for s in sizes.samples if s.name.endswith("_bucket")}
    assert buckets["1.0"] == 1 and buckets["8.0"] == 2 and buckets["64.0"] == 3 and buckets["512.0"] == 4
