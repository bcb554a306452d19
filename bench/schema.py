"""Type hints to JSON Schema and back: Conduit's engine against pydantic and msgspec.

    python bench/schema.py            # prints three tables; about ten seconds

The figures behind the choice in docs/architecture.md, "One schema engine". The same seven tool
functions (scalars, Optional, list/dict/tuple/set, Literal, Enum, datetime/UUID, Annotated
constraints, a dataclass, a TypedDict, a nested dataclass) go through each engine:

1. Start-up: a fresh interpreter imports the kernel (``conduit``, which every Conduit app
   imports anyway, and which holds ``conduit.schema``), then the clock runs while it imports
   the engine, builds the JSON Schema of every parameter of the seven functions and coerces one
   call of each (pydantic compiles a validator a type up front; msgspec and Conduit on first
   use). Median of 5 interpreters. ``python -X importtime -c "import conduit.schema"`` gives
   the kernel engine's own import alone.
2. Coercion: one ``tools/call``'s decoded JSON arguments into the function's typed keyword
   arguments (a dataclass instance, an Enum member, a ``datetime``...). Conduit: the tool's own
   ``Tool.bind`` (unknown and missing arguments checked, then ``conduit.schema.coerce`` a
   parameter), and ``coerce`` a parameter alone. pydantic: a ``TypeAdapter`` a parameter, ``validate_python`` (what a kernel
   adopting it would run), and the official MCP SDK's own path (``func_metadata``'s argument
   model, ``model_validate`` then ``model_dump_one_level``). msgspec: ``msgspec.convert`` a
   parameter. Median over 7 rounds of the mean µs per call.
3. Fidelity: each engine's input (and output) schema against the one the official MCP SDK
   (``mcp.server.mcpserver.utilities.func_metadata``) publishes for the same function, after
   ``$ref``s are resolved: differences that change what a client may send (types, required
   keys, constraints, enum values, nullability) and, apart, differing defaults. Titles and
   descriptions are not counted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import importlib.util
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_type_hints

# pydantic (and so the MCP SDK) refuses typing.TypedDict before Python 3.12
from typing_extensions import NotRequired, TypedDict  # noqa: UP035

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 7


# --- the tool functions ---------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0
    tags: list[str] = dataclasses.field(default_factory=list)


class Movie(TypedDict):
    title: str
    year: NotRequired[int]


class Address(TypedDict):
    city: str
    zip: str | None


@dataclasses.dataclass
class LineItem:
    sku: str
    quantity: int = 1


@dataclasses.dataclass
class Order:
    items: list[LineItem]
    ship_to: Address | None = None
    priority: Literal["low", "high"] = "low"


def _constraints() -> tuple[Any, Any, Any]:
    import annotated_types  # pydantic's own vocabulary for constraints (a dependency of pydantic)

    return annotated_types.Ge(0), annotated_types.Le(100), annotated_types.MaxLen(20)


GE0, LE100, MAX20 = _constraints()


def search(query: str, limit: int = 10, tags: list[str] | None = None, exact: bool = False) -> list[str]:
    return []


def move(p: Point) -> Point:
    return p


def add_movie(movie: Movie) -> Movie:
    return movie


def paint(colour: Colour, mode: Literal["fill", "stroke"] = "fill") -> str:
    return ""


def bounded(n: Annotated[int, GE0, LE100], name: Annotated[str, MAX20] = "x") -> int:
    return n


def schedule(when: dt.datetime, ident: uuid.UUID, weights: dict[str, float], pair: tuple[int, str], seen: set[str]) -> bool:
    return True


def place(order: Order) -> dict[str, int]:
    return {}


FUNCTIONS: list[tuple[Callable[..., Any], dict[str, Any]]] = [
    (search, {"query": "shoes", "limit": 5, "tags": ["a", "b"]}),
    (move, {"p": {"x": 1.5, "y": 2, "tags": ["t"]}}),
    (add_movie, {"movie": {"title": "Up", "year": 2009}}),
    (paint, {"colour": "green", "mode": "stroke"}),
    (bounded, {"n": 7, "name": "seven"}),
    (schedule, {"when": "2024-05-01T10:00:00", "ident": "12345678-1234-5678-1234-567812345678",
                "weights": {"a": 1.0, "b": 2}, "pair": [1, "x"], "seen": ["a", "b"]}),
    (place, {"order": {"items": [{"sku": "a", "quantity": 2}, {"sku": "b"}],
                       "ship_to": {"city": "Oslo", "zip": None}, "priority": "high"}}),
]


# --- 1. import time --------------------------------------------------------------------------

_BUILD = {
    "conduit.schema": (
        "from conduit.schema import SchemaBuilder, coerce, type_hints\n"
        "hints = [type_hints(f) for f, _ in schema.FUNCTIONS]\n"
        "[[SchemaBuilder(strict=True).schema(t) for t in h.values()] for h in hints]\n"
        "[coerce(a[k], h[k]) for (f, a), h in zip(schema.FUNCTIONS, hints) for k in a]\n"
    ),
    "pydantic TypeAdapter": (
        "import pydantic\n"
        "from typing import get_type_hints\n"
        "hints = [get_type_hints(f, include_extras=True) for f, _ in schema.FUNCTIONS]\n"
        "ads = [{k: pydantic.TypeAdapter(v) for k, v in h.items()} for h in hints]\n"
        "[[a.json_schema() for a in d.values()] for d in ads]\n"
        "[d[k].validate_python(a[k]) for (f, a), d in zip(schema.FUNCTIONS, ads) for k in a]\n"
    ),
    "msgspec": (
        "import msgspec\n"
        "from typing import get_type_hints\n"
        "hints = [get_type_hints(f, include_extras=True) for f, _ in schema.FUNCTIONS]\n"
        "msgspec.json.schema_components([t for h in hints for t in h.values()])\n"
        "[msgspec.convert(a[k], h[k]) for (f, a), h in zip(schema.FUNCTIONS, hints) for k in a]\n"
    ),
}


def _import_seconds(engine: str) -> float:
    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(ROOT / 'bench')!r})\n"
        "import conduit, annotated_types, schema\n"
        "t0 = time.perf_counter()\n"
        + _BUILD[engine]
        + "print(time.perf_counter() - t0)\n"
    )
    runs = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


# --- 2. coercion -----------------------------------------------------------------------------


def _per_call_us(call: Callable[[], Any], n: int) -> float:
    rounds = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        rounds.append((time.perf_counter() - t0) / n)
    return statistics.median(rounds) * 1e6


def kernel_binders() -> list[Callable[[], Any]]:
    from conduit.schema import coerce

    out = []
    for fn, args in FUNCTIONS:
        hints = get_type_hints(fn, include_extras=True)
        out.append(lambda h=hints, args=args: {k: coerce(v, h[k], k) for k, v in args.items()})
    return out


def conduit_binders() -> list[Callable[[], Any]]:
    from conduit_mcp.schema import describe_function
    from conduit_mcp.tools import Tool

    out = []
    for fn, args in FUNCTIONS:
        tool = Tool(fn, describe_function(fn))
        out.append(lambda tool=tool, args=args: tool.bind(args))
    return out


def pydantic_binders() -> list[Callable[[], Any]]:
    import pydantic

    out = []
    for fn, args in FUNCTIONS:
        adapters = {k: pydantic.TypeAdapter(v) for k, v in get_type_hints(fn, include_extras=True).items() if k != "return"}
        out.append(lambda ad=adapters, args=args: {k: ad[k].validate_python(v) for k, v in args.items()})
    return out


def sdk_binders() -> list[Callable[[], Any]]:
    from mcp.server.mcpserver.utilities.func_metadata import func_metadata

    out = []
    for fn, args in FUNCTIONS:
        model = func_metadata(fn).arg_model
        out.append(lambda model=model, args=args: model.model_validate(args).model_dump_one_level())
    return out


def msgspec_binders() -> list[Callable[[], Any]]:
    import msgspec

    out = []
    for fn, args in FUNCTIONS:
        hints = get_type_hints(fn, include_extras=True)
        out.append(lambda h=hints, args=args: {k: msgspec.convert(v, h[k]) for k, v in args.items()})
    return out


def _check_same(results: dict[str, list[Any]]) -> None:
    """Every engine must produce the same Python values, or the timings compare different work."""
    reference = results["conduit (Tool.bind)"]
    for engine, values in results.items():
        for fn_args, got, want in zip(FUNCTIONS, values, reference):
            if got != want:
                raise SystemExit(f"{engine} coerced {fn_args[0].__name__} to {got!r}, Conduit to {want!r}")


# --- 3. fidelity -----------------------------------------------------------------------------

_CONSTRAINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
                "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "format")


def _resolve(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = defs[ref.rsplit("/", 1)[-1]]
            return _resolve({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
        return {k: _resolve(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_resolve(v, defs) for v in node]
    return node


def _alternatives(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A schema as a list of single-type alternatives (``type: [a, b]`` and ``anyOf`` flattened)."""
    if "anyOf" in schema:
        return [alt for sub in schema["anyOf"] for alt in _alternatives(sub)]
    kinds = schema.get("type")
    if isinstance(kinds, list):
        rest = {k: v for k, v in schema.items() if k != "type"}
        return [{**rest, "type": kind} for kind in kinds]
    if "const" in schema:
        return _alternatives({**{k: v for k, v in schema.items() if k != "const"}, "enum": [schema["const"]]})
    if "enum" in schema and "type" not in schema:
        kinds = {type(v).__name__ for v in schema["enum"]}
        if kinds == {"str"}:
            return [{**schema, "type": "string"}]
    return [dict(schema)]


