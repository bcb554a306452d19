"""ONNX facades: the seed's ``load_onnx_model``, ``has_gpu_support``, ``get_onnx_providers``.

Each call finds the ``.onnx`` loader and the execution-provider answers through hooks
(conduit-onnx implements them), so the kernel never imports onnxruntime.
"""

from __future__ import annotations

import os
from typing import Any

import pluggy

from conduit.framework.errors import MissingPluginError
from conduit.ml._registry import plugin_manager

__all__ = ["GPU_PROVIDERS", "get_execution_providers", "get_onnx_providers", "has_gpu_support", "load_onnx_model"]

GPU_PROVIDERS = frozenset({"TensorrtExecutionProvider", "CUDAExecutionProvider"})


def load_onnx_model(
    path: str | os.PathLike[str] | bytes,
    use_gpu: bool = True,
    device_id: int = 0,
    optimization_level: int | str = 3,
    *,
    pm: pluggy.PluginManager | None = None,
    **options: Any,
) -> Any:
    """Load an ONNX model through the conduit-onnx plugin (see ``conduit_onnx.load_onnx_model``).

    ``options``: ``intra_op_threads``, ``inter_op_threads``, ``warmup``, ``output``,
    ``io_binding``, ``name``. Raises :class:`MissingPluginError` without the plugin.
    """
    from conduit.ml.loading import model_loaders

    loader = model_loaders(pm).get(".onnx")
    if loader is None:
        raise MissingPluginError("ONNX inference", "onnx")
    return loader.load(
        path, use_gpu=use_gpu, device_id=device_id, optimization_level=optimization_level, **options
    )


def get_execution_providers(pm: pluggy.PluginManager | None = None) -> list[str]:
    """Execution providers that really work here, from every inference plugin, best first."""
    seen: list[str] = []
    for answer in plugin_manager(pm).hook.conduit_execution_providers():
        for provider in answer or ():
            if provider not in seen:
                seen.append(provider)
    return seen


def get_onnx_providers(pm: pluggy.PluginManager | None = None) -> list[str]:
    """ONNX Runtime providers that really start a session here (not merely compiled in)."""
    providers = get_execution_providers(pm)
    if not providers:
        raise MissingPluginError("ONNX inference", "onnx")
    return providers


def has_gpu_support(pm: pluggy.PluginManager | None = None) -> bool:
    """True when a GPU provider (TensorRT or CUDA) really works; False otherwise or without a plugin."""
    return any(p in GPU_PROVIDERS for p in get_execution_providers(pm))
