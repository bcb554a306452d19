"""schemathesis against the OpenAPI documents of the examples and of an app using every feature.

Each API operation gets a bounded number of schema-valid requests (positive mode, fixed
seed, no shrinking) sent to a real server (conduit.testing.LiveServer), and schemathesis's
default checks: no 5xx, every status documented, every body and content type as
documented, schema-valid input accepted, and protected operations refuse a request
without credentials.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a test dependency (requirements/test.txt)")
pydantic = pytest.importorskip("pydantic", reason="the feature app's /vectors route takes a pydantic model")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from conduit import Conduit, HTTPRequest, abort  # noqa: E402
from conduit.framework.auth import AuthMiddleware  # noqa: E402
from conduit.framework.edge_cases import GracefulShutdownHandler  # noqa: E402
from conduit.openapi import build_openapi  # noqa: E402
from conduit.testing import LiveServer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLES_PER_OPERATION = 25

# Refusals a schema cannot rule out, so a response carrying one of these codes skips
# schemathesis's "schema-valid input is accepted" check (every other check still runs on it).
# The router's 422 no_eligible_model depends on the server's state: the constraints exclude
# every model *now* (prices, learned latency and quality, models cooling down after failures).
# Its 413 body_too_large is a limit in bytes (seed 001's 10000 on the /v1 POST routes), which
# JSON Schema's lengths in characters cannot express.
STATE_REFUSALS = {(422, "no_eligible_model"), (413, "body_too_large")}


def _state_refusal(response: Any) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else body.get("code") if isinstance(body, dict) else None
    return (response.status_code, code) in STATE_REFUSALS


def _run(schema: Any, base_url: str, only: set[str] | None = None, skip: set[str] = frozenset(),
         headers: dict[str, str] | None = None, examples: dict[str, int] | None = None) -> dict[str, str]:
    """Run every operation of ``schema``; a label -> failure message for those that failed.

    ``examples``: fewer (or more) examples for the operations whose label starts with a key.
    """
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    def _accepts_valid_data(ctx: Any, response: Any, case: Any) -> bool | None:
        """schemathesis's positive_data_acceptance, but for the state refusals above."""
        return None if _state_refusal(response) else positive_data_acceptance(ctx, response, case)

    failures: dict[str, str] = {}
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in skip or (only is not None and operation.label not in only):
            continue
        labels.append(operation.label)

        count = next((n for prefix, n in (examples or {}).items() if operation.label.startswith(prefix)),
                     EXAMPLES_PER_OPERATION)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=count, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
        )
        def check(case: Any) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, excluded_checks=[positive_data_acceptance],
                                   additional_checks=[_accepts_valid_data])

        try:
            check()
        except BaseException as exc:  # noqa: BLE001 - a FailureGroup is a BaseExceptionGroup
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            failures[operation.label] = f"{type(exc).__name__}: {exc}"
    assert labels, "no operation was tested"
    assert only is None or set(labels) == only, f"operations not found: {only - set(labels)}"
    return failures


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    """``example("hello.py")``: a fresh copy of an example, with no entry-point plugins."""
    monkeypatch.setenv("CONDUIT_EXAMPLES_CACHE", str(tmp_path_factory.mktemp("example-models")))
    monkeypatch.syspath_prepend(str(REPO))
    # production.py installs signal handlers at import; pytest's process keeps its own.
    monkeypatch.setattr(GracefulShutdownHandler, "setup_signal_handlers", lambda self: None)
    loaded: list[Any] = []

    def load(name: str) -> Any:
        path = REPO / "examples" / name
        if not path.exists():
            pytest.skip(f"examples/{name} does not exist yet")
        if name == "production.py":
            pytest.importorskip("sklearn", reason="examples/production.py trains its model with scikit-learn")
        module_name = f"_schemathesis_example_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        loaded.append(importlib.util.module_from_spec(spec))
        monkeypatch.setitem(sys.modules, module_name, loaded[-1])  # get_type_hints finds a class's module there
        spec.loader.exec_module(loaded[-1])
        return loaded[-1]

    yield load
    for module in loaded:
        engine = getattr(module, "engine", None)
        if engine is not None:
            engine.close()


def _schema_of(server: LiveServer, app: Conduit) -> Any:
    """The document the app serves, or (when it does not enable docs) the one it would."""
    if app.docs:
        return schemathesis.openapi.from_url(server.url + app.docs["openapi_path"])
    return schemathesis.openapi.from_dict(build_openapi(app, "example", "1"))


@pytest.mark.parametrize("name", ["hello.py", "production.py", "showcase/__init__.py"])
def test_example_answers_as_its_document_says(example: Callable[[str], Any], name: str) -> None:
    app = example(name).app
    with LiveServer(app) as server:
        schema = _schema_of(server, app)
        failures = _run(schema, server.url, skip=set())
    assert not failures, "\n\n".join(f"{label}:\n{message}" for label, message in failures.items())


