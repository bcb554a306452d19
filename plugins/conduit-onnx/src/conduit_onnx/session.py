"""Building ONNX Runtime sessions: optimisation levels, threads, providers, fallback check."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from conduit.framework.errors import ConfigurationError, InferenceError, ModelNotFoundError
from conduit_onnx.providers import CPU, GPU_PROVIDERS, select_providers

__all__ = [
    "OPTIMIZATION_LEVELS",
    "SPINNING_ENTRIES",
    "create_session",
    "graph_optimization_level",
    "session_options",
]

logger = logging.getLogger("conduit.onnx")
_warned_cpu_fallback = False

#: ``optimization_level`` as Conduit's seed spells it (0-3) or by name, to ONNX Runtime's enum name.
OPTIMIZATION_LEVELS: dict[int | str, str] = {
    0: "ORT_DISABLE_ALL",
    1: "ORT_ENABLE_BASIC",
    2: "ORT_ENABLE_EXTENDED",
    3: "ORT_ENABLE_ALL",
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def graph_optimization_level(level: int | str | Any) -> Any:
    """Map 0-3 (or "disable"/"basic"/"extended"/"all", or the enum itself) to GraphOptimizationLevel."""
    import onnxruntime as ort

    if isinstance(level, ort.GraphOptimizationLevel):
        return level
    key = level.lower() if isinstance(level, str) else level
    if isinstance(key, bool) or key not in OPTIMIZATION_LEVELS:
        raise ConfigurationError(
            f"optimization_level must be 0, 1, 2 or 3 (or 'disable', 'basic', 'extended', 'all'); got {level!r}"
        )
    return getattr(ort.GraphOptimizationLevel, OPTIMIZATION_LEVELS[key])


#: The session config entries ``allow_spinning`` sets (ONNX Runtime's names; "1" = spin, "0" = do not).
SPINNING_ENTRIES = ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning")


def _threads(name: str, value: int | None) -> int:
    if value is None:
        return 0  # onnxruntime's default: one thread per physical core
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name} must be a non-negative integer (0 = onnxruntime's default); got {value!r}")
    return value


def session_options(
    optimization_level: int | str | Any = 3,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    optimized_model_path: str | os.PathLike[str] | None = None,
    allow_spinning: bool | None = None,
) -> Any:
    """``onnxruntime.SessionOptions`` for the given optimisation level and thread counts.

    ``allow_spinning``: whether ONNX Runtime's pool threads busy-wait for work between
    parallel sections (``session.intra_op.allow_spinning`` and ``session.inter_op.allow_spinning``;
    the second matters only with ``inter_op_threads``). ``None`` keeps ONNX Runtime's default
    (spinning).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = graph_optimization_level(optimization_level)
    options.intra_op_num_threads = _threads("intra_op_threads", intra_op_threads)
    options.inter_op_num_threads = _threads("inter_op_threads", inter_op_threads)
    if inter_op_threads:
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    if allow_spinning is not None:
        if not isinstance(allow_spinning, bool):
            raise ConfigurationError(f"allow_spinning must be True, False or None; got {allow_spinning!r}")
        for entry in SPINNING_ENTRIES:
            options.add_session_config_entry(entry, "1" if allow_spinning else "0")
    if optimized_model_path is not None:
        options.optimized_model_filepath = os.fspath(optimized_model_path)
    return options


def create_session(
    source: str | os.PathLike[str] | bytes,
    *,
    use_gpu: bool = True,
    device_id: int = 0,
    options: Any = None,
) -> Any:
    """An ``InferenceSession`` on the best working providers; warns when GPU was asked but CPU runs.

    ``source`` is a path to a ``.onnx`` file or the serialized model bytes.
    """
    import onnxruntime as ort

    if not isinstance(source, bytes):
        path = Path(source)
        if not path.is_file():
            raise ModelNotFoundError(
                f"model file {path.name!r} not found",
                f"no file at {os.fspath(path)!r}; pass the path of an existing .onnx file",
            )
        source = os.fspath(path)
    providers = select_providers(use_gpu, device_id)
    try:
        session = ort.InferenceSession(source, sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own types for bad graphs
        name = Path(source).name if isinstance(source, str) else "<bytes>"
        raise InferenceError(
            f"model {name!r} could not be loaded by onnxruntime",
            f"{type(exc).__name__}: {exc}",
        ) from exc
    if use_gpu and not any(p in GPU_PROVIDERS for p in session.get_providers()):
        _warn_cpu_fallback(session.get_providers())
    return session


def _warn_cpu_fallback(providers: list[str]) -> None:
    """Warn once per process (then at debug level) that GPU was asked for but CPU runs.

    When the CPU wheel shadows onnxruntime-gpu, the provider probe has already warned with
    the command that fixes it; this stays at debug level then.
    """
    from conduit_onnx.install import warn_if_gpu_shadowed

    global _warned_cpu_fallback
    shadowed = warn_if_gpu_shadowed().gpu_shadowed
    level = logging.DEBUG if _warned_cpu_fallback or shadowed else logging.WARNING
    _warned_cpu_fallback = True
    logger.log(
        level,
        "GPU inference was asked for (use_gpu=True) but the session runs on %s: no GPU provider "
        "starts on this machine (see conduit.ml.get_onnx_providers()); pass use_gpu=False to silence this",
        ", ".join(providers) or CPU,
    )
