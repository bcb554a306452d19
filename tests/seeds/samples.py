"""The seed documents, their code samples, the public names they use, and docs/seeds.md.

The five seeds (``tests/seeds/documents/``, copies of the documents Conduit was created from)
are read here so the seed tests can (1) check that docs/seeds.md has a row for every public name
a seed uses, (2) check that every row's Conduit import works, and (3) run a seed's code samples
with only their import lines changed, as docs/seeds.md says.

Which names a seed "uses" (:func:`seed_names`) is decided by these rules, applied to the seed's
text; each found name carries the rule and the seed line that gave it:

``import``
    every name of every ``from X import a, b`` / ``import X`` in a ``python`` code block
    (standard-library modules excepted: ``time``, ``asyncio``, ...).
``call``
    every ``Name(`` in a python block whose name is capitalised, and every bare ``name(``,
    unless it is a Python builtin or a name the seed's own samples define (``def``, ``class``,
    assignment, a parameter) or import.
``method``
    every ``receiver.method(`` in a python block, named ``receiver.method`` as the seed writes
    it (``app.get``, ``_metrics.increment_counter``); :data:`NOT_CONDUIT_RECEIVERS` lists the
    receivers that are not Conduit objects (the standard library, plain dicts and strings the
    samples compute, the user's own objects).
``documented``
    every API name a heading documents: ``#### `name(...)```` / ``#### `name: type```` (seed 000),
    ``**`name(...)`**`` and ``#### `Name``` (seed 003), a heading that is a class name
    (``### CircuitBreaker``, ``### MetricsCollector Class``), a backticked class name in prose
    (``List of `SearchResult` objects``) and ``**Returns**: Name instance``. A documented bare
    name ``n`` is covered by a row named ``n`` or ``something.n``.
``env``
    every ``NAME=`` / ``export NAME=`` line of a non-python code block and every backticked
    ``UPPER_CASE`` name in prose (``- `API_KEY`: ...``).
``endpoint``
    every ``METHOD /path`` in an ``http`` block or in backticks in prose, every backticked
    ``/path`` in prose, and every ``curl`` target, except the paths the seed's own samples route
    (``@app.get("/users")``). A bare path is covered by a row whose name ends with it.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import re
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = Path(__file__).resolve().with_name("documents")
TABLE = ROOT / "docs" / "seeds.md"
SEEDS = ("000", "001", "002", "003", "004")

#: Receivers whose ``.method(`` calls are not Conduit API, with why.
NOT_CONDUIT_RECEIVERS: dict[str, str] = {
    "time": "standard library",
    "sys": "standard library",
    "asyncio": "standard library",
    "logger": "the sample's logging.Logger",
    "requests": "the requests library",
    "data": "a dict the sample parsed",
    "x": "a str in a list comprehension",
    "query": "request.query's mapping API (the property has its own row)",
    "headers": "request.headers' mapping API (the property has its own row)",
    "params": "request.params' mapping API (the property has its own row)",
    "db": "the user's database object in seed 000's shutdown sample",
}
#: ``receiver.method`` pairs that are the user's own objects.
NOT_CONDUIT_CALLS: dict[str, str] = {
    "model.cleanup": "the user's model object in seed 000's shutdown sample",
}
#: Capitalised heading words that name products, not API.
NOT_API_WORDS = {"OpenTelemetry", "PyPI", "PydanticAI", "FastAPI"}
_STDLIB = set(sys.stdlib_module_names)


# --- the documents ---------------------------------------------------------------------------


def seed_path(seed: str) -> Path:
    (path,) = DOCUMENTS.glob(f"{seed}_*.txt")
    return path


def seed_text(seed: str) -> str:
    return seed_path(seed).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Block:
    """A fenced code block: ``line`` is the seed line of its first code line."""

    seed: str
    line: int
    lang: str
    code: str

    @property
    def where(self) -> str:
        return f"seed {self.seed}:{self.line}"


_FENCE = re.compile(r"^([ \t]*)```(\w*)[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.S | re.M)


def blocks(seed: str) -> list[Block]:
    text = seed_text(seed)
    found = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 2
        found.append(Block(seed, line, m.group(2), textwrap.dedent(m.group(3))))
    return found


def python_blocks(seed: str) -> list[Block]:
    return [b for b in blocks(seed) if b.lang == "python"]


def block(seed: str, line: int) -> Block:
    for b in blocks(seed):
        if b.line == line:
            return b
    starts = [b.line for b in blocks(seed)]
    raise KeyError(f"no code block of seed {seed} starts at line {line}; blocks start at {starts}")


def _prose_lines(seed: str) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside code blocks."""
    text = seed_text(seed)
    inside: set[int] = set()
    for m in _FENCE.finditer(text):
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, m.end()) + 1
        inside.update(range(first, last + 1))
    return [(n, line) for n, line in enumerate(text.split("\n"), 1) if n not in inside]


