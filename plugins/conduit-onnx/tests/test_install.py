"""Which distribution provides the onnxruntime module: the CPU wheel shadowing onnxruntime-gpu is found and named.

This environment has both `onnxruntime` (chromadb's dependency) and `onnxruntime-gpu`
installed, with the GPU build reinstalled last by scripts/install-dev. The shadowed case is
an on-disk site folder holding the two real distributions' metadata and the marker file the
CPU wheel writes, proved byte for byte against the CPU wheel's own RECORD hash.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import io
import logging
import shutil
from pathlib import Path

import onnxruntime as ort
import pytest

from conduit.cli import main
from conduit_onnx.cli import run as run_cli
from conduit_onnx.install import (
    DISTRIBUTIONS,
    GPU_DISTRIBUTION,
    MARKER,
    _disk_hash,
    _record_hash,
    inspect_install,
    warn_if_gpu_shadowed,
)


def _installed() -> dict[str, metadata.Distribution]:
    found = {}
    for name in DISTRIBUTIONS:
        try:
            found[name] = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def test_this_environment_reports_what_metadata_and_the_imported_module_say() -> None:
    install = inspect_install()
    installed = _installed()
    assert install.distributions == {name: dist.version for name, dist in installed.items()}
    from onnxruntime.capi import build_and_package_info

    # The module's own record of the wheel it came from, and its version, agree with the inspection.
    assert install.module_distribution == build_and_package_info.package_name
    assert install.module_version == ort.__version__
    assert install.gpu_shadowed is (GPU_DISTRIBUTION in installed and build_and_package_info.package_name != GPU_DISTRIBUTION)
    if install.module_distribution == GPU_DISTRIBUTION:
        assert ort.get_device() == "GPU"  # what the GPU build answers, with or without a GPU
        assert install.fix_command is None and install.shadow_message() is None


def _site_with_cpu_wheel_written_last(tmp_path: Path) -> tuple[Path, dict[str, metadata.Distribution]]:
    installed = _installed()
    if not {"onnxruntime", GPU_DISTRIBUTION} <= set(installed):
        pytest.skip("needs both onnxruntime and onnxruntime-gpu installed (as scripts/install-dev leaves them)")
    site = tmp_path / "site-packages"
    for dist in installed.values():
        record = next(f for f in dist.files or () if f.name == "RECORD")
        info = Path(str(dist.locate_file(record))).parent
        shutil.copytree(info, site / info.name)
    cpu = installed["onnxruntime"]
    marker = site / MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text(f"package_name = 'onnxruntime'\n__version__ = '{cpu.version}'\n")
    assert _disk_hash(marker) == _record_hash(cpu, MARKER), "the CPU wheel's marker file has another format now"
    return site, installed


def test_cpu_wheel_written_over_the_gpu_build_is_reported_with_the_fix(tmp_path) -> None:
    site, installed = _site_with_cpu_wheel_written_last(tmp_path)
    install = inspect_install([str(site)])
    gpu_version = installed[GPU_DISTRIBUTION].version
    assert install.distributions == {"onnxruntime": installed["onnxruntime"].version, GPU_DISTRIBUTION: gpu_version}
    assert install.module_distribution == "onnxruntime"
    assert install.module_version == installed["onnxruntime"].version
    assert install.gpu_shadowed
    assert install.fix_command == f"pip install --force-reinstall --no-deps onnxruntime-gpu=={gpu_version}"
    assert install.fix_command in install.shadow_message()


def test_gpu_build_written_last_is_not_shadowed(tmp_path) -> None:
    site, installed = _site_with_cpu_wheel_written_last(tmp_path)
    gpu = installed[GPU_DISTRIBUTION]
    live = Path(str(gpu.locate_file(MARKER)))
    if _disk_hash(live) != _record_hash(gpu, MARKER):
        pytest.skip("the CPU wheel is the imported build in this environment: no GPU marker file to copy")
    shutil.copyfile(live, site / MARKER)
    install = inspect_install([str(site)])
    assert install.module_distribution == GPU_DISTRIBUTION and install.module_version == gpu.version
    assert not install.gpu_shadowed and install.fix_command is None


def test_shadowing_is_warned_once_naming_the_command(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    site, _ = _site_with_cpu_wheel_written_last(tmp_path)
    caplog.set_level(logging.DEBUG, logger="conduit.onnx")
    first = warn_if_gpu_shadowed((str(site),))
    assert warn_if_gpu_shadowed((str(site),)) is first
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert first.fix_command in warnings[0].getMessage()
    assert "GPU inference is unavailable" in warnings[0].getMessage()


def test_no_onnxruntime_on_the_path_is_reported_as_not_installed(tmp_path) -> None:
    install = inspect_install([str(tmp_path)])
    assert install.distributions == {} and install.module_distribution is None
    assert not install.gpu_shadowed
    assert install.describe() == "no onnxruntime distribution is installed"


def test_conduit_onnx_command_reports_the_install_and_providers(onnx_pm, capsys) -> None:
    assert main(["onnx"]) == (1 if inspect_install().gpu_shadowed else 0)  # onnx_pm: the CLI reads the default manager
    out = capsys.readouterr().out
    assert f"`import onnxruntime` loads {inspect_install().module_distribution}" in out
    assert "working providers (device 0): " in out and "CPUExecutionProvider" in out


def test_conduit_onnx_command_exits_1_with_the_fix_when_shadowed(tmp_path) -> None:
    site, _ = _site_with_cpu_wheel_written_last(tmp_path)
    out = io.StringIO()
    assert run_cli(argparse.Namespace(device_id=0), out=out, path=[str(site)]) == 1
    text = out.getvalue()
    assert "problem: the onnxruntime" in text
    assert f"fix: {inspect_install([str(site)]).fix_command}" in text


def test_conduit_check_warns_only_when_the_gpu_build_is_shadowed(tmp_path) -> None:
    from conduit_onnx.install import check_install

    site, installed = _site_with_cpu_wheel_written_last(tmp_path)
    warnings: list[str] = []
    check_install(warnings.append, [str(site)])
    assert len(warnings) == 1 and installed[GPU_DISTRIBUTION].version in warnings[0]
    assert "pip install --force-reinstall --no-deps onnxruntime-gpu" in warnings[0]
    here: list[str] = []
    check_install(here.append)
    assert bool(here) == inspect_install().gpu_shadowed
