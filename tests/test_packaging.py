"""Conduit installed as its users install it: a fresh clone, a fresh venv, `pip install ".[all]"`.

The repository is copied as a clone holds it (the files git tracks plus the new ones it does not
ignore: a fresh clone once they are committed), into a temporary folder. A virtual environment
made there with `python -m venv` and its own pip runs exactly `pip install ".[all]"` in that
folder, under the user's ordinary pip configuration: no constraints file, no extra options.

The package index holds unrelated projects named `conduit` and `conduit-mcp`. The test proves
that every conduit* distribution installed is one of Conduit's six and came from the clone (its
PEP 610 `direct_url.json` names the clone's folder), and that `conduit plugins` lists the five
plugins. A second venv installs `".[router]"` alone, then runs the command that Conduit's own
error message prints to add the MCP plugin; a third shows that a plugin folder installed alone
does not take the index's `conduit`. Last, the kernel's wheel is built as docs/deployment.md says
a release for Conduit's own index is, and its metadata read.

It needs the package index (or pip's cache) for the third-party dependencies (chromadb,
onnxruntime, OpenTelemetry…) and takes one to three minutes with a warm pip cache.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = {"mcp", "onnx", "otel", "router", "vector"}
#: Each of Conduit's distributions and its folder in the repository.
FOLDERS = {"conduit": ".", **{f"conduit-{name}": f"plugins/conduit-{name}" for name in PLUGINS}}

# Run inside a venv: every installed distribution whose name starts with "conduit", with its
# direct_url.json (PEP 610) when pip wrote one.
_LIST_CONDUIT_DISTRIBUTIONS = """
import json, re, importlib.metadata as m
found = {}
for dist in m.distributions():
    name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    if name.startswith("conduit"):
        direct = dist.read_text("direct_url.json")
        found[name] = {"version": dist.version, "direct_url": json.loads(direct) if direct else None}
print(json.dumps(found))
"""


def _run(cmd: list[str], *, expect: int | None = 0, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, **kwargs)
    if expect is not None:
        assert proc.returncode == expect, (
            f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def _user_env() -> dict[str, str]:
    """The user's environment (pip's configuration included) without this test run's: no plugin
    allowlists, no dev venv on the paths."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDUIT_")}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    return env


def _clone(dest: Path) -> Path:
    """The repository as a clone holds it: tracked files and new ones git does not ignore."""
    listed = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).stdout.split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():  # a tracked file deleted in the work tree is not in the clone
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def _venv(path: Path) -> Path:
    _run([sys.executable, "-m", "venv", str(path)])
    return path


def _pip_install(venv: Path, *args: str, cwd: Path, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    return _run([str(venv / "bin" / "pip"), "install", *args], cwd=cwd, env=_user_env(), expect=expect)


def _conduit_distributions(venv: Path, cwd: Path) -> dict[str, dict[str, Any]]:
    out = _run([str(venv / "bin" / "python"), "-c", _LIST_CONDUIT_DISTRIBUTIONS], cwd=cwd, env=_user_env())
    return json.loads(out.stdout)


def _assert_from_the_clone(found: dict[str, dict[str, Any]], names: set[str], clone: Path) -> None:
    # Nothing named conduit* beyond these: the index's unrelated projects never came in.
    assert set(found) == names, sorted(found)
    for name in names:
        direct = found[name]["direct_url"]
        assert direct is not None, f"{name} came from an index, not from the clone"
        assert direct["url"] == (clone / FOLDERS[name]).resolve().as_uri(), (name, direct)
        assert "dir_info" in direct and not direct["dir_info"].get("editable"), (name, direct)
        assert found[name]["version"] == "0.1.0", (name, found[name])


def _named(value: Any) -> Iterator[dict[str, Any]]:
    """Every object with a "name" in `conduit plugins --json`'s output, however it is nested."""
    if isinstance(value, dict):
        if "name" in value:
            yield value
        for item in value.values():
            yield from _named(item)
    elif isinstance(value, list):
        for item in value:
            yield from _named(item)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _clone(tmp_path_factory.mktemp("packaging") / "conduit")


def test_pip_install_all_from_a_clone_installs_conduit_and_its_five_plugins_from_it(
    clone: Path, tmp_path: Path
) -> None:
    venv = _venv(tmp_path / "venv")
    _pip_install(venv, ".[all]", cwd=clone)

    _assert_from_the_clone(_conduit_distributions(venv, tmp_path), set(FOLDERS), clone)
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import conduit; print(conduit.__file__)"], cwd=tmp_path, env=_user_env()
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where  # the installed copy, not the clone's source

    out = _run([str(venv / "bin" / "conduit"), "plugins", "--json"], cwd=tmp_path, env=_user_env()).stdout
    listed = {entry["name"]: entry for entry in _named(json.loads(out))}
    assert PLUGINS <= set(listed), sorted(listed)
    for name in PLUGINS:
        assert not listed[name].get("error"), listed[name]
        assert listed[name]["installed"] and not listed[name]["enabled"], listed[name]

    _a_plain_app_serves_its_own_routes_until_enabled_and_keyed(venv, tmp_path)


PLAIN_APP = """
from conduit import Conduit

app = Conduit()


@app.get("/")
def index(request):
    return {"mine": True}
"""


def _a_plain_app_serves_its_own_routes_until_enabled_and_keyed(venv: Path, where: Path) -> None:
    """In the user's venv, over a real socket: installing added no route; enabling the router in
    configuration adds its /v1 routes; configured keys guard them."""
    import socket
    import time

    import httpx

    (where / "plain.py").write_text(PLAIN_APP)
    conduit = str(venv / "bin" / "conduit")
    routes = _run([conduit, "routes", "plain:app"], cwd=where, env=_user_env()).stdout
    assert "/v1/chat/completions" not in routes and "/v1/route" not in routes and "/mcp" not in routes, routes
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**_user_env(), "CONDUIT_PLUGINS": "router", "CONDUIT_API_KEYS": "k-user", "CONDUIT_ROUTER_HISTORY": "none"}
    base = f"http://127.0.0.1:{port}"
    with subprocess.Popen([conduit, "run", "plain:app", "--host", "127.0.0.1", "--port", str(port)], cwd=where,
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as server:
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health/live").status_code == 200:
                        break
                except httpx.TransportError:
                    assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.2)
            assert httpx.post(f"{base}/v1/chat/completions", json={}).status_code == 401
            assert httpx.get(f"{base}/").status_code == 401
            assert httpx.get(f"{base}/v1/models", headers={"X-API-Key": "k-user"}).status_code == 200
            assert httpx.get(f"{base}/", headers={"Authorization": "Bearer k-user"}).json() == {"mine": True}
        finally:
            server.terminate()
            _, errors = server.communicate(timeout=60)
        assert server.returncode == 0, errors


