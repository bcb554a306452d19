"""conduit/openapi.py: the OpenAPI 3.1 document, query parameters as handler keywords, /docs.

Every document built here is checked with openapi-spec-validator (``_spec``).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.util
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import pytest

validate = pytest.importorskip(
    "openapi_spec_validator", reason="openapi-spec-validator is a test dependency (requirements/test.txt)"
).validate
import pydantic  # noqa: E402 - openapi-spec-validator depends on it

from conduit import Conduit, HTTPRequest, HTTPResponse, Router, hookimpl  # noqa: E402
from conduit.framework.auth import AuthMiddleware  # noqa: E402
from conduit.framework.limits import request_size_limit, request_timeout  # noqa: E402
from conduit.framework.ratelimit import rate_limit  # noqa: E402
from conduit.openapi import build_openapi, error_response, swagger_ui, type_schema  # noqa: E402
from conduit.testing import TestClient  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _spec(app: Conduit) -> dict[str, Any]:
    doc = build_openapi(app, "t", "1", "d")
    validate(doc)
    return doc


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    """``example("hello.py")``: a fresh copy of examples/<path> (its own app), with no entry-point plugins."""

    def load(path: str) -> Any:
        name = f"_openapi_example_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, REPO / "examples" / path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)  # get_type_hints finds a class's module there
        spec.loader.exec_module(module)
        return module

    return load


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Item:
    """An item in the store."""

    id: int
    name: str
    tags: list[str] = dataclasses.field(default_factory=list)
    price: float | None = None
    note: str = dataclasses.field(default="", metadata={"description": "free text"})


class NewItem(TypedDict):
    name: Annotated[str, {"minLength": 1}]
    tags: NotRequired[list[str]]


class Point(pydantic.BaseModel):
    x: float
    y: float = 0.0


class Tree(pydantic.BaseModel):
    value: int
    children: list[Tree] = []


class Shape(pydantic.BaseModel):
    corners: list[Point]


class Box(pydantic.BaseModel):
    w: float
    h: float

    @pydantic.computed_field  # type: ignore[prop-decorator]
    @property
    def area(self) -> float:
        return self.w * self.h


# --- the document --------------------------------------------------------------------------------


def test_hello_example_document_is_valid_openapi_31(example: Callable[[str], Any]) -> None:
    app = example("hello.py").app
    doc = _spec(app)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "t", "version": "1", "description": "d"}
    assert {"/", "/users", "/users/{id}", "/health"} <= set(doc["paths"])
    assert set(doc["paths"]["/users"]) == {"get", "post"}
    assert "/openapi.json" not in doc["paths"] and "/docs" not in doc["paths"]


def test_showcase_example_document_is_valid(example: Callable[[str], Any]) -> None:
    doc = _spec(example("showcase/__init__.py").app)
    note = doc["paths"]["/api/notes/{note_id}"]["get"]
    assert note["parameters"][0]["schema"] == {"type": "integer"}
    assert note["tags"] == ["demo"]


def test_path_parameters_are_typed_from_their_converters() -> None:
    app = Conduit(plugins=[])

    @app.get("/a/{n:int}/{f:float}/{u:uuid}/{s}/{rest:path}")
    def a(request: HTTPRequest) -> dict[str, Any]:
        return {}

    @app.get("/users/:id")
    def seed_style(request: HTTPRequest) -> dict[str, Any]:
        return {}

    doc = _spec(app)
    params = {p["name"]: p for p in doc["paths"]["/a/{n}/{f}/{u}/{s}/{rest}"]["get"]["parameters"]}
    assert params["n"]["schema"] == {"type": "integer"}
    assert params["f"]["schema"] == {"type": "number"}
    assert params["u"]["schema"] == {"type": "string", "format": "uuid"}
    assert params["s"]["schema"] == {"type": "string", "minLength": 1}
    assert params["rest"]["schema"] == {"type": "string"}
    assert all(p["in"] == "path" and p["required"] for p in params.values())
    seed = doc["paths"]["/users/{id}"]["get"]  # the seed's :id form, in OpenAPI's braces
    assert seed["parameters"][0]["name"] == "id"
    assert seed["responses"]["404"]["content"]["application/json"]["schema"] == ERROR_REF


def test_summary_description_tags_and_operation_ids() -> None:
    app = Conduit(plugins=[])
    api = Router(prefix="/api", tags=["store"])

    @api.get("/items", tags=["items"])
    def list_items(request: HTTPRequest) -> list[Item]:
        """List the items.

        Newest first.
            An indented line stays indented relative to the rest.
        """
        return []

    @api.get("/other", name="list_items")  # the same name: operation ids stay unique
    def other(request: HTTPRequest) -> list[Item]:
        return []

    app.include(api)
    doc = _spec(app)
    op = doc["paths"]["/api/items"]["get"]
    assert op["summary"] == "List the items."
    assert op["description"] == "Newest first.\n    An indented line stays indented relative to the rest."
    probe = doc["paths"]["/health/live"]["get"]  # explicit summary: the whole docstring describes it
    assert probe["summary"] == "Health probe" and probe["description"].startswith("Answers the probes")
    assert op["tags"] == ["items", "store"]
    assert op["operationId"] == "list_items_get"
    assert doc["paths"]["/api/other"]["get"]["operationId"] == "list_items_get_2"


def test_excluded_routes_are_left_out() -> None:
    app = Conduit(plugins=[])
    app.enable_docs()

    @app.get("/internal", include_in_schema=False)
    def internal(request: HTTPRequest) -> dict[str, Any]:
        return {}

    @app.get("/public")
    def public(request: HTTPRequest) -> dict[str, Any]:
        return {}

    paths = _spec(app)["paths"]
    assert "/public" in paths
    assert not {"/internal", "/openapi.json", "/docs", "/docs/assets/{name}"} & set(paths)


# --- bodies and responses from type hints ------------------------------------------------------------


def test_dataclass_and_typeddict_become_components() -> None:
    app = Conduit(plugins=[])

    @app.post("/items", body=NewItem, status_code=201)
    async def add(request: HTTPRequest) -> Item:
        return Item(1, "x")

    doc = _spec(app)
    op = doc["paths"]["/items"]["post"]
    assert op["requestBody"] == {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}}}
    assert set(op["responses"]) == {"201", "400", "500"}  # no 200: status_code=201
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    schemas = doc["components"]["schemas"]
    assert schemas["NewItem"]["required"] == ["name"]  # NotRequired respected under PEP 563
    assert schemas["NewItem"]["properties"]["name"] == {"type": "string", "minLength": 1}
    item = schemas["Item"]
    assert item["required"] == ["id", "name"] and item["description"] == "An item in the store."
    assert item["properties"]["price"] == {"type": ["number", "null"], "default": None}
    assert item["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert item["properties"]["note"] == {"type": "string", "description": "free text", "default": ""}


def test_plain_annotations() -> None:
    defs: dict[str, Any] = {}
    assert type_schema(dict[str, int], defs) == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert type_schema(dict[str, Any], defs) == {"type": "object"}
    assert type_schema(list[float], defs) == {"type": "array", "items": {"type": "number"}}
    assert type_schema(set[str], defs) == {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    assert type_schema(tuple[int, str], defs) == {
        "type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "minItems": 2, "maxItems": 2,
    }
    assert type_schema(tuple[int, ...], defs) == {"type": "array", "items": {"type": "integer"}}
    assert type_schema(int | None, defs) == {"type": ["integer", "null"]}
    assert type_schema(Item | None, defs) == {"anyOf": [{"$ref": "#/components/schemas/Item"}, {"type": "null"}]}
    assert type_schema(Literal["a", "b"], defs) == {"enum": ["a", "b"], "type": "string"}
    assert type_schema(Color, defs) == {"enum": ["red", "blue"], "type": "string"}
    assert type_schema(Annotated[int, {"minimum": 0}, "a count"], defs) == {
        "type": "integer", "minimum": 0, "description": "a count",
    }
    assert type_schema({"type": "string", "format": "email"}, defs) == {"type": "string", "format": "email"}
    assert type_schema(Any, defs) == {}


def test_two_types_with_one_name_get_two_components() -> None:
    def local_item() -> type:
        @dataclasses.dataclass
        class Item:
            other: bool

        return Item

    defs: dict[str, Any] = {}
    assert type_schema(Item, defs) == {"$ref": "#/components/schemas/Item"}
    assert type_schema(list[Item], defs) == {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}  # reused
    assert type_schema(local_item(), defs) == {"$ref": "#/components/schemas/Item2"}
    assert set(defs["Item2"]["properties"]) == {"other"} and "other" not in defs["Item"]["properties"]


def test_pydantic_models_nested_and_recursive() -> None:
    app = Conduit(plugins=[])

    @app.post("/shapes", body=Shape, response=Shape)
    async def shape(request: HTTPRequest) -> Any:
        return {}

    @app.post("/trees", body=Tree)
    async def tree(request: HTTPRequest) -> Tree:
        return Tree(value=1)

    @app.post("/points", body=Point)  # already a component, nested in Shape
    async def point(request: HTTPRequest) -> None:
        return None

    @app.post("/boxes", body=Box)
    async def box(request: HTTPRequest) -> Box:
        return Box(w=1, h=2)

    doc = _spec(app)
    schemas = doc["components"]["schemas"]
    assert schemas["Shape"]["properties"]["corners"]["items"] == {"$ref": "#/components/schemas/Point"}
    assert schemas["Point"]["required"] == ["x"] and "Point2" not in schemas
    assert doc["paths"]["/points"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Point"}
    assert schemas["Tree"]["properties"]["children"]["items"] == {"$ref": "#/components/schemas/Tree"}
    trees = doc["paths"]["/trees"]["post"]
    tree_ref = {"$ref": "#/components/schemas/Tree"}
    assert trees["requestBody"]["content"]["application/json"]["schema"] == tree_ref
    assert trees["responses"]["200"]["content"]["application/json"]["schema"] == tree_ref  # same both ways
    # A computed field exists only when serialized: the response gets its own component.
    boxes = doc["paths"]["/boxes"]["post"]
    assert boxes["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Box"}
    assert boxes["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BoxOutput"}
    assert "area" not in schemas["Box"]["properties"] and "area" in schemas["BoxOutput"]["properties"]


def test_responses_from_return_annotations() -> None:
    app = Conduit(plugins=[])

    @app.get("/text")
    def text(request: HTTPRequest) -> str:
        return "hi"

    @app.get("/raw")
    def raw(request: HTTPRequest) -> bytes:
        return b"\x00"

    @app.delete("/gone")
    def gone(request: HTTPRequest) -> None:
        return None

    @app.get("/filled")
    def filled(req: HTTPRequest, res: HTTPResponse) -> None:
        res.json({"a": 1})

    @app.get("/manual")
    def manual(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse().json({})

    @app.post("/created")
    def created(request: HTTPRequest) -> tuple[dict[str, Any], int]:
        return {}, 201

    paths = _spec(app)["paths"]
    assert paths["/text"]["get"]["responses"]["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert "application/octet-stream" in paths["/raw"]["get"]["responses"]["200"]["content"]
    assert "204" in paths["/gone"]["delete"]["responses"] and "200" not in paths["/gone"]["delete"]["responses"]
    for path, method in (("/filled", "get"), ("/manual", "get"), ("/created", "post")):
        assert "content" not in paths[path][method]["responses"]["200"], path  # unknown body: none claimed


def test_declared_responses_forms() -> None:
    app = Conduit(plugins=[])

    @app.get(
        "/x",
        responses={
            404: "No such thing",
            409: ("Taken", dict[str, str]),
            410: error_response("Gone for good"),
            202: Item,
            "default": {"description": "Anything else"},
        },
    )
    def x(request: HTTPRequest) -> dict[str, Any]:
        return {}

    responses = _spec(app)["paths"]["/x"]["get"]["responses"]
    assert responses["404"] == {"description": "No such thing", "content": {"application/json": {"schema": ERROR_REF}}}
    assert responses["409"]["content"]["application/json"]["schema"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert responses["410"]["description"] == "Gone for good"
    assert responses["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    assert responses["default"] == {"description": "Anything else"}
    assert "200" in responses  # the return annotation's body


def test_plugin_routes_appear_with_their_schemas() -> None:
    class StorePlugin:
        @hookimpl
        def conduit_register_routes(self, register: Any) -> None:
            async def get_item(request: HTTPRequest, item_id: int) -> Item:
                return Item(item_id, "x")

            register("GET", "/plugin/items/{item_id:int}", get_item, tags=["plugin"], responses={404: "No such item"})

    app = Conduit(plugins=[], extra_plugins=[StorePlugin()])
    doc = _spec(app)
    op = doc["paths"]["/plugin/items/{item_id}"]["get"]
    assert op["tags"] == ["plugin"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    assert op["responses"]["404"]["description"] == "No such item"
    # The kernel's own plugins too: the introspection route and the monitoring probes.
    assert {"/-/plugins.json", "/health/live", "/metrics"} <= set(doc["paths"])
    assert doc["paths"]["/-/plugins.json"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"


def test_entry_point_plugin_routes_appear() -> None:
    pytest.importorskip("conduit_hello_plugin", reason="examples/conduit-hello-plugin is not installed")
    app = Conduit(plugins=["hello"], disabled_plugins=[])
    op = _spec(app)["paths"]["/hello-plugin/{name}"]["get"]
    assert op["tags"] == ["hello"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "object", "additionalProperties": {"type": "string"},
    }


# --- query parameters ----------------------------------------------------------------------------


def _query_app() -> Conduit:
    app = Conduit(plugins=[])

    @app.get("/items")
    def items(
        request: HTTPRequest,
        q: str,
        page: int = 1,
        size: Literal[10, 50] = 10,
        ratio: float | None = None,
        color: Color = Color.RED,
        desc: bool = False,
        tag: list[str] = [],  # noqa: B006 - never mutated
        ids: list[int] | None = None,
        key: uuid.UUID | None = None,
        _cache: dict[str, Any] = {},  # noqa: B006 - not a query parameter (underscore, not a query type)
    ) -> dict[str, Any]:
        return {
            "q": q, "page": page, "size": size, "ratio": ratio, "color": color.value, "desc": desc,
            "tag": tag, "ids": ids, "key": str(key) if key else None,
        }

    @app.get("/seed", query={"q": str, "limit": int | None, "mode": {"type": "string", "enum": ["a", "b"]}})
    def seed(req: HTTPRequest, res: HTTPResponse) -> None:
        """Reads request.query itself."""
        res.json({"q": req.query.get("q"), "limit": req.query.get("limit")})

    return app


def test_handler_keywords_are_converted_query_parameters() -> None:
    with TestClient(_query_app()) as client:
        defaults = client.get("/items?q=x").json()
        assert defaults == {
            "q": "x", "page": 1, "size": 10, "ratio": None, "color": "red", "desc": False, "tag": [], "ids": None, "key": None,
        }
        key = uuid.uuid4()
        given = client.get(f"/items?q=&page=-3&size=50&ratio=2.5e-1&color=blue&desc=TRUE&tag=a&tag=b&ids=1&ids=2&key={key}")
        assert given.json() == {
            "q": "", "page": -3, "size": 50, "ratio": 0.25, "color": "blue", "desc": True,
            "tag": ["a", "b"], "ids": [1, 2], "key": str(key),
        }
        assert client.get("/items?q=x&_cache=1").status_code == 200  # not a parameter: ignored


@pytest.mark.parametrize(
    ("query", "name", "expected"),
    [
        ("", "q", "is required"),
        ("q=x&page=abc", "page", "must be an integer (64-bit); got 'abc'"),
        ("q=x&page=1.0", "page", "must be an integer"),
        ("q=x&page=9223372036854775808", "page", "must be an integer (64-bit)"),
        ("q=x&page=", "page", "must be an integer"),
        ("q=x&size=20", "size", "must be one of '10', '50'; got '20'"),
        ("q=x&ratio=nan", "ratio", "must be a number"),
        ("q=x&ratio=1e999", "ratio", "must be a number"),
        ("q=x&ratio=1_0", "ratio", "must be a number"),
        ("q=x&color=green", "color", "must be one of 'red', 'blue'"),
        ("q=x&desc=maybe", "desc", "must be true or false"),
        ("q=x&ids=1&ids=x", "ids", "got 'x'"),
        ("q=x&key=nope", "key", "must be a UUID"),
    ],
)
def test_bad_query_values_are_422_naming_the_parameter(query: str, name: str, expected: str) -> None:
    with TestClient(_query_app()) as client:
        r = client.get(f"/items?{query}")
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == ("missing_query_parameter" if expected == "is required" else "invalid_query_parameter")
    assert f"query parameter {name!r}" in body["detail"] and expected in body["detail"]


def test_query_parameters_in_the_document() -> None:
    doc = _spec(_query_app())
    op = doc["paths"]["/items"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"q", "page", "size", "ratio", "color", "desc", "tag", "ids", "key"}
    assert params["q"] == {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
    assert params["page"]["schema"] == {
        "type": "integer", "format": "int64", "minimum": -(2**63), "maximum": 2**63 - 1, "default": 1,
    }
    assert params["size"]["schema"] == {"enum": [10, 50], "type": "integer", "default": 10}
    assert params["ratio"]["schema"] == {"type": "number"} and not params["ratio"]["required"]
    assert params["color"]["schema"] == {"enum": ["red", "blue"], "type": "string", "default": "red"}
    assert params["desc"]["schema"] == {"type": "boolean", "default": False}
    assert params["tag"]["schema"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert params["ids"]["schema"]["items"]["type"] == "integer"
    assert params["key"]["schema"] == {"type": "string", "format": "uuid"}
    assert op["responses"]["422"]["content"]["application/json"]["schema"] == ERROR_REF
    seed = {p["name"]: p for p in doc["paths"]["/seed"]["get"]["parameters"]}
    assert seed["q"]["required"] is True and seed["q"]["schema"] == {"type": "string"}
    assert seed["limit"]["required"] is False and seed["limit"]["schema"]["type"] == "integer"
    assert seed["mode"] == {"name": "mode", "in": "query", "required": False, "schema": {"type": "string", "enum": ["a", "b"]}}
    assert "422" not in doc["paths"]["/seed"]["get"]["responses"]  # declared only: the kernel checks nothing


def test_path_parameters_win_over_query_and_unknown_parameters_still_fail() -> None:
    app = Conduit(plugins=[])

    @app.get("/n/{n:int}")
    async def by_path(n: int, m: int = 0) -> dict[str, int]:
        return {"n": n, "m": m}

    with TestClient(app) as client:
        assert client.get("/n/3?n=9&m=4").json() == {"n": 3, "m": 4}

    bad = Conduit(plugins=[])

    @bad.get("/x")
    def x(request: HTTPRequest, mystery: object) -> dict[str, Any]:
        return {}

    with pytest.raises(TypeError, match="mystery"):
        bad.prepare()


def test_local_types_do_not_hide_the_other_hints() -> None:
    app = Conduit(plugins=[])

    class Local:
        pass

    @app.get("/l")
    def local(request: HTTPRequest, page: int = 1, helper: Local | None = None) -> dict[str, int]:
        return {"page": page}

    with TestClient(app) as client:
        assert client.get("/l?page=7").json() == {"page": 7}
        assert client.get("/l?page=x").status_code == 422


# --- the app's middleware -----------------------------------------------------------------------------


def test_auth_middleware_adds_security_schemes_and_401s() -> None:
    app = Conduit(plugins=[])
    app.use(AuthMiddleware({"k": "client"}, header_name="X-Key", exempt_paths=("/health", "/open")))

    @app.get("/secret")
    def secret(request: HTTPRequest) -> dict[str, Any]:
        return {}

    @app.get("/open")
    def open_(request: HTTPRequest) -> dict[str, Any]:
        return {}

    doc = _spec(app)
    assert doc["components"]["securitySchemes"] == {
        "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-Key", "description": "An API key (AuthMiddleware)"},
        "BearerAuth": {"type": "http", "scheme": "bearer", "description": "The same API key as `Authorization: Bearer <key>`"},
    }
    assert doc["security"] == [{"ApiKeyAuth": []}, {"BearerAuth": []}]
    protected = doc["paths"]["/secret"]["get"]
    assert "security" not in protected and protected["responses"]["401"]["content"]["application/json"]["schema"] == ERROR_REF
    open_op = doc["paths"]["/open"]["get"]
    assert open_op["security"] == [] and "401" not in open_op["responses"]
    assert doc["paths"]["/health/live"]["get"]["security"] == []


def test_no_security_without_auth_or_when_disabled_and_bearer_off() -> None:
    assert "securitySchemes" not in _spec(Conduit(plugins=[]))["components"]
    disabled = Conduit(plugins=[])
    disabled.use(AuthMiddleware(enabled=False))
    assert "security" not in _spec(disabled)
    key_only = Conduit(plugins=[])
    key_only.use(AuthMiddleware(["k"], bearer=False))
    assert set(_spec(key_only)["components"]["securitySchemes"]) == {"ApiKeyAuth"}


def test_middleware_statuses_are_documented() -> None:
    app = Conduit(plugins=[])
    app.use(rate_limit(max_requests=100, window_seconds=60))
    app.use(request_size_limit(max_mb=1))
    app.use(request_timeout(timeout_seconds=5))

    @app.post("/work", body=dict)
    def work(request: HTTPRequest) -> dict[str, Any]:
        return {}

    doc = _spec(app)
    assert {"413", "429", "504", "500"} <= set(doc["paths"]["/work"]["post"]["responses"])
    assert "429" not in doc["paths"]["/health/live"]["get"]["responses"]  # exempt from the limit


# --- serving -------------------------------------------------------------------------------------


def test_openapi_json_is_built_once_per_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import conduit.openapi as openapi

    calls: list[Any] = []
    real = openapi.build_openapi
    monkeypatch.setattr(openapi, "build_openapi", lambda app, *a: calls.append(app) or real(app, *a))
    app = Conduit(plugins=[])
    app.enable_docs(title="Cached", version="2.0", description="")

    @app.get("/x")
    def x(request: HTTPRequest) -> dict[str, Any]:
        return {}

    with TestClient(app) as client:
        first = client.get("/openapi.json")
        second = client.get("/openapi.json")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert first.content == second.content and len(calls) == 1
    doc = first.json()
    validate(doc)
    assert doc["info"] == {"title": "Cached", "version": "2.0"} and "/x" in doc["paths"]


def test_docs_page_loads_only_local_assets() -> None:
    folder, version = swagger_ui()
    if folder is None:
        pytest.skip(f"Swagger UI 5 is not installed (found {version or 'none'}): pip install swagger-ui-bundle-v2")
    app = Conduit(plugins=[])
    app.enable_docs(title="<Mine>")
    with TestClient(app) as client:
        page = client.get("/docs")
        init = client.get("/docs/assets/init.js")
        js = client.get("/docs/assets/swagger-ui-bundle.js")
        css = client.get("/docs/assets/swagger-ui.css")
        missing = client.get("/docs/assets/swagger-ui.js.map")
        escape = client.get("/docs/assets/..%2F..%2F__init__.py")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>&lt;Mine&gt;</title>" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert b'url: "/openapi.json"' in init.content and b"validatorUrl: null" in init.content
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript") and len(js.content) > 100_000
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404 and escape.status_code == 404
    assert int(version.split(".")[0]) >= 5


def test_docs_page_explains_a_missing_or_too_old_swagger_ui(monkeypatch: pytest.MonkeyPatch) -> None:
    import conduit.openapi as openapi

    app = Conduit(plugins=[])
    app.enable_docs()
    monkeypatch.setattr(openapi, "swagger_ui", lambda: (None, "4.15.5"))
    with TestClient(app) as client:
        old = client.get("/docs")
        monkeypatch.setattr(openapi, "swagger_ui", lambda: (None, ""))
        none = client.get("/docs")
        asset = client.get("/docs/assets/swagger-ui.css")
    assert old.status_code == 503 and "Swagger UI 4.15.5" in old.text and "swagger-ui-bundle-v2" in old.text
    assert none.status_code == 503 and "pip install 'swagger-ui-bundle-v2&gt;=5.31'" in none.text
    assert "/openapi.json" in none.text and "conduit[" not in none.text  # no local path, no index's conduit
    assert asset.status_code == 404
