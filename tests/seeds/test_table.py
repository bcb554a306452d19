"""docs/seeds.md has a row for every public name the five seeds use, and every row checks out.

Which names a seed uses is decided by the extraction rules in ``tests/seeds/samples.py``
(its module docstring): every import in a python code block, every capitalised or bare call
that is not Python's or the sample's own, every ``receiver.method(`` call on a Conduit object,
every API name a heading or the prose documents (``#### `get_header(...)```, ``### CircuitBreaker``,
`` `SearchResult` ``), every environment variable of a shell block or backticked in prose, and
every endpoint (``GET /v1/metrics``, `` `/health/live` ``, ``curl`` targets the samples don't route
themselves). A row covers a name when its seed-name cell holds it (an import also needs the same
module in the seed-import cell).

Every row is then checked: its ``from M import N`` imports (importlib) and each ``N.attr``
exists; its ``METHOD /path`` is routed by an app with every installed plugin enabled and the
docs on; its setting is in the kernel's or a plugin's schema; an env-variable row's variable is a
``SEED_VARIABLES`` alias of its setting or a string in the module that reads it; a row with no
Conduit import says missing / not used / not applicable.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from conduit import Conduit

from .samples import DOCUMENTS, SEEDS, Row, SeedName, missing_rows, row_problems, seed_names, table_rows

ORIGINALS = Path("/work/shared/seeds")


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return table_rows()


@pytest.fixture(scope="module")
def surface() -> tuple[set[str], set[tuple[str, str]]]:
    """(every setting, every (method, path) route) of an app with every plugin enabled."""
    mp = pytest.MonkeyPatch()
    mp.delenv("CONDUIT_DISABLED_PLUGINS", raising=False)
    try:
        app = Conduit(plugins=["*"], router_history="none", router_embedder="hash")
        app.enable_docs()
        app.prepare()
        settings = set(app.settings.values)
        routes = {(method, route.path) for route in app.router.routes for method in route.methods}
    finally:
        mp.undo()
    return settings, routes


def test_the_seed_copies_are_the_seeds() -> None:
    """tests/seeds/documents/ holds the five seeds unchanged (checked where the originals are)."""
    assert sorted(p.name[:3] for p in DOCUMENTS.glob("*.txt")) == list(SEEDS)
    if not ORIGINALS.is_dir():
        pytest.skip(f"{ORIGINALS} is not on this machine")
    for copy in DOCUMENTS.glob("*.txt"):
        assert filecmp.cmp(copy, ORIGINALS / copy.name, shallow=False), f"{copy.name} differs from the seed"


def test_the_extraction_finds_the_names_the_seeds_are_known_for() -> None:
    """A guard on the rules themselves: names each rule must find (if one silently found
    nothing, the completeness test below would pass vacuously)."""
    found = {seed: {(n.kind, n.name) for n in seed_names(seed)} for seed in SEEDS}
    assert {("import", "Conduit"), ("method", "app.get"), ("documented", "SearchResult"),
            ("documented", "ForbiddenError"), ("env", "CODON_PATH"), ("endpoint", "GET /docs"),
            ("method", "res.write"), ("documented", "get_stage_count")} <= found["000"]
    assert {("env", "API_REQUIRE_AUTH"), ("endpoint", "/health/ready"), ("call", "setup_telemetry")} <= found["001"]
    assert {("import", "ChatbotWrapper"), ("method", "wrapper.chat"), ("env", "DEFAULT_RATE_LIMIT")} <= found["002"]
    assert {("import", "MetricsCollector"), ("documented", "CacheError"), ("method", "metrics.record_memory_usage"),
            ("endpoint", "GET /v1/metrics")} <= found["003"]
    assert {("import", "Router"), ("import", "Query"), ("method", "router.route"), ("env", "DATABASE_URL")} <= found["004"]
    # Not API: the standard library, the sample's own functions, plain dicts.
    every = {name for names in found.values() for _, name in names}
    assert not {"time.time", "asyncio.run", "data.get", "check_database", "print", "logger.error"} & every


@pytest.mark.parametrize("seed", SEEDS)
def test_every_name_the_seed_uses_has_a_row(seed: str, rows: list[Row]) -> None:
    missing = missing_rows(rows, seed)
    assert not missing, f"docs/seeds.md's Seed {seed} table has no row for:\n  " + "\n  ".join(map(str, missing))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_row_imports_and_names_what_exists(seed: str, rows: list[Row], surface) -> None:
    settings, routes = surface
    mine = [r for r in rows if r.seed == seed]
    assert mine, f"docs/seeds.md has no Seed {seed} table"
    problems = [p for row in mine for p in row_problems(row, settings, routes)]
    assert not problems, "\n".join(problems)


def test_the_checks_fail_on_a_removed_row_and_a_wrong_import(surface) -> None:
    """The checks above, run on an edited copy of docs/seeds.md, catch the edits."""
    from .samples import TABLE

    settings, routes = surface
    text = TABLE.read_text(encoding="utf-8")
    row = next(line for line in text.split("\n") if line.startswith("| `ErrorHandler` |"))
    without = table_rows(text.replace(row + "\n", ""))
    assert SeedName("import", "ErrorHandler", 217, "lib.error_handler") in missing_rows(without, "003")

    wrong = table_rows(text.replace("`from conduit.framework.error_handler import ErrorHandler` |",
                                    "`from conduit.framework.errors import ErrorHandler` |"))
    (broken,) = [r for r in wrong if r.seed == "003" and r.names == ("ErrorHandler",)]
    assert row_problems(broken, settings, routes) == [
        f"docs/seeds.md:{broken.line} (ErrorHandler): `from conduit.framework.errors import ErrorHandler` fails: "
        "ImportError: cannot import name 'ErrorHandler' from 'conduit.framework.errors'"
    ]
    attribute = table_rows(text.replace("`ErrorHandler.handle_oom_error`", "`ErrorHandler.handle_oom`"))
    (broken,) = [r for r in attribute if r.seed == "003" and r.names == ("handler.handle_oom_error",)]
    assert "has no attribute 'handle_oom'" in row_problems(broken, settings, routes)[0]
    route = table_rows(text.replace("| — | `GET /v1/metrics` |", "| — | `GET /v1/metricz` |"))
    (broken,) = [r for r in route if r.seed == "003" and r.names == ("GET /v1/metrics",)]
    assert "no route GET /v1/metricz" in row_problems(broken, settings, routes)[0]
    env = table_rows(text.replace("| `router_max_retries` |", "| `router_max_retry` |"))
    (broken,) = [r for r in env if r.seed == "002" and r.names == ("MAX_RETRIES",)]
    assert "no setting 'router_max_retry'" in row_problems(broken, settings, routes)[0]
