"""The official MCP conformance suite (``@modelcontextprotocol/conformance``, Node 22)
against tests/conformance_server.py on a live Conduit server.

It runs from the npm cache only (``npx --offline``): the test never downloads. Where
npx, Node 22 or the suite's package is not cached it skips, saying how to cache them:

    npx -y -p node@22 -p @modelcontextprotocol/conformance@0.1.16 -- conformance list
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from types import ModuleType

import pytest

from conduit import Conduit
from conduit.testing import LiveServer
from conduit_mcp.http import mount_mcp

pytestmark = pytest.mark.slow

SUITE = "@modelcontextprotocol/conformance@0.1.16"
NPX = ["npx", "--offline", "-y", "-p", "node@22", "-p", SUITE, "--", "conformance"]
CACHE_HINT = f"cache them once with: npx -y -p node@22 -p {SUITE} -- conformance list"


def _suite_available() -> str | None:
    """None when the suite runs offline, else why it cannot."""
    if shutil.which("npx") is None:
        return f"npx is not installed (Node.js); install Node.js, then {CACHE_HINT}"
    try:
        probe = subprocess.run([*NPX, "list"], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return f"npx did not answer within 120 s; {CACHE_HINT}"
    if probe.returncode != 0 or "server-initialize" not in probe.stdout:
        return f"Node 22 or {SUITE} is not in the npm cache; {CACHE_HINT}"
    return None


@pytest.fixture(scope="module")
def url(conformance: ModuleType) -> Iterator[str]:
    why = _suite_available()
    if why is not None:
        pytest.skip(why)
    app = Conduit()
    mount_mcp(app, "/mcp", conformance.server)
    with LiveServer(app) as live:
        yield live.url + "/mcp"


@pytest.mark.timeout(600)
def test_every_server_scenario_of_the_official_suite_passes(url: str) -> None:
    run = subprocess.run([*NPX, "server", "--url", url, "--suite", "all"],
                         capture_output=True, text=True, timeout=540)
    summary = run.stdout[run.stdout.rfind("=== SUMMARY ==="):]
    passed = re.findall(r"^✓ (\S+):", summary, re.MULTILINE)
    failed = re.findall(r"^✗ (\S+):.*$", summary, re.MULTILINE)
    assert failed == [], summary
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert len(passed) == 32, summary
    assert {"tools-call-sampling", "tools-call-elicitation", "server-sse-polling", "completion-complete",
            "resources-subscribe", "json-schema-2020-12", "dns-rebinding-protection"} <= set(passed)
