"""Kernel tests run without the entry-point plugins installed beside the kernel."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_entry_point_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """An app built in a kernel test loads only built-ins unless the test says otherwise:
    no installed plugin is enabled, nor even loaded (``*`` blocks them all)."""
    monkeypatch.setenv("CONDUIT_PLUGINS", "")
    monkeypatch.setenv("CONDUIT_DISABLED_PLUGINS", "*")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed plugin ``broken`` (distribution broken-plugin 1.0) whose import raises."""
    import importlib

    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[conduit]\nbroken = broken_plugin_mod\n")
    (tmp_path / "broken_plugin_mod.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return "broken"