def _kind(alt: Mapping[str, Any]) -> str:
    if "type" in alt:
        return str(alt["type"])
    if "enum" in alt:
        return "enum"
    return "any"


def _diff(a: Mapping[str, Any], b: Mapping[str, Any], path: str, out: list[tuple[str, str]]) -> None:
    if a.get("default", ...) != b.get("default", ...):
        out.append(("default", path))
    alts_a = {_kind(x): x for x in _alternatives(a)}
    alts_b = {_kind(x): x for x in _alternatives(b)}
    if ("null" in alts_a) != ("null" in alts_b):
        out.append(("nullability", path))
    alts_a.pop("null", None)
    alts_b.pop("null", None)
    if set(alts_a) != set(alts_b):
        out.append(("type", f"{path}: {sorted(alts_a)} vs {sorted(alts_b)}"))
        return
    for kind, x in alts_a.items():
        _diff_one(x, alts_b[kind], path, out)


def _diff_one(a: Mapping[str, Any], b: Mapping[str, Any], path: str, out: list[tuple[str, str]]) -> None:
    if "enum" in a or "enum" in b:
        if sorted(map(json.dumps, a.get("enum", []))) != sorted(map(json.dumps, b.get("enum", []))):
            out.append(("enum", path))
    for key in _CONSTRAINTS:
        if a.get(key) != b.get(key):
            out.append(("constraint", f"{path}: {key} {a.get(key)!r} vs {b.get(key)!r}"))
    if a.get("type") == "object":
        if set(a.get("required", [])) != set(b.get("required", [])):
            out.append(("required", path))
        props_a, props_b = a.get("properties", {}), b.get("properties", {})
        for name in set(props_a) | set(props_b):
            if name not in props_a or name not in props_b:
                out.append(("type", f"{path}.{name}: property in one schema only"))
            else:
                _diff(props_a[name], props_b[name], f"{path}.{name}", out)
        extra_a, extra_b = a.get("additionalProperties"), b.get("additionalProperties")
        if isinstance(extra_a, dict) and isinstance(extra_b, dict):
            _diff(extra_a, extra_b, f"{path}{{}}", out)
        elif (extra_a is None) != (extra_b is None):
            out.append(("type", f"{path}: additionalProperties {extra_a!r} vs {extra_b!r}"))
    if a.get("type") == "array":
        for i, (x, y) in enumerate(zip(a.get("prefixItems", []), b.get("prefixItems", []))):
            _diff(x, y, f"{path}[{i}]", out)
        if isinstance(a.get("items"), dict) and isinstance(b.get("items"), dict):
            _diff(a["items"], b["items"], f"{path}[]", out)
        elif bool(a.get("items")) != bool(b.get("items")):
            out.append(("type", f"{path}[]: items in one schema only"))


