"""Which ONNX Runtime execution providers really work on this machine.

``onnxruntime.get_available_providers()`` lists the providers compiled into the wheel:
onnxruntime-gpu lists TensorRT and CUDA even on a machine without a GPU or without the
CUDA/cuDNN libraries, and a session asked for them falls back to CPU with no exception.
So each GPU provider is *proved* by creating a session on a tiny in-memory model and
reading ``session.get_providers()``; the answer is cached for the process.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import threading
from typing import Any

__all__ = [
    "CPU",
    "CUDA",
    "GPU_PROVIDERS",
    "TENSORRT",
    "available_providers",
    "has_gpu_support",
    "reset_provider_cache",
    "select_providers",
    "working_providers",
]

logger = logging.getLogger("conduit.onnx")

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
#: GPU providers Conduit asks for, best first.
GPU_PROVIDERS: tuple[str, ...] = (TENSORRT, CUDA)

# A one-node ONNX model (float[1] x -> Identity -> float[1] y, opset 13): enough to make
# a provider load its libraries and claim a device, without touching the disk.
_PROBE_MODEL = (
    b"\x08\x08\x12\x07conduit:;\n\x10\n\x01x\x12\x01y\"\x08Identity\x12\x05probeZ\x0f\n\x01x"
    b"\x12\n\n\x08\x08\x01\x12\x04\n\x02\x08\x01b\x0f\n\x01y\x12\n\n\x08\x08\x01\x12\x04\n\x02"
    b"\x08\x01B\x04\n\x00\x10\r"
)
_ORT_DEFAULT_SEVERITY = 2  # onnxruntime's own default (warning)
_lock = threading.Lock()


def available_providers() -> list[str]:
    """The providers compiled into the installed onnxruntime (not proof that they work)."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def _options(provider: str, device_id: int) -> dict[str, Any]:
    return {"device_id": device_id} if provider in GPU_PROVIDERS else {}


def _probe(provider: str, device_id: int) -> bool:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    printed = io.StringIO()  # onnxruntime print()s "EP Error ... Falling back" on failure
    try:
        with contextlib.redirect_stdout(printed):
            session = ort.InferenceSession(
                _PROBE_MODEL, sess_options=options, providers=[(provider, _options(provider, device_id)), CPU]
            )
    except Exception as exc:  # noqa: BLE001 - any failure means "does not work here"
        logger.debug("execution provider %s failed to start: %s", provider, exc)
        return False
    if printed.getvalue():
        logger.debug("execution provider %s: %s", provider, printed.getvalue().strip())
    return provider in session.get_providers()


@functools.lru_cache(maxsize=8)
def _working(device_id: int) -> tuple[str, ...]:
    import onnxruntime as ort

    from conduit_onnx.install import warn_if_gpu_shadowed

    warn_if_gpu_shadowed()  # once per process: the CPU wheel overwrote onnxruntime-gpu's files
    listed = available_providers()
    working: list[str] = []
    gpu_first = [p for p in GPU_PROVIDERS if p in listed]
    candidates = gpu_first + [p for p in listed if p not in GPU_PROVIDERS and p != CPU]
    if candidates:
        # A provider whose shared libraries are missing logs an error on the default
        # logger for every attempt; the probe expects that, so silence it meanwhile.
        ort.set_default_logger_severity(4)
        try:
            working = [p for p in candidates if _probe(p, device_id)]
        finally:
            ort.set_default_logger_severity(_ORT_DEFAULT_SEVERITY)
        failed = sorted(set(gpu_first) - set(working))
        if failed:
            logger.info(
                "onnxruntime lists %s but they do not start on this machine (no GPU, or CUDA/cuDNN "
                "libraries missing: `pip install onnxruntime-gpu[cuda,cudnn]`); using %s",
                ", ".join(failed),
                ", ".join(working + [CPU]),
            )
    return tuple(working + [CPU])


def working_providers(device_id: int = 0) -> list[str]:
    """Providers that really start on this machine for ``device_id``, best first; CPU last.

    Every listed provider but CPU is proved by creating a session (GPU providers first,
    then others the wheel lists, such as OpenVINO or Azure). Cached per device id.
    """
    with _lock:
        return list(_working(device_id))


def has_gpu_support(device_id: int = 0) -> bool:
    """True when a GPU provider (TensorRT or CUDA) really starts a session on ``device_id``."""
    return any(p in GPU_PROVIDERS for p in working_providers(device_id))


def select_providers(use_gpu: bool, device_id: int = 0) -> list[Any]:
    """The ``providers=`` argument for a session: working GPU providers first, CPU last."""
    if not use_gpu:
        return [CPU]
    chosen: list[Any] = []
    for provider in working_providers(device_id):
        if provider in GPU_PROVIDERS:
            chosen.append((provider, {"device_id": device_id}))
    chosen.append(CPU)
    return chosen


def reset_provider_cache() -> None:
    """Forget the probe results (after installing CUDA libraries in a running process)."""
    with _lock:
        _working.cache_clear()
