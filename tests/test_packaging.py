"""Conduit installed as its users install it: built wheels, a fresh venv, `conduit[all]`.

The kernel and each plugin are built with `python -m build --wheel`, and a fresh virtual
environment gets `pip install "conduit[all]"`. The package index holds unrelated projects
named `conduit` and `conduit-mcp`, so a constraints file pins every Conduit name to its built
wheel by a direct URL (`conduit @ file:///.../conduit-0.1.0-py3-none-any.whl`): pip then takes
those names only from these files and everything else (chromadb, onnxruntime, OpenTelemetry…)
from the index as usual. The test proves where each distribution came from (its
`direct_url.json` names the built file and its hash) and that `conduit plugins` lists all five
plugins enabled.

It needs the package index (or pip's cache) for the third-party dependencies and takes about a
minute with a warm pip cache.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = {
    "conduit": ROOT,
    "conduit-mcp": ROOT / "plugins" / "conduit-mcp",
    "conduit-onnx": ROOT / "plugins" / "conduit-onnx",
    "conduit-otel": ROOT / "plugins" / "conduit-otel",
    "conduit-router": ROOT / "plugins" / "conduit-router",
    "conduit-vector": ROOT / "plugins" / "conduit-vector",
}
PLUGINS = {"mcp", "onnx", "otel", "router", "vector"}


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


def _clean_env() -> dict[str, str]:
    """The environment without the test suite's plugin allowlists and the dev venv's paths."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDUIT_")}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """Build every wheel, then install `conduit[all]` from them into a fresh venv."""
    tmp = tmp_path_factory.mktemp("packaging")
    dist = tmp / "dist"
    # Building in isolation downloads hatchling once per project; the dev venv has it already.
    isolation = (
        [] if importlib.util.find_spec("hatchling") is None else ["--no-isolation"]
    )
    for project in PROJECTS.values():
        _run(
            [
                sys.executable,
                "-m",
                "build",
                "--wheel",
                *isolation,
                "--outdir",
                str(dist),
                str(project),
            ]
        )
    wheels: dict[str, Path] = {}
    for whl in dist.glob("*.whl"):
        wheels[whl.name.split("-")[0].replace("_", "-")] = whl
    assert set(wheels) == set(PROJECTS), sorted(wheels)

    constraints = tmp / "constraints.txt"
    constraints.write_text(
        "".join(f"{name} @ {whl.as_uri()}\n" for name, whl in wheels.items())
    )

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # This interpreter's pip installs into the fresh venv (`--python`); the user's pip
    # configuration, index and cache apply as they would for them.
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--constraint",
            str(constraints),
            "conduit[all]",
        ],
        env=_clean_env(),
    )
    return venv, wheels


def _site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python*/site-packages")
    return site


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_conduit_distribution_comes_from_the_built_wheels(
    installed: tuple[Path, dict[str, Path]],
) -> None:
    venv, wheels = installed
    site = _site_packages(venv)
    found = {
        p.name.split("-")[0].replace("_", "-").lower(): p
        for p in site.glob("*.dist-info")
        if p.name.lower().startswith("conduit")
    }
    # Nothing named conduit* beyond our six: the index's unrelated projects never came in.
    assert set(found) == set(wheels)
    for name, whl in wheels.items():
        info = found[name]
        direct = json.loads((info / "direct_url.json").read_text())
        assert direct["url"] == whl.as_uri(), name
        assert direct["archive_info"]["hashes"]["sha256"] == _sha256(whl), name
        # Every file the wheel's RECORD lists is installed with the recorded content.
        with zipfile.ZipFile(whl) as zf:
            record_name = next(
                n for n in zf.namelist() if n.endswith(".dist-info/RECORD")
            )
            rows = list(csv.reader(zf.read(record_name).decode().splitlines()))
        for path, digest, _size in rows:
            if not digest:
                continue
            algo, _, expected = digest.partition("=")
            data = (site / path).read_bytes()
            actual = (
                base64.urlsafe_b64encode(hashlib.new(algo, data).digest())
                .rstrip(b"=")
                .decode()
            )
            assert actual == expected, f"{name}: {path} differs from the built wheel"


def test_conduit_plugins_lists_all_five_enabled(
    installed: tuple[Path, dict[str, Path]],
) -> None:
    venv, _ = installed
    site = _site_packages(venv)
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import conduit; print(conduit.__file__)"],
        env=_clean_env(),
        cwd=venv,
    ).stdout.strip()
    assert Path(where).is_relative_to(site), where

    out = _run(
        [str(venv / "bin" / "conduit"), "plugins", "--json"], env=_clean_env(), cwd=venv
    ).stdout
    plugins = {p["name"]: p for p in json.loads(out) if not p["builtin"]}
    assert set(plugins) == PLUGINS
    for name, info in plugins.items():
        assert info["enabled"] is True, info
        assert info["error"] is None, info
        assert info["distribution"] == f"conduit-{name}"
        assert info["version"] == "0.1.0"
        assert info["hooks"], info