def _normal(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if schema is None else _resolve(dict(schema), schema.get("$defs", {}))


def sdk_schemas(fn: Callable[..., Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    from mcp.server.mcpserver.utilities.func_metadata import func_metadata

    meta = func_metadata(fn)
    return meta.arg_model.model_json_schema(by_alias=True), meta.output_schema


def conduit_schemas(fn: Callable[..., Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    from conduit_mcp.schema import describe_function

    signature = describe_function(fn)
    return signature.input_schema, signature.output_schema


def _object(properties: dict[str, Any], fn: Callable[..., Any], defs: dict[str, Any]) -> dict[str, Any]:
    import inspect

    params = inspect.signature(fn).parameters
    for name, p in params.items():
        if p.default is not p.empty:
            properties[name] = {**properties[name], "default": _jsonable(p.default)}
    required = [name for name, p in params.items() if p.default is p.empty]
    return {"type": "object", "properties": properties, "required": required, "$defs": defs}


def _jsonable(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _wrapped(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None or (_normal(schema) or {}).get("type") == "object":
        return schema
    return {"type": "object", "properties": {"result": schema}, "required": ["result"], "$defs": schema.pop("$defs", {})}


def pydantic_schemas(fn: Callable[..., Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    import pydantic

    hints = get_type_hints(fn, include_extras=True)
    defs: dict[str, Any] = {}
    properties = {}
    for name, hint in hints.items():
        if name != "return":
            schema = pydantic.TypeAdapter(hint).json_schema()
            defs.update(schema.pop("$defs", {}))
            properties[name] = schema
    output = pydantic.TypeAdapter(hints["return"]).json_schema() if "return" in hints else None
    return _object(properties, fn, defs), _wrapped(output)


def msgspec_schemas(fn: Callable[..., Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    import msgspec

    hints = get_type_hints(fn, include_extras=True)
    names = list(hints)
    schemas, defs = msgspec.json.schema_components([hints[n] for n in names], ref_template="#/$defs/{name}")
    by_name = dict(zip(names, schemas))
    output = by_name.pop("return", None)
    if output is not None:
        output = {**output, "$defs": defs}
    return _object(by_name, fn, dict(defs)), _wrapped(output)


def fidelity(engine: Callable[[Callable[..., Any]], tuple[dict[str, Any], dict[str, Any] | None]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for fn, _ in FUNCTIONS:
        sdk_in, sdk_out = sdk_schemas(fn)
        our_in, our_out = engine(fn)
        _diff(_normal(our_in) or {}, _normal(sdk_in) or {}, f"{fn.__name__}()", out)
        if (sdk_out is None) != (our_out is None):
            out.append(("type", f"{fn.__name__} -> output schema in one only"))
        elif sdk_out is not None and our_out is not None:
            _diff(_normal(our_out) or {}, _normal(sdk_out) or {}, f"{fn.__name__} ->", out)
    return out


# --- the report ------------------------------------------------------------------------------


def main() -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    engines = ["conduit.schema", "pydantic TypeAdapter", "msgspec"]
    if importlib.util.find_spec("msgspec") is None:
        print("msgspec is not installed: pip install msgspec (its column is left out)\n")
        engines.remove("msgspec")
    from importlib.metadata import version

    versions = f"pydantic {version('pydantic')}, mcp {version('mcp')}"
    if "msgspec" in engines:
        versions += f", msgspec {version('msgspec')}"
    print(f"Python {sys.version.split()[0]}; {versions}\n")

    print("1. Import the engine and build the schemas and validators of the 7 functions (ms, median of 5)\n")
    print("| engine | ms |")
    print("|---|---:|")
    for engine in engines:
        print(f"| {engine} | {_import_seconds(engine) * 1e3:.1f} |")

    binders: dict[str, list[Callable[[], Any]]] = {
        "conduit (Tool.bind)": conduit_binders(),
        "conduit.schema.coerce": kernel_binders(),
        "pydantic TypeAdapter": pydantic_binders(),
        "MCP SDK (pydantic model)": sdk_binders(),
    }
    if "msgspec" in engines:
        binders["msgspec"] = msgspec_binders()
    _check_same({k: [b() for b in v] for k, v in binders.items() if k != "MCP SDK (pydantic model)"})
    print("\n2. Coerce one call's JSON arguments to typed keyword arguments (µs per call, median of 7 rounds)\n")
    print("| function | " + " | ".join(binders) + " |")
    print("|---" + "|---:" * len(binders) + "|")
    for i, (fn, _) in enumerate(FUNCTIONS):
        cells = [f"{_per_call_us(b[i], 3000):.1f}" for b in binders.values()]
        print(f"| {fn.__name__} | " + " | ".join(cells) + " |")

    print("\n3. Schema differences from the official MCP SDK's, over the 7 functions' input and output schemas\n")
    kinds = ["type", "required", "constraint", "enum", "nullability", "default"]
    makers = {"conduit.schema": conduit_schemas, "pydantic TypeAdapter": pydantic_schemas, "msgspec": msgspec_schemas}
    print("| engine | " + " | ".join(kinds) + " | where |")
    print("|---" + "|---:" * len(kinds) + "|---|")
    for engine in engines:
        found = fidelity(makers[engine])
        counts = [sum(1 for k, _ in found if k == kind) for kind in kinds]
        where = "; ".join(f"{k}: {p}" for k, p in found if k != "default") or "-"
        print(f"| {engine} | " + " | ".join(map(str, counts)) + f" | {where} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
