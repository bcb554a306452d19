"""Meta-tests (datasette's rule): no hook ships undocumented, and none without a test using it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from conduit import hookspecs

REPO = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("conduit_"))


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_hooks_reference(hook: str) -> None:
    reference = (REPO / "docs" / "hooks.md").read_text()
    assert re.search(rf"^### {hook}$", reference, re.M), f"docs/hooks.md has no '### {hook}' section"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_exercised_by_some_test(hook: str) -> None:
    """A test implements the hook, or a plugin implements it and its tests are beside it."""
    me = Path(__file__).resolve()
    places = [*REPO.glob("tests/**/*.py"), *REPO.glob("plugins/*/tests/**/*.py"), *REPO.glob("examples/**/*.py")]
    plugin_sources = {p.parts[-4]: p for p in REPO.glob("plugins/*/src/*/plugin.py")}
    in_tests = any(hook in p.read_text() for p in places if p != me)
    in_tested_plugin = any(hook in p.read_text() and any((REPO / "plugins" / name / "tests").glob("test_*.py")) for name, p in plugin_sources.items())
    assert in_tests or in_tested_plugin, f"no test, example or tested plugin implements or calls {hook}"
