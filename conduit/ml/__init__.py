"""Kernel-side ML API: engines, pipelines, ensembles, and facades that find plugins through hooks.

Importing this package imports no numpy, onnxruntime or scikit-learn: the facades
(``load_onnx_model``, ``get_embedder``, ``create_vector_db`` ...) resolve the plugin that
implements them at call time, and a missing one raises
:class:`conduit.framework.errors.MissingPluginError` naming what to install.
"""

from conduit.ml.embeddings import get_embedder, list_embedders
from conduit.ml.engine import EngineStats, InferenceEngine
from conduit.ml.ensemble import EnsemblePredictor, create_ensemble
from conduit.ml.loading import ModelLoader, UnsupportedModelFormatError, load_model, model_loaders
from conduit.ml.onnx import get_execution_providers, get_onnx_providers, has_gpu_support, load_onnx_model
from conduit.ml.pipeline import MLPipeline, create_pipeline
from conduit.ml.sklearn_models import SklearnModel
from conduit.ml.streaming import StreamingInferenceEngine, create_streaming_engine
from conduit.ml.vector import create_rag_pipeline, create_vector_db

__all__ = [
    "EngineStats",
    "EnsemblePredictor",
    "InferenceEngine",
    "MLPipeline",
    "ModelLoader",
    "SklearnModel",
    "StreamingInferenceEngine",
    "UnsupportedModelFormatError",
    "create_ensemble",
    "create_pipeline",
    "create_rag_pipeline",
    "create_streaming_engine",
    "create_vector_db",
    "get_embedder",
    "get_execution_providers",
    "get_onnx_providers",
    "has_gpu_support",
    "list_embedders",
    "load_model",
    "load_onnx_model",
    "model_loaders",
]
