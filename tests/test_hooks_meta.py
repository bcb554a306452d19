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


def _imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for every import in ``path`` (name is ``""`` for ``import module``)."""
    import ast

    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, "") for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend((node.module, alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize("plugin", sorted(p.name for p in (REPO / "plugins").iterdir() if (p / "src").is_dir()))
def test_a_plugin_imports_no_other_plugin_and_no_private_kernel_name(plugin: str) -> None:
    """Plugins meet each other only through hooks and the kernel's public names (CONVENTIONS)."""
    others = {p.name.replace("-", "_") for p in (REPO / "plugins").iterdir() if p.name != plugin}
    problems = []
    for source in sorted((REPO / "plugins" / plugin / "src").rglob("*.py")):
        for module, name in _imports(source):
            top = module.partition(".")[0]
            where = source.relative_to(REPO)
            if top in others:
                problems.append(f"{where}: imports {module}")
            if top == "conduit" and (any(part.startswith("_") for part in module.split(".")) or name.startswith("_")):
                problems.append(f"{where}: imports {module}{'.' + name if name else ''} (private)")
    assert problems == []
