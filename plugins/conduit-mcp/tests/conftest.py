"""Shared fixtures: anyio on asyncio, the demo and conformance servers in process or over stdio."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def demo_command() -> list[str]:
    """argv that runs tests/demo_server.py as a stdio MCP server."""
    return [sys.executable, str(TESTS / "demo_server.py")]


def _load(module: str, filename: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module, TESTS / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def demo() -> ModuleType:
    """tests/demo_server.py imported in this process (for the HTTP tests)."""
    return _load("conduit_mcp_demo_server", "demo_server.py")


@pytest.fixture(scope="session")
def conformance() -> ModuleType:
    """tests/conformance_server.py imported in this process."""
    return _load("conduit_mcp_conformance_server", "conformance_server.py")
