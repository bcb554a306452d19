"""load_onnx_model: the seed's entry point, and the ``.onnx`` loader behind conduit.ml.load_model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from conduit_onnx.model import OnnxModel
from conduit_onnx.providers import has_gpu_support
from conduit_onnx.session import create_session, session_options

__all__ = ["load_onnx_model"]


def load_onnx_model(
    path: str | os.PathLike[str] | bytes,
    use_gpu: bool = True,
    device_id: int = 0,
    optimization_level: int | str | Any = 3,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    warmup: bool = True,
    output: str | None = None,
    io_binding: bool | None = None,
    name: str | None = None,
    optimized_model_path: str | os.PathLike[str] | None = None,
    allow_spinning: bool | None = None,
) -> OnnxModel:
    """Load an ONNX model on the best execution provider that really works here.

    ``use_gpu`` asks for TensorRT/CUDA; when neither starts (no GPU, or missing CUDA/cuDNN
    libraries) the model runs on CPU and a warning is logged: ``model.providers`` tells
    what really runs. ``optimization_level`` 0-3 maps to ONNX Runtime's
    GraphOptimizationLevel (disable, basic, extended, all). Thread counts default to
    ONNX Runtime's choice. ``warmup`` runs one dummy batch so the first request does not
    pay for lazy initialisation. ``output`` names the output ``predict`` answers with
    (default: the first). ``io_binding`` defaults to on when running on a GPU.
    ``allow_spinning`` lets ONNX Runtime's pool threads busy-wait between parallel sections;
    the default (``None``) turns that off for sessions on the CPU, where a server's event
    loop, its other threads and other processes share the cores, and leaves ONNX Runtime's
    default (on) for sessions on a GPU provider. ``model.allow_spinning`` tells what was set.
    ``path`` may also be the serialized model's bytes.
    """
    if allow_spinning is None:
        allow_spinning = None if use_gpu and has_gpu_support(device_id) else False
    options = session_options(
        optimization_level=optimization_level,
        intra_op_threads=intra_op_threads,
        inter_op_threads=inter_op_threads,
        optimized_model_path=optimized_model_path,
        allow_spinning=allow_spinning,
    )
    session = create_session(path, use_gpu=use_gpu, device_id=device_id, options=options)
    if name is None:
        name = Path(os.fsdecode(path)).stem if not isinstance(path, bytes) else "model"
    model = OnnxModel(session, name=name, device_id=device_id, output=output, io_binding=io_binding)
    if warmup:
        model.warmup()
    return model
