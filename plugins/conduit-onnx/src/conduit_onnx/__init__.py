"""conduit-onnx: ONNX Runtime inference for Conduit: GPU when present, CPU otherwise.

Use it through ``conduit.ml`` (``load_onnx_model``, ``load_model``, ``get_embedder``,
``has_gpu_support``); the names below are the same functions without the indirection.
"""

from conduit_onnx.embedder import TextEmbedder, default_embedder
from conduit_onnx.loader import load_onnx_model
from conduit_onnx.model import OnnxModel, TensorSpec
from conduit_onnx.providers import has_gpu_support, working_providers

__all__ = [
    "OnnxModel",
    "TensorSpec",
    "TextEmbedder",
    "default_embedder",
    "has_gpu_support",
    "load_onnx_model",
    "working_providers",
]
