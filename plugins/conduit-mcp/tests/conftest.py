"""Shared fixtures: anyio on asyncio, and how to start the demo server over stdio."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def demo_command() -> list[str]:
    """argv that runs tests/demo_server.py as a stdio MCP server."""
    return [sys.executable, str(TESTS / "demo_server.py")]