def test_one_extra_brings_one_plugin_and_the_error_message_command_adds_another(
    clone: Path, tmp_path: Path
) -> None:
    venv = _venv(tmp_path / "venv")
    _pip_install(venv, ".[router]", cwd=clone)
    _assert_from_the_clone(_conduit_distributions(venv, tmp_path), {"conduit", "conduit-router"}, clone)

    # Without conduit-mcp, the facade's error names the command that installs it here.
    python = str(venv / "bin" / "python")
    failed = _run([python, "-c", "from conduit.mcp import MCPServer"], cwd=tmp_path, env=_user_env(), expect=1)
    match = re.search(r"install it with `(pip install [^`]+)`", failed.stderr)
    assert match, failed.stderr
    command = shlex.split(match.group(1))
    assert command[:2] == ["pip", "install"] and command[-1] == f"{clone.resolve()}[mcp]", command
    _pip_install(venv, *command[2:], cwd=tmp_path)
    _assert_from_the_clone(
        _conduit_distributions(venv, tmp_path), {"conduit", "conduit-router", "conduit-mcp"}, clone
    )


def test_a_plugin_folder_installed_alone_does_not_take_the_index_conduit(clone: Path, tmp_path: Path) -> None:
    venv = _venv(tmp_path / "venv")
    # The plugin needs conduit~=0.1.0, which only the clone's kernel provides: the index's
    # `conduit` (0.0.x, 0.999, 1.x) does not match, so pip stops instead of installing it.
    result = _pip_install(venv, str(clone / "plugins" / "conduit-router"), cwd=tmp_path, expect=None)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "conduit~=0.1.0" in result.stderr, result.stderr[-2000:]
    assert _conduit_distributions(venv, tmp_path) == {}


def _wheel_requirements(clone: Path, outdir: Path, env: dict[str, str]) -> list[str]:
    """The kernel's ``Requires-Dist`` lines for its plugins, from a wheel built from the clone."""
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(clone)], env=env)
    (wheel,) = outdir.glob("conduit-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read("conduit-0.1.0.dist-info/METADATA").decode()
    return sorted(line for line in text.splitlines() if line.startswith("Requires-Dist: conduit-"))


def test_a_release_build_pins_the_plugins_where_a_clone_build_names_their_folders(
    clone: Path, tmp_path: Path
) -> None:
    env = _user_env()
    from_clone = _wheel_requirements(clone, tmp_path / "clone", env)
    released = _wheel_requirements(clone, tmp_path / "release", {**env, "CONDUIT_RELEASE_PIN": "==0.1.0"})
    extras = [(name, extra) for name in sorted(PLUGINS) for extra in ("all", name)]
    assert from_clone == sorted(
        f"Requires-Dist: conduit-{name} @ {(clone / 'plugins' / f'conduit-{name}').resolve().as_uri()} ; "
        f"extra == '{extra}'"
        for name, extra in extras
    )
    assert released == sorted(f"Requires-Dist: conduit-{name}==0.1.0; extra == '{extra}'" for name, extra in extras)
