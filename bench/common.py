"""Helpers the benchmark scripts share: a free port, and writing a script's section of docs/benchmarks.md."""

from __future__ import annotations

import shlex
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "docs" / "benchmarks.md"

__all__ = ["BENCHMARKS", "ROOT", "command_line", "free_port", "publish", "write_section"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_section(text: str, start: str, end: str, doc: Path = BENCHMARKS) -> None:
    """Replace the section between the markers ``start`` and ``end`` (``text`` carries them),
    or append it at the end. The file is read right before writing: other scripts write other
    sections."""
    body = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if start in body and end in body:
        head, rest = body.split(start, 1)
        body = head + text.rstrip("\n") + rest.split(end, 1)[1]
    else:
        body = body.rstrip("\n") + "\n\n" + text
    doc.write_text(body)


def command_line(script: str, argv: Sequence[str] | None = None) -> str:
    """The command that ran ``script`` (``bench/...py``) with ``argv`` (the process's own by
    default), as a reader would type it: what a section says produced its figures."""
    args = sys.argv[1:] if argv is None else argv
    return f"python {script}" + "".join(" " + shlex.quote(a) for a in args)


def publish(section: str, start: str, end: str, *, no_write: bool) -> None:
    """Print ``section`` (``--no-write``) or write it into docs/benchmarks.md."""
    if no_write:
        print(section)
    else:
        write_section(section, start, end)
        print("wrote docs/benchmarks.md")
