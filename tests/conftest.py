"""Kernel tests run without the entry-point plugins installed beside the kernel."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_entry_point_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """An app built in a kernel test loads only built-ins unless the test says otherwise."""
    monkeypatch.setenv("CONDUIT_PLUGINS", "")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
