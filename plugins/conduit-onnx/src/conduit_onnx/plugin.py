"""Hook implementations of the conduit-onnx plugin (entry point `conduit`: `onnx`).

Only hookimpls live here; the work is in the modules beside it. Nothing heavy is
imported until a hook asks for it, so `conduit plugins` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit import hookimpl

__all__ = [
    "conduit_check",
    "conduit_execution_providers",
    "conduit_register_commands",
    "conduit_register_embedders",
    "conduit_register_model_loaders",
]


def _load_onnx(path: Any, **options: Any) -> Any:
    from conduit_onnx.loader import load_onnx_model

    return load_onnx_model(path, **options)


def _default_embedder() -> Any:
    from conduit_onnx.embedder import default_embedder

    return default_embedder()


@hookimpl
def conduit_check(warn: Callable[[str], None]) -> None:
    """``conduit check``: say when the CPU wheel shadows onnxruntime-gpu (CPU inference still works)."""
    from conduit_onnx.install import check_install

    check_install(warn)


@hookimpl
def conduit_register_model_loaders(register: Callable[..., Any]) -> None:
    register("onnx", _load_onnx, suffixes=(".onnx",))


@hookimpl
def conduit_execution_providers() -> list[str]:
    from conduit_onnx.providers import working_providers

    return working_providers()


@hookimpl
def conduit_register_embedders(register: Callable[..., Any]) -> None:
    register("all-MiniLM-L6-v2", _default_embedder, dimension=384, default=True)


@hookimpl
def conduit_register_commands(register: Callable[..., Any]) -> None:
    from conduit_onnx.cli import ARGUMENTS, HELP

    def run(args: Any) -> int:
        from conduit_onnx.cli import run as run_onnx

        return run_onnx(args)

    register("onnx", run, help=HELP, arguments=ARGUMENTS)
