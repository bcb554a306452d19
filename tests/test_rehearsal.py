"""The multi-host rehearsal (bench/scaleout/rehearsal.py), small: two instances of the showcase
with two workers each behind Debian's nginx, sharing Redis, a Chroma server and an OTLP
receiver, driven by wrk and the official openai and mcp clients while one instance is killed
with SIGKILL and started again. The script exits 1 when a shared-state check fails or an
openai or MCP call is lost; docs/benchmarks.md holds the full-size run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def test_two_instances_behind_nginx_share_state_and_lose_no_call_when_one_is_killed() -> None:
    missing = [tool for tool, found in (("nginx", Path(NGINX).exists()), ("wrk", shutil.which("wrk")),
                                        ("redis-server", shutil.which("redis-server"))) if not found]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/install-dev installs nginx and wrk as root)")
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scaleout" / "rehearsal.py"), "--no-write", "--duration", "9",
         "--connections", "2", "--sessions", "2", "--limit", "3", "--docs", "docs/cli.md"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "instance B killed at" in out
    table = out[out.index("| client |"):]
    for row in ("| rate limit, before the load", "| rate limit, after B's restart", "| response cache",
                "| metrics:", "| router learning", "| spending limit"):
        line = next(line for line in table.splitlines() if line.startswith(row))
        assert line.endswith("| yes |"), line
