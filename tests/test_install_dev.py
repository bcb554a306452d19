"""scripts/install-dev's Chromium step (scripts/install-chromium) with a fake apt-get.

The scripts run from a copy of scripts/ with fakes first on PATH: ``apt-get`` answers as apt
does when another install holds its lock, ``id -u`` says root, and ``python3`` (the next step,
``python3 -m venv .venv``) records that the set-up went on, then stops it there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FAKE_APT_GET = r"""#!/usr/bin/env bash
# Records its arguments; fails as a held lock does for the subcommand in $FAKE_APT_LOCKED,
# $FAKE_APT_TIMES times (every time when unset).
echo "apt-get $*" >> "$FAKE_LOG"
for arg in "$@"; do case $arg in update|install) sub=$arg;; esac; done
count_file="$FAKE_LOG.$sub"
n=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$count_file"
if [ "$sub" = "$FAKE_APT_LOCKED" ] && { [ -z "${FAKE_APT_TIMES:-}" ] || [ "$n" -le "$FAKE_APT_TIMES" ]; }; then
  if [ "$sub" = update ]; then
    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
    echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
  else
    echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2
    echo "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?" >&2
  fi
  exit 100
fi
exit 0
"""
FAKE_ID = """#!/usr/bin/env bash
[ "$1" = -u ] && echo 0 || exec /usr/bin/id "$@"
"""
FAKE_PYTHON3 = """#!/usr/bin/env bash
echo "python3 $*" >> "$FAKE_LOG"
exit 7
"""


def _install_dev(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run a copy of scripts/install-dev with the fakes; its result and the fakes' log."""
    if shutil.which("bash") is None:
        pytest.skip("the scripts are bash scripts")
    shutil.copytree(REPO / "scripts", tmp_path / "repo" / "scripts")
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name, text in (("apt-get", FAKE_APT_GET), ("id", FAKE_ID), ("python3", FAKE_PYTHON3)):
        (fakes / name).write_text(text)
        (fakes / name).chmod(0o755)
    log = tmp_path / "calls.log"
    environ = {**os.environ, "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}", "FAKE_LOG": str(log),
               "CHROMIUM": str(tmp_path / "no-chromium"), "CHROMEDRIVER": str(tmp_path / "no-chromedriver"), **env}
    result = subprocess.run([str(tmp_path / "repo" / "scripts" / "install-dev")], env=environ, capture_output=True,
                            text=True, timeout=60)
    return result, log.read_text() if log.exists() else ""


@pytest.mark.parametrize("locked", ["update", "install"])
def test_install_dev_goes_on_without_chromium_when_apt_stays_locked(tmp_path: Path, locked: str) -> None:
    result, calls = _install_dev(tmp_path, FAKE_APT_LOCKED=locked, INSTALL_DEV_APT_WAIT="0")
    assert "python3 -m venv .venv" in calls, result.stderr  # the set-up went on to its next step
    assert result.returncode == 7, result.stderr  # the fake python3's status: set -e still stops on a failure
    assert "Could not get lock" in result.stderr
    assert "going on without Chromium" in result.stderr and "tests/test_docs_ui.py" in result.stderr
    assert "tests/examples/test_showcase.py" in result.stderr
    assert "-o DPkg::Lock::Timeout=0" in calls


def test_install_dev_waits_for_the_lock_then_installs_chromium(tmp_path: Path) -> None:
    result, calls = _install_dev(tmp_path, FAKE_APT_LOCKED="update", FAKE_APT_TIMES="1", INSTALL_DEV_APT_WAIT="30")
    apt = [line for line in calls.splitlines() if line.startswith("apt-get")]
    assert len([line for line in apt if " update" in line]) == 2, calls  # locked once, then retried
    assert "apt-get -o DPkg::Lock::Timeout=30 install -y -q chromium chromium-driver" in apt, calls
    assert "going on without Chromium" not in result.stderr and "python3 -m venv .venv" in calls
