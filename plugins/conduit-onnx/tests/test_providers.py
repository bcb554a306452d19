"""Execution providers: only those that really start a session are reported; GPU tests skip without one."""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
import pytest

from conduit.framework.errors import ConfigurationError
from conduit_onnx import has_gpu_support, load_onnx_model, working_providers
from conduit_onnx.providers import CPU, GPU_PROVIDERS, available_providers
from conduit_onnx.session import graph_optimization_level

GPU = has_gpu_support()
NO_GPU_REASON = "no GPU execution provider starts on this machine (no GPU, or CUDA 13/cuDNN 9 libraries missing)"


def test_cpu_is_always_working_and_last() -> None:
    providers = working_providers()
    assert providers[-1] == CPU
    assert set(providers) <= set(available_providers())
    assert len(providers) == len(set(providers))


def test_listed_providers_are_reported_only_when_a_session_really_uses_them(classifier) -> None:
    """onnxruntime-gpu lists CUDA/TensorRT even where they cannot start; the probe must not trust that."""
    listed = [p for p in available_providers() if p != CPU]
    if not listed:
        pytest.skip("this onnxruntime build lists no provider but CPU")
    for provider in listed:
        session = ort.InferenceSession(str(classifier.path), providers=[provider, CPU])
        really_used = provider in session.get_providers()
        assert (provider in working_providers()) is really_used, provider
    assert has_gpu_support() is any(p in working_providers() for p in GPU_PROVIDERS)


@pytest.mark.skipif(GPU, reason="this machine has a working GPU provider")
def test_gpu_request_without_gpu_runs_on_cpu_and_says_so(classifier, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="conduit.onnx")
    model = load_onnx_model(classifier.path, use_gpu=True)
    assert model.providers == [CPU]
    assert model.uses_gpu is False and model.device == "cpu" and model.io_binding is False
    assert any("GPU inference was asked for" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(not GPU, reason=NO_GPU_REASON)
def test_gpu_model_uses_io_binding_and_matches_cpu_answers(classifier) -> None:
    gpu = load_onnx_model(classifier.path, use_gpu=True)
    cpu = load_onnx_model(classifier.path, use_gpu=False)
    assert gpu.uses_gpu and gpu.device == "cuda:0" and gpu.io_binding
    assert gpu.providers[0] in GPU_PROVIDERS
    assert gpu.predict(classifier.X[:50]).tolist() == cpu.predict(classifier.X[:50]).tolist()
    np.testing.assert_allclose(
        gpu.predict(classifier.X[:50], output="probabilities"),
        cpu.predict(classifier.X[:50], output="probabilities"),
        atol=1e-5,
    )


def test_use_gpu_false_asks_for_cpu_only(classifier) -> None:
    assert load_onnx_model(classifier.path, use_gpu=False).providers == [CPU]


@pytest.mark.parametrize(
    "level, name",
    [(0, "ORT_DISABLE_ALL"), (1, "ORT_ENABLE_BASIC"), (2, "ORT_ENABLE_EXTENDED"), (3, "ORT_ENABLE_ALL"), ("all", "ORT_ENABLE_ALL")],
)
def test_optimization_levels_map_to_onnxruntime_and_keep_answers(classifier, level, name) -> None:
    assert graph_optimization_level(level) == getattr(ort.GraphOptimizationLevel, name)
    model = load_onnx_model(classifier.path, use_gpu=False, optimization_level=level)
    assert model.predict(classifier.X[:20]).tolist() == classifier.estimator.predict(classifier.X[:20]).tolist()


@pytest.mark.parametrize("level", [4, -1, "max", True])
def test_unknown_optimization_level_is_refused(classifier, level) -> None:
    with pytest.raises(ConfigurationError, match="optimization_level must be 0, 1, 2 or 3"):
        load_onnx_model(classifier.path, use_gpu=False, optimization_level=level)


def test_thread_settings_reach_the_session(classifier) -> None:
    model = load_onnx_model(classifier.path, use_gpu=False, intra_op_threads=1, inter_op_threads=2)
    options = model.session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.inter_op_num_threads == 2
    assert options.execution_mode == ort.ExecutionMode.ORT_PARALLEL
    with pytest.raises(ConfigurationError, match="intra_op_threads must be a non-negative integer"):
        load_onnx_model(classifier.path, use_gpu=False, intra_op_threads=-2)


@pytest.mark.skipif(not GPU, reason=NO_GPU_REASON)
def test_gpu_sessions_keep_onnx_runtimes_spinning_default(classifier) -> None:
    gpu = load_onnx_model(classifier.path, use_gpu=True)
    assert gpu.uses_gpu and gpu.allow_spinning is None
    assert load_onnx_model(classifier.path, use_gpu=True, allow_spinning=False).allow_spinning is False
