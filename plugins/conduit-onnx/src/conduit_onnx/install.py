"""Which installed distribution provides the ``onnxruntime`` module, and whether the GPU build is shadowed.

``onnxruntime`` (CPU only) and ``onnxruntime-gpu`` are two distributions of one module:
both write ``site-packages/onnxruntime/``, and pip lets the one installed last overwrite the
other's files while keeping both installed. chromadb (conduit-vector) depends on the CPU
wheel, so ``pip install ".[all]"`` can end with the CPU build imported although
conduit-onnx asked for ``onnxruntime-gpu``: GPU providers are then missing without a word.

Each wheel ships ``onnxruntime/capi/build_and_package_info.py`` (``package_name = '...'``,
``__version__ = '...'``), and each distribution's ``RECORD`` holds that file's sha256. The
file on disk matches the RECORD of the wheel whose files were written last: that is the
build ``import onnxruntime`` loads. Nothing here imports onnxruntime.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata as metadata
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DISTRIBUTIONS",
    "GPU_DISTRIBUTION",
    "MARKER",
    "RuntimeInstall",
    "check_install",
    "inspect_install",
    "warn_if_gpu_shadowed",
]

logger = logging.getLogger("conduit.onnx")

GPU_DISTRIBUTION = "onnxruntime-gpu"
#: Distributions known to install the ``onnxruntime`` module (the CPU wheel first).
DISTRIBUTIONS: tuple[str, ...] = (
    "onnxruntime",
    GPU_DISTRIBUTION,
    "onnxruntime-openvino",
    "onnxruntime-directml",
    "onnxruntime-qnn",
    "onnxruntime-training",
)
#: The file every onnxruntime wheel ships that names the wheel it came from.
MARKER = "onnxruntime/capi/build_and_package_info.py"
_FIELD = re.compile(r"""^(package_name|__version__)\s*=\s*['"]([^'"]+)['"]""", re.MULTILINE)


@dataclass(frozen=True)
class RuntimeInstall:
    """What is installed for the ``onnxruntime`` module and which distribution's files are on disk."""

    #: Installed distributions providing the module, name -> version (pip's metadata).
    distributions: dict[str, str]
    #: The distribution whose files ``import onnxruntime`` loads (None: not installed or unknown).
    module_distribution: str | None
    #: The version those files declare.
    module_version: str | None

    @property
    def gpu_shadowed(self) -> bool:
        """True when onnxruntime-gpu is installed but another build's files are the imported module."""
        return (
            GPU_DISTRIBUTION in self.distributions
            and self.module_distribution is not None
            and self.module_distribution != GPU_DISTRIBUTION
        )

    @property
    def fix_command(self) -> str | None:
        """The command that makes the GPU build the imported one again (only when it is shadowed)."""
        if not self.gpu_shadowed:
            return None
        return f"pip install --force-reinstall --no-deps {GPU_DISTRIBUTION}=={self.distributions[GPU_DISTRIBUTION]}"

    def describe(self) -> str:
        """One line for logs and ``conduit onnx``."""
        if not self.distributions:
            return "no onnxruntime distribution is installed"
        installed = ", ".join(f"{name} {version}" for name, version in self.distributions.items())
        module = (
            f"{self.module_distribution} {self.module_version}"
            if self.module_distribution
            else "an unknown build (its files match no installed distribution's RECORD)"
        )
        return f"installed: {installed}; `import onnxruntime` loads {module}"

    def shadow_message(self) -> str | None:
        if not self.gpu_shadowed:
            return None
        return (
            f"the {self.module_distribution} {self.module_version} wheel has overwritten the files of "
            f"{GPU_DISTRIBUTION} {self.distributions[GPU_DISTRIBUTION]} (both install the `onnxruntime` module; "
            "chromadb, needed by conduit-vector, depends on the CPU wheel), so ONNX Runtime has no GPU "
            f"providers here; run `{self.fix_command}` after every install or upgrade"
        )


def _record_hash(dist: metadata.Distribution, file: str) -> str | None:
    for entry in dist.files or ():
        if str(entry) == file and entry.hash is not None:
            return f"{entry.hash.mode}={entry.hash.value}"
    return None


def _disk_hash(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _declared(path: Path) -> tuple[str | None, str | None]:
    try:
        fields = dict(_FIELD.findall(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError):
        return None, None
    return fields.get("package_name"), fields.get("__version__")


def inspect_install(path: Sequence[str] | None = None) -> RuntimeInstall:
    """Find the onnxruntime distributions on ``path`` (default ``sys.path``) and whose files are on disk.

    The module's marker file is matched against each distribution's RECORD hash; when none
    matches (an edited file, a wheel without the marker), the name the file declares is used
    if that distribution is installed.
    """
    where: dict[str, Any] = {} if path is None else {"path": list(path)}
    found: dict[str, metadata.Distribution] = {}
    for name in DISTRIBUTIONS:
        dist = next(iter(metadata.distributions(name=name, **where)), None)
        if dist is not None:
            found[name] = dist
    versions = {name: dist.version for name, dist in found.items()}
    module_dist: str | None = None
    module_version: str | None = None
    for name, dist in found.items():
        marker = Path(str(dist.locate_file(MARKER)))
        expected = _record_hash(dist, MARKER)
        if expected is not None and expected == _disk_hash(marker):
            module_dist = name
            module_version = _declared(marker)[1] or dist.version
            break
    if module_dist is None and found:
        declared_name, declared_version = _declared(Path(str(next(iter(found.values())).locate_file(MARKER))))
        if declared_name in found:
            module_dist, module_version = declared_name, declared_version
    return RuntimeInstall(distributions=versions, module_distribution=module_dist, module_version=module_version)


@functools.lru_cache(maxsize=4)
def warn_if_gpu_shadowed(path: tuple[str, ...] | None = None) -> RuntimeInstall:
    """Inspect this environment (or ``path``) once per process; log one warning naming the fix
    when the CPU build shadows onnxruntime-gpu."""
    install = inspect_install(path)
    message = install.shadow_message()
    if message:
        logger.warning("GPU inference is unavailable: %s", message)
    else:
        logger.debug("onnxruntime: %s", install.describe())
    return install


def check_install(warn: Callable[[str], None], path: Sequence[str] | None = None) -> None:
    """``conduit check``'s part (the ``conduit_check`` hook): warn when the CPU build shadows
    onnxruntime-gpu. Inference still works on the CPU, so it is a warning, not a failure."""
    message = inspect_install(path).shadow_message()
    if message:
        warn(f"conduit-onnx: {message}")