SHOWCASE_KEY = "sk-schemathesis-showcase"
PROVIDER_VARIABLES = ("OPENAI_API_KEY", "GROQ_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                      "OPENAI_COMPATIBLE_BASE_URL", "CONDUIT_ROUTER_STANDIN_URL", "OTEL_ENABLED")
# 384 numbers per vector make each example of these costly to generate; fewer still cover them.
SHOWCASE_EXAMPLES = {"POST /vectors/documents": 10, "PUT /vectors/documents": 10, "POST /vectors/search": 15}


@pytest.mark.slow
def test_showcase_with_every_plugin_answers_as_its_document_says_with_the_key(
    example: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The plugin operations (model, /vectors, /v1, /api) past auth: bodies, statuses, answers as declared."""
    pytest.importorskip("conduit_vector", reason="the showcase's plugins are installed by scripts/install-dev")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cli.md").write_text((REPO / "docs" / "cli.md").read_text(encoding="utf-8"), encoding="utf-8")
    for name in PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")  # the kernel's conftest blocks the plugins; the showcase needs them
    monkeypatch.setenv("CONDUIT_SHOWCASE_API_KEY", SHOWCASE_KEY)
    monkeypatch.setenv("CONDUIT_SHOWCASE_DOCS", str(docs))
    monkeypatch.setenv("CONDUIT_SHOWCASE_RATE_LIMIT", "100000")  # schemathesis sends ~1,000 requests
    monkeypatch.setenv("CONDUIT_SHOWCASE_QUIET", "1")
    app = example("showcase/__init__.py").app
    with LiveServer(app) as server:
        services = app.state.showcase_services
        assert services is not None, "the showcase's ML routes are off: are the plugins installed?"
        assert services.index.wait(60), "indexing one docs file took over 60 s"
        schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
        labels = {result.ok().label for result in schema.get_all_operations()}
        assert {"POST /predict", "POST /vectors/search/text", "POST /v1/chat/completions", "POST /v1/feedback"} <= labels
        failures = _run(schema, server.url, headers={"X-API-Key": SHOWCASE_KEY}, examples=SHOWCASE_EXAMPLES)
    assert not failures, "\n\n".join(f"{label}:\n{message}" for label, message in failures.items())


# --- an app using every feature the document describes ---------------------------------------------


class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


@dataclasses.dataclass
class Item:
    """A stored item."""

    id: int
    name: str
    size: Size = Size.SMALL
    tags: list[str] = dataclasses.field(default_factory=list)
    price: float | None = None


class NewItem(TypedDict):
    name: Annotated[str, {"minLength": 1, "maxLength": 40}]
    size: NotRequired[Literal["s", "l"]]
    tags: NotRequired[Annotated[list[str], {"maxItems": 5}]]


class Vector(pydantic.BaseModel):
    values: Annotated[list[float], pydantic.Field(min_length=1, max_length=8)]
    label: Annotated[str, pydantic.Field(max_length=20)] | None = None

    @pydantic.computed_field  # type: ignore[prop-decorator]
    @property
    def dims(self) -> int:
        return len(self.values)


def _store() -> Conduit:
    app = Conduit(plugins=[])
    # The document and the page stay readable without a key (AuthMiddleware protects "/" by default).
    app.use(AuthMiddleware({"secret-key": "tests"}, exempt_paths=("/health", "/public", "/openapi.json", "/docs")))
    app.enable_docs(title="Store", version="1.0.0", description="Every documented feature")
    items: dict[int, Item] = {}

    @app.get("/items", tags=["items"])
    def list_items(
        request: HTTPRequest,
        page: Annotated[int, "1-based"] = 1,
        size: Size | None = None,
        tag: list[str] = [],  # noqa: B006 - never mutated
        desc: bool = False,
        limit: Literal[10, 50] = 10,
    ) -> list[Item]:
        """List items, filtered by size and tags."""
        found = [i for i in items.values() if (size is None or i.size == size) and set(tag) <= set(i.tags)]
        found.sort(key=lambda i: i.id, reverse=desc)
        start = max(page - 1, 0) * limit
        return found[start : start + limit] if start < len(found) else []

    @app.post("/items", tags=["items"], body=NewItem, status_code=201)
    async def add_item(request: HTTPRequest) -> tuple[Item, int]:
        data = await request.json()
        item = Item(len(items) + 1, data["name"], Size(data.get("size", "s")), data.get("tags", []))
        items[item.id] = item
        return item, 201

    @app.get("/items/{item_id:int}", tags=["items"], responses={404: "No such item"})
    async def get_item(item_id: int) -> Item:
        if item_id not in items:
            abort(404, "Item not found", f"no item {item_id}")
        return items[item_id]

    @app.delete("/items/{item_id:int}", tags=["items"])
    async def delete_item(item_id: int) -> None:
        items.pop(item_id, None)

    @app.post("/vectors/norm", body=Vector, response=Vector, responses={422: "Not a vector"})
    async def norm(request: HTTPRequest) -> Vector:
        try:
            vector = Vector.model_validate(await request.json())
        except pydantic.ValidationError as exc:
            abort(422, "Not a vector", str(exc.errors(include_url=False)[0]["msg"]))
        total = sum(v * v for v in vector.values) ** 0.5 or 1.0
        return Vector(values=[v / total for v in vector.values], label=vector.label)

    @app.get("/public/echo/{word}")
    def echo(word: str, times: Annotated[int, "how often"] = 1, sep: str = " ") -> str:
        return sep.join([word] * max(0, min(times, 3)))

    @app.get("/public/lookup/{key:uuid}")
    async def lookup(key: uuid.UUID, ratio: float = 1.0) -> dict[str, Any]:
        return {"key": str(key), "ratio": ratio}

    @app.get("/public/files/{path:path}")
    async def files(path: str) -> dict[str, str]:
        return {"path": path}

    @app.get("/public/seed", query={"q": str | None})
    def seed(req: HTTPRequest, res: Any) -> None:
        res.json({"q": req.query.get("q", "")})

    return app


@pytest.fixture
def store() -> Iterator[LiveServer]:
    with LiveServer(_store()) as server:
        yield server


def test_store_answers_as_its_document_says(store: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(store.url + "/openapi.json")
    failures = _run(schema, store.url, headers={"X-API-Key": "secret-key"})
    assert not failures, "\n\n".join(f"{label}:\n{message}" for label, message in failures.items())
