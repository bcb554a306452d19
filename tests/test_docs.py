"""The guides' Python examples run, so the docs cannot rot.

Convention: every fenced block whose info string is exactly ``python`` in the pages below is
executed, each in a fresh module, with ``__name__`` not ``"__main__"`` (so an ``if __name__ ==
"__main__": app.run()`` guard is skipped). A block that cannot run on its own (a fragment,
or one that serves forever) is marked by the line ``<!-- docs: no-run -->`` right above its
fence. ``Conduit.run`` is replaced while a block runs, so a block that would serve forever
fails at once with a message pointing here instead of hanging.

The kernel's conftest sets ``CONDUIT_PLUGINS=""``, so the examples see no entry-point plugins.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from conduit import Conduit

DOCS = Path(__file__).resolve().parents[1] / "docs"
# Pages that must keep runnable examples; the production guides' examples run when they have any.
REQUIRED = ["getting-started.md", "http.md", "middleware.md", "errors.md", "openapi.md"]
PAGES = [
    *REQUIRED,
    *(f"production/{p.name}" for p in sorted((DOCS / "production").glob("*.md"))),
]
SKIP_MARK = "<!-- docs: no-run -->"
_FENCE = re.compile(r"^```python\n(.*?)^```\n", re.S | re.M)


def _blocks(page: str) -> list[tuple[int, str]]:
    """``(line, source)`` of every runnable python block of ``page``."""
    path = DOCS / page
    text = path.read_text(encoding="utf-8") if path.is_file() else ""  # a missing page fails below
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        if before == SKIP_MARK:
            continue
        found.append((text.count("\n", 0, match.start()) + 1, match.group(1)))
    return found


CASES = [pytest.param(page, line, source, id=f"{page}:{line}") for page in PAGES for line, source in _blocks(page)]


def test_every_page_has_runnable_examples() -> None:
    counts = {page: len(_blocks(page)) for page in REQUIRED}
    assert all(counts.values()), f"a page lost its runnable examples: {counts}"


@pytest.mark.parametrize(("page", "line", "source"), CASES)
def test_doc_example_runs(page: str, line: int, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_serving(self: Conduit, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"docs/{page}:{line} calls app.run(); mark the block with {SKIP_MARK}")

    monkeypatch.setattr(Conduit, "run", no_serving)
    name = f"docs_example_{re.sub(r'[^a-z0-9]', '_', page)}_{line}"
    module = types.ModuleType(name)
    module.__file__ = str(DOCS / page)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses and typing look modules up
    code = compile(source, f"docs/{page}:{line}", "exec")
    exec(code, module.__dict__)  # noqa: S102 - running our own documentation is the point


def test_readme_example_imports_without_serving(tmp_path: Path) -> None:
    """README's example saved as myapp.py: ``conduit routes myapp:app`` imports it, lists its
    routes and returns, rather than the import serving until Ctrl+C (``app.run()`` unguarded)."""
    import os
    import subprocess

    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Example\n", 1)[1].split("\n## ", 1)[0]
    blocks = _FENCE.findall(section)
    assert len(blocks) == 1, "README's Example section holds one python block"
    (tmp_path / "myapp.py").write_text(blocks[0], encoding="utf-8")
    env = {**os.environ, "CONDUIT_PLUGINS": "", "PYTHONUNBUFFERED": "1"}
    lines: list[str] = []
    with subprocess.Popen([sys.executable, "-m", "conduit.cli", "routes", "myapp:app"], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # until it exits, or until it says it is serving
                lines.append(line)
                assert "Press Ctrl+C" not in line, "importing README's example started a server:\n" + "".join(lines)
            assert proc.wait(timeout=30) == 0, "".join(lines)
        finally:
            if proc.poll() is None:
                proc.kill()
    out = "".join(lines)
    assert "/users/{user_id:int}" in out and "POST" in out, out