# --- the names a seed uses -------------------------------------------------------------------


@dataclass(frozen=True)
class SeedName:
    kind: str  # import, call, method, documented, env, endpoint
    name: str
    line: int
    module: str | None = None  # for imports

    def __str__(self) -> str:
        origin = f" from {self.module}" if self.module else ""
        return f"{self.name}{origin} ({self.kind}, seed line {self.line})"


_IMPORT = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)|^[ \t]*import[ \t]+([\w., \t]+)", re.M)
_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\(")
_METHOD = re.compile(r"(?<![\w])([A-Za-z_]\w*)\.([A-Za-z_]\w*)\(")
_DEFINED = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)|^[ \t]*(\w+)[ \t]*=[^=]|\bfor[ \t]+(\w+)[ \t]+in\b", re.M)
_ENV_LINE = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Z][A-Z0-9_]*)=")
_ENV_PROSE = re.compile(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])(?:=[^`]*)?`")
_ENDPOINT = re.compile(r"\b(GET|POST|PUT|DELETE|PATCH) (/[\w/.\-{}:*]*)")
_PATH_PROSE = re.compile(r"`(/[\w/.\-{}:*]*)`")
_CURL = re.compile(r"\bcurl\b(?:.*?-X[ \t]+(\w+))?.*?https?://[\w.]+(?::\d+)?(/[\w/.\-]*)")
_ROUTED = re.compile(r"@app\.(?:get|post|put|delete|patch)\(\s*\"([^\"]+)\"")
_HEADING_API = re.compile(r"^(?:#{2,4}[ \t]+`@?|\*\*`)([A-Za-z_][\w.]*)")
_HEADING = re.compile(r"^#{2,4}[ \t]+([A-Za-z]\w*)(?:[ \t]+(\w+))?[ \t]*$")
_CAMEL = re.compile(r"^(?=\w*[a-z])[A-Z]\w*[A-Z]\w*$")
_BACKTICK_CLASS = re.compile(r"`([A-Z]\w+)`")
_RETURNS = re.compile(r"\*\*Returns\*\*:[ \t]+([A-Z]\w+) instance")


def _parameters(code: str) -> set[str]:
    names: set[str] = set()
    for m in re.finditer(r"\bdef[ \t]+\w+\(([^)]*)\)", code):
        for part in m.group(1).split(","):
            part = part.strip().lstrip("*").split(":")[0].split("=")[0].strip()
            if part:
                names.add(part)
    names.update(re.findall(r"\blambda[ \t]+(\w+)", code))
    return names


def seed_names(seed: str) -> list[SeedName]:
    """Every public name ``seed`` uses, by the rules of this module's docstring."""
    found: dict[tuple[str, str, str | None], SeedName] = {}

    def add(kind: str, name: str, line: int, module: str | None = None) -> None:
        found.setdefault((kind, name, module), SeedName(kind, name, line, module))

    pys = python_blocks(seed)
    imported: set[str] = set()
    defined: set[str] = set()
    for b in pys:
        for m in _IMPORT.finditer(b.code):
            line = b.line + b.code.count("\n", 0, m.start())
            if m.group(1):
                module = m.group(1)
                if module.split(".")[0] in _STDLIB:
                    continue
                for part in m.group(2).strip().strip("()").replace("\n", " ").split(","):
                    name = part.strip().split(" as ")[0].strip()
                    if name:
                        imported.add(name)
                        add("import", name, line, module)
            else:
                for part in m.group(3).split(","):
                    module = part.strip().split(" as ")[0].strip()
                    if module and module.split(".")[0] not in _STDLIB:
                        imported.add(module)
                        add("import", module, line, module)
        for m in _DEFINED.finditer(b.code):
            defined.update(g for g in m.groups() if g)
        defined |= _parameters(b.code)
    skip = set(dir(builtins)) | defined | imported
    for b in pys:
        code_lines = b.code.split("\n")
        for offset, text in enumerate(code_lines):
            line = b.line + offset
            text = "" if text.lstrip().startswith("#") else re.sub(r"\s+#\s.*$", "", text)  # comments are prose
            for m in _CALL.finditer(text):
                name = m.group(1)
                if name not in skip and name not in {"lambda"}:
                    add("call", name, line)
            for m in _METHOD.finditer(text):
                receiver, method = m.groups()
                pair = f"{receiver}.{method}"
                if receiver in NOT_CONDUIT_RECEIVERS or pair in NOT_CONDUIT_CALLS:
                    continue
                add("method", pair, line)
    routed: set[str] = set()
    for b in pys:
        routed.update(_ROUTED.findall(b.code))
    for b in blocks(seed):
        if b.lang == "python":
            continue
        for offset, text in enumerate(b.code.split("\n")):
            line = b.line + offset
            m = _ENV_LINE.match(text)
            if m:
                add("env", m.group(1), line)
            if b.lang == "http":
                for method, path in _ENDPOINT.findall(text):
                    add("endpoint", f"{method} {path.split('?')[0]}", line)
    for line, text in _prose_lines(seed):
        for name in _ENV_PROSE.findall(text):
            add("env", name, line)
        for method, path in _ENDPOINT.findall(" ".join(re.findall(r"`([^`]*)`", text))):
            add("endpoint", f"{method} {path}", line)
        for path in _PATH_PROSE.findall(text):
            if path not in routed:
                add("endpoint", path, line)
        m = _HEADING_API.match(text)
        if m and not m.group(1).startswith("/"):
            name = m.group(1)
            add("documented", name, line)
        m = _HEADING.match(text)
        if m and _CAMEL.match(m.group(1)) and m.group(1) not in NOT_API_WORDS:
            add("documented", m.group(1), line)
        for name in _BACKTICK_CLASS.findall(text):
            if _CAMEL.match(name) and name not in NOT_API_WORDS:
                add("documented", name, line)
        for name in _RETURNS.findall(text):
            add("documented", name, line)
    for line, text in enumerate(seed_text(seed).split("\n"), 1):
        m = _CURL.search(text)
        if m:
            path = m.group(2) or "/"
            if path not in routed:
                add("endpoint", f"{(m.group(1) or 'GET').upper()} {path}", line)
    return sorted(found.values(), key=lambda n: (n.line, n.kind, n.name))


# --- docs/seeds.md ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    seed: str
    line: int  # in docs/seeds.md
    names: tuple[str, ...]  # the seed-name cell's code spans
    seed_import: str  # the seed-import cell, as written
    conduit: tuple[str, ...]  # the Conduit cell's code spans
    status: str

    @property
    def imports(self) -> list[str]:
        return [span for span in self.conduit if span.startswith(("from ", "import "))]


_SPAN = re.compile(r"`([^`]+)`")


def _cells(line: str) -> list[str]:
    # Split on | outside code spans.
    cells, current, in_code = [], "", False
    for ch in line.strip().strip("|"):
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append(current.strip())
            current = ""
        else:
            current += ch
    cells.append(current.strip())
    return cells


def table_rows(text: str | None = None) -> list[Row]:
    """The mapping table's rows, per seed section (``## Seed NNN ...``)."""
    text = TABLE.read_text(encoding="utf-8") if text is None else text
    rows: list[Row] = []
    seed: str | None = None
    for n, line in enumerate(text.split("\n"), 1):
        m = re.match(r"^## Seed (\d{3})\b", line)
        if m:
            seed = m.group(1)
            continue
        if line.startswith("## "):
            seed = None
            continue
        if seed is None or not line.startswith("|") or re.match(r"^\|[\s:|-]+\|$", line):
            continue
        cells = _cells(line)
        if len(cells) != 4 or cells[0] == "seed name":
            continue
        rows.append(Row(seed, n, tuple(_SPAN.findall(cells[0])), cells[1], tuple(_SPAN.findall(cells[2])), cells[3]))
    return rows


def covers(row: Row, wanted: SeedName) -> bool:
    for name in row.names:
        if wanted.kind == "import":
            if name == wanted.name and wanted.module is not None and re.search(
                rf"\b(?:from|import)\s+{re.escape(wanted.module)}\b", row.seed_import
            ):
                return True
        elif wanted.kind == "endpoint" and wanted.name.startswith("/"):
            if name == wanted.name or name.endswith(" " + wanted.name):
                return True
        elif wanted.kind == "documented":
            if name == wanted.name or name.endswith("." + wanted.name):
                return True
        elif name == wanted.name:
            return True
    return False


def missing_rows(rows: list[Row], seed: str, names: Iterable[SeedName] | None = None) -> list[SeedName]:
    mine = [r for r in rows if r.seed == seed]
    return [n for n in (seed_names(seed) if names is None else names) if not any(covers(r, n) for r in mine)]


# --- checking a row's Conduit cell -------------------------------------------------------------

GAP_STATUSES = ("missing", "not applicable", "not used")
_IMPORT_SPAN = re.compile(r"^from\s+([\w.]+)\s+import\s+(\w+)(?:\s+as\s+(\w+))?$|^import\s+([\w.]+)$")
_SETTING = re.compile(r"^[a-z][a-z0-9_]*$")
_ENDPOINT_SPAN = re.compile(r"^(GET|POST|PUT|DELETE|PATCH) (/\S*)$")


def _has_attribute(owner: Any, name: str) -> bool:
    if hasattr(owner, name):
        return True
    if not inspect.isclass(owner):
        return False
    for klass in owner.__mro__:
        if name in getattr(klass, "__annotations__", {}) or name in getattr(klass, "__slots__", ()):
            return True
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if re.search(rf"\bself\.{re.escape(name)}\s*[:=]", source):
            return True
    return False


def import_span(span: str) -> Any:
    """Run one ``from M import N`` / ``import M`` span; the object it binds."""
    m = _IMPORT_SPAN.match(span)
    if not m:
        raise ValueError(f"{span!r} is not `from M import N` or `import M`")
    if m.group(4):
        return importlib.import_module(m.group(4))
    module = importlib.import_module(m.group(1))
    if not hasattr(module, m.group(2)):
        raise ImportError(f"cannot import name {m.group(2)!r} from {m.group(1)!r}")
    return getattr(module, m.group(2))


def row_problems(row: Row, settings: set[str], routes: set[tuple[str, str]]) -> list[str]:
    """What is wrong with a row's Conduit cell (empty when it checks out)."""
    where = f"docs/seeds.md:{row.line} ({', '.join(row.names) or 'no name'})"
    if not row.names:
        return [f"{where}: the seed-name cell has no `name`"]
    if not row.conduit:
        if row.status.lower().startswith(GAP_STATUSES):
            return []
        return [f"{where}: no Conduit import, and the status does not say {' / '.join(GAP_STATUSES)}"]
    problems: list[str] = []
    bound: dict[str, Any] = {}
    for span in row.conduit:
        if span.startswith(("from ", "import ")):
            try:
                obj = import_span(span)
            except Exception as exc:  # noqa: BLE001 - reported as the row's problem
                problems.append(f"{where}: `{span}` fails: {type(exc).__name__}: {exc}")
                continue
            m = _IMPORT_SPAN.match(span)
            assert m is not None
            bound[m.group(3) or m.group(2) or m.group(4).split(".")[0]] = obj
        elif _ENDPOINT_SPAN.match(span):
            method, path = _ENDPOINT_SPAN.match(span).groups()  # type: ignore[union-attr]
            if (method, path) not in routes:
                problems.append(f"{where}: no route {method} {path} in an app with every plugin enabled")
        elif re.match(r"^[A-Za-z_]\w*(\.\w+)+$", span) and span.split(".")[0] in bound:
            obj: Any = bound[span.split(".")[0]]
            for part in span.split(".")[1:]:
                if not _has_attribute(obj, part):
                    problems.append(f"{where}: `{span}`: {obj!r} has no attribute {part!r}")
                    break
                obj = getattr(obj, part, None)
        elif _SETTING.match(span):
            if span not in settings:
                problems.append(f"{where}: no setting {span!r} in the kernel's or the plugins' schema")
        elif span.startswith("$") or span.startswith("CONDUIT_") or "=" in span or " " in span:
            continue  # prose: a variable, a command line
        else:
            problems.append(f"{where}: cannot check `{span}` (write `from M import N`, `N.attr`, `METHOD /path` or a setting)")
    if row.status.startswith(("env", "metric")) and not problems:
        problems += _named_in_source(row, where, bound)
    return problems


def _named_in_source(row: Row, where: str, bound: dict[str, Any]) -> list[str]:
    """An env-variable or metric row: each seed name is a SEED_VARIABLES alias of the setting
    the row names, or a string literal in the module of an object the row imports (the module
    that reads the variable or creates the instrument)."""
    from conduit.config import SEED_VARIABLES

    settings = [s for s in row.conduit if _SETTING.match(s)]
    sources = []
    for obj in bound.values():
        module = obj if inspect.ismodule(obj) else sys.modules.get(getattr(obj, "__module__", "") or "")
        try:
            sources.append(inspect.getsource(module) if module is not None else "")
        except (OSError, TypeError):
            continue
    problems = []
    for name in row.names:
        if name in SEED_VARIABLES and SEED_VARIABLES[name] in settings:
            continue
        if any(re.search("[\"']" + re.escape(name) + "[\"']", source) for source in sources):
            continue
        problems.append(f"{where}: {name} is neither a SEED_VARIABLES alias of {settings or 'a setting'} "
                        f"nor named in the module of {list(bound) or 'an import'}")
    return problems


# --- running a sample ------------------------------------------------------------------------


def conduit_imports(seed: str, rows: list[Row] | None = None) -> dict[tuple[str, str], list[str]]:
    """``(seed module, name) -> Conduit import spans`` from the seed's rows."""
    mapping: dict[tuple[str, str], list[str]] = {}
    for row in rows if rows is not None else table_rows():
        if row.seed != seed:
            continue
        for m in re.finditer(r"\bfrom\s+([\w.]+)\s+import\s+(\w+)", row.seed_import):
            mapping[(m.group(1), m.group(2))] = row.imports
    return mapping


class NoConduitEquivalent(ImportError):
    """A seed import whose name docs/seeds.md marks as missing from Conduit."""


def rewrite_imports(seed: str, code: str) -> str:
    """``code`` with each ``from X import a, b`` of a seed module replaced by the Conduit imports
    docs/seeds.md gives for ``a`` and ``b`` (standard-library imports stay as they are)."""
    mapping = conduit_imports(seed)

    def replace(m: re.Match[str]) -> str:
        indent, module, names = m.group(1), m.group(2), m.group(3)
        if module.split(".")[0] in _STDLIB:
            return m.group(0)
        lines = []
        for part in names.strip().strip("()").replace("\n", " ").split(","):
            part = part.strip()
            if not part:
                continue
            name, _, alias = part.partition(" as ")
            name = name.strip()
            spans = mapping.get((module, name))
            if spans is None:
                raise KeyError(f"docs/seeds.md has no row for seed {seed}'s `from {module} import {name}`")
            if not spans:
                raise NoConduitEquivalent(
                    f"seed {seed}'s `from {module} import {name}` has no Conduit equivalent (docs/seeds.md)")
            target = _IMPORT_SPAN.match(spans[0])
            assert target is not None and target.group(1), f"not `from M import N`: {spans[0]}"
            alias = alias.strip() or name
            lines.append(f"{indent}from {target.group(1)} import {target.group(2)}"
                         + ("" if alias == target.group(2) else f" as {alias}"))
        return "\n".join(lines)

    return re.sub(r"^([ \t]*)from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)", replace, code, flags=re.M)


def conduit_globals(seed: str) -> dict[str, Any]:
    """The names a seed uses without importing them in the sample at hand, bound to their
    Conduit objects (the rows' first ``from M import N``): ``abort`` in seed 000's validation
    sample, ``CacheError`` in seed 003's integration example."""
    namespace: dict[str, Any] = {}
    for row in table_rows():
        if row.seed != seed or not row.imports:
            continue
        m = _IMPORT_SPAN.match(row.imports[0])
        name = row.names[0]
        if m and m.group(2) and re.match(r"^[A-Za-z_]\w*$", name) and name == (m.group(3) or m.group(2)):
            try:
                namespace[name] = import_span(row.imports[0])
            except Exception:  # noqa: BLE001 - a broken row is the table test's to report
                continue
    return namespace


@dataclass
class Sample:
    """One seed code block made runnable: its imports rewritten, placeholders filled."""

    block: Block
    replacements: list[tuple[str, str]] = field(default_factory=list)

    @property
    def source(self) -> str:
        code = rewrite_imports(self.block.seed, self.block.code)
        for old, new in self.replacements:
            if old not in code:
                raise AssertionError(f"{self.block.where}: the sample no longer contains {old!r}")
            code = code.replace(old, new)
        return code

    def run(self, namespace: dict[str, Any], **supplied: Any) -> dict[str, Any]:
        """Run in ``namespace`` (which keeps what the sample defines), after binding ``supplied``:
        the objects the seed leaves to its reader (``model``, ``features``...)."""
        namespace.update(supplied)
        code = compile(self.source, f"<{self.block.where}>", "exec")
        exec(code, namespace)
        return namespace


def sample(seed: str, line: int, *replacements: tuple[str, str]) -> Sample:
    """The code block of ``seed`` starting at ``line``; each ``(old, new)`` fills a placeholder
    the seed left (``# ... process request ...``, a ``...`` vector) and nothing else."""
    return Sample(block(seed, line), list(replacements))


def run_lines_in(test_source: str) -> set[int]:
    """The seed lines a test module runs: its ``sample(SEED, LINE`` and ``block(SEED, LINE`` calls."""
    return {int(n) for n in re.findall(r"\b(?:sample|block)\(\s*SEED\s*,\s*(\d+)", test_source)}


def parse_ok(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def as_handler(code: str, namespace: dict[str, Any], params: str = "request", name: str = "sample_handler") -> Any:
    """A handler whose body is a seed fragment that uses ``request`` (``value =
    request.query.get("key", "default")``): it runs the fragment and answers with the
    fragment's local variables as JSON, or with what the fragment itself returns."""
    skip = {p.strip() for p in params.split(",")}
    plain = "(str, int, float, bool, type(None), list, dict, tuple)"
    source = (f"def {name}({params}):\n" + textwrap.indent(code.rstrip() + "\n", "    ")
              + f"    return {{k: v for k, v in locals().items() if k not in {skip!r} and isinstance(v, {plain})}}\n")
    exec(compile(source, f"<handler {name}>", "exec"), namespace)
    return namespace[name]


class ServedScript:
    """Run a seed sample as a script (``__main__``, so its ``app.run()`` serves) in a child
    process; entering waits for the server's "Server running at" line, leaving sends SIGINT
    (the seed's Ctrl+C) and waits for the exit. ``output`` is everything it printed."""

    def __init__(self, source: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60.0,
                 *, name: str = "seed_sample.py", command: list[str] | None = None) -> None:
        """``command`` (default: ``python <name>``) runs in ``cwd``, where ``source`` is saved as ``name``."""
        import threading

        self.script = cwd / name
        self.script.write_text(source, encoding="utf-8")
        self.command = command or [sys.executable, str(self.script)]
        self.cwd = cwd
        self.env = env
        self.timeout = timeout
        self.lines: list[str] = []
        self.returncode: int | None = None
        self._changed = threading.Condition()
        self._eof = False

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, text: str, count: int = 1) -> None:
        """Wait until ``text`` has been printed ``count`` times (or fail, showing the output)."""
        with self._changed:
            seen = self._changed.wait_for(lambda: "".join(self.lines).count(text) >= count or self._eof, self.timeout)
        if not seen or self.output.count(text) < count:
            raise AssertionError(f"the sample did not print {text!r} x{count} in {self.timeout} s:\n{self.output}")

    def __enter__(self) -> ServedScript:
        import os
        import subprocess
        import threading

        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})}
        self.process = subprocess.Popen(self.command, cwd=self.cwd, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
            with self._changed:
                self._eof = True
                self._changed.notify_all()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        try:
            self.wait_for("Server running at")
        except AssertionError:
            self.stop()
            raise
        return self

    def stop(self) -> int:
        import signal
        import subprocess

        if self.returncode is None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            try:
                self.returncode = self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.returncode = self.process.wait(5)
            self._reader.join(5)
            if self.process.stdout is not None:
                self.process.stdout.close()
        return self.returncode

    def __exit__(self, *exc: Any) -> None:
        self.stop()
