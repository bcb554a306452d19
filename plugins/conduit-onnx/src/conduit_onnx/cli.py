"""``conduit onnx``: which onnxruntime build is imported and which execution providers really start.

Prints the installed onnxruntime distributions, the one whose files ``import onnxruntime``
loads, the providers the wheel lists and those that passed the probe. Exits 1 when the CPU
wheel shadows onnxruntime-gpu (printing the command that fixes it), 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["ARGUMENTS", "HELP", "run"]

HELP = (
    "show which onnxruntime build is imported and which execution providers really start; "
    "exit 1 if the GPU build is shadowed"
)
ARGUMENTS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--device-id",), {"type": int, "default": 0, "help": "GPU device to probe (default 0)"}),
]


def run(args: argparse.Namespace, out: TextIO | None = None, path: Sequence[str] | None = None) -> int:
    """Print the report to ``out`` (stdout); ``path`` inspects other folders than ``sys.path``."""
    from conduit_onnx.install import inspect_install
    from conduit_onnx.providers import available_providers, working_providers

    out = out or sys.stdout
    install = inspect_install(path)
    print(f"onnxruntime: {install.describe()}", file=out)
    if not install.distributions:
        print("install conduit-onnx's runtime: pip install onnxruntime-gpu", file=out)
        return 1
    print(f"listed providers: {', '.join(available_providers())}", file=out)
    print(f"working providers (device {args.device_id}): {', '.join(working_providers(args.device_id))}", file=out)
    if install.gpu_shadowed:
        print(f"problem: {install.shadow_message()}", file=out)
        print(f"fix: {install.fix_command}", file=out)
        return 1
    return 0
