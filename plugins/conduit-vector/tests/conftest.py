"""Fixtures: plugin managers with and without an embedder, the real MiniLM embedder, and a
real Chroma server started on a free port on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pluggy
import pytest

from conduit.config import load_settings
from conduit.plugins import activated, create_plugin_manager, reset_default_plugin_manager
from conduit.testing import free_port, wait_until_serving


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CONDUIT_* variable from the caller changes where a test's store lives."""
    for name in ("CONDUIT_PLUGINS", "CONDUIT_DISABLED_PLUGINS", "CONDUIT_VECTOR_PATH", "CONDUIT_VECTOR_URL"):
        monkeypatch.delenv(name, raising=False)


def _install(plugins: list[str], disabled: list[str] = ()) -> Iterator[pluggy.PluginManager]:
    pm = create_plugin_manager(load_settings({"plugins": plugins, "disabled_plugins": list(disabled)},
                                             environ={}, files=[]))
    reset_default_plugin_manager(pm)
    with activated(pm):  # as a running app's manager is: facades and span() reach it
        yield pm
    reset_default_plugin_manager(None)


@pytest.fixture
def vector_pm() -> Iterator[pluggy.PluginManager]:
    """The process-wide manager with conduit-vector and conduit-onnx (the embedder) enabled."""
    yield from _install(["vector", "onnx"])


@pytest.fixture
def vector_only_pm() -> Iterator[pluggy.PluginManager]:
    """The process-wide manager with conduit-vector but no embedder plugin (onnx disabled)."""
    yield from _install(["vector"], disabled=["onnx"])


@pytest.fixture(scope="session")
def minilm() -> Any:
    """conduit-onnx's offline all-MiniLM-L6-v2 embedder (384-d, L2-normalised)."""
    embedder_module = pytest.importorskip("conduit_onnx.embedder", reason="conduit-onnx is not installed")
    return embedder_module.default_embedder()


def _chroma_cli() -> str | None:
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.exists() else shutil.which("chroma")


class ChromaServer:
    """A `chroma run` process on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        cli = _chroma_cli()
        if cli is None:
            pytest.skip("the `chroma` CLI (shipped with chromadb) is not on PATH nor beside the interpreter")
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (folder.parent / f"chroma-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [cli, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_serving(f"{self.url}/api/v2/heartbeat", process=self.process, timeout=30)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            pytest.fail(f"chroma run did not start on port {self.port}: {exc} (log: {self.log.name})")

    def stop(self) -> None:
        if self.log.closed:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()


@pytest.fixture
def start_chroma() -> Iterator[Callable[[Path], ChromaServer]]:
    """Start more Chroma servers (each stopped after the test): ``start_chroma(folder)``."""
    started: list[ChromaServer] = []

    def start(folder: Path) -> ChromaServer:
        started.append(ChromaServer(folder))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    return free_port()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data")
    yield server
    server.stop()
