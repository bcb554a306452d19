"""OpenAPI 3.1 document built from an app's routes, and Swagger UI served offline.

``app.enable_docs(title, version, description)`` adds ``GET /openapi.json`` and
``GET /docs``. Path parameters are typed from their converters; request bodies and
responses from the route's ``body=``/``response=`` metadata (Python types: builtins,
``list[...]``, ``dict[str, ...]``, ``Optional``, ``Literal``, dataclasses, TypedDict);
summaries and descriptions from docstrings. Swagger UI's assets come from the
``swagger-ui-bundle`` package (``pip install conduit[docs]``), never from a CDN.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

from conduit.http.response import HTTPResponse

__all__ = ["build_openapi", "enable_docs", "type_schema"]

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "detail": {},
        "status": {"type": "integer"},
        "request_id": {"type": "string"},
        "code": {"type": "string"},
    },
    "required": ["error", "status"],
}


def type_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema (2020-12, as OpenAPI 3.1 uses) for a Python type annotation."""
    if tp is Any:
        return {}
    if isinstance(tp, dict):  # an explicit JSON Schema
        return dict(tp)
    if tp is None or tp is type(None):
        return {"type": "null"}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", bytes: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [type_schema(a, defs) for a in args]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, set, frozenset, tuple) or tp in (list, set, tuple):
        item = type_schema(args[0], defs) if args else {}
        return {"type": "array", "items": item}
    if origin is dict or tp is dict:
        return {"type": "object", "additionalProperties": type_schema(args[1], defs) if len(args) == 2 else {}}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or typing.is_typeddict(tp)):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder breaks recursion
            hints = typing.get_type_hints(tp)
            if dataclasses.is_dataclass(tp):
                required = [
                    f.name
                    for f in dataclasses.fields(tp)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                ]
            else:
                required = sorted(getattr(tp, "__required_keys__", hints))
            schema: dict[str, Any] = {
                "type": "object",
                "properties": {k: type_schema(v, defs) for k, v in hints.items()},
            }
            if required:
                schema["required"] = required
            if tp.__doc__ and not tp.__doc__.startswith(f"{name}("):
                schema["description"] = tp.__doc__.strip()
            defs[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}
    model_schema = getattr(tp, "model_json_schema", None)  # pydantic, when the user has it
    if callable(model_schema):
        defs[tp.__name__] = model_schema(ref_template="#/components/schemas/{model}")
        return {"$ref": f"#/components/schemas/{tp.__name__}"}
    return {}


def build_openapi(app: Any, title: str, version: str, description: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route of ``app`` with ``include_in_schema``."""
    app.prepare()
    defs: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes:
        if not route.include_in_schema:
            continue
        item = paths.setdefault(route.openapi_path, {})
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": dict(conv.openapi)}
            for name, conv in route.param_converters.items()
        ]
        for method in sorted(route.methods):
            op: dict[str, Any] = {"operationId": f"{route.name}_{method.lower()}"}
            if route.summary:
                op["summary"] = route.summary
            if route.description:
                op["description"] = route.description
            if route.tags:
                op["tags"] = list(route.tags)
            if parameters:
                op["parameters"] = parameters
            if route.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": type_schema(route.body, defs)}},
                }
            ok: dict[str, Any] = {"description": "Successful response"}
            if route.response is not None:
                ok["content"] = {"application/json": {"schema": type_schema(route.response, defs)}}
            responses: dict[str, Any] = {"200": ok}
            for status, spec in route.responses.items():
                responses[str(status)] = spec if isinstance(spec, dict) else {"description": str(spec)}
            error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            if route.body is not None:
                responses.setdefault("400", {"description": "Invalid request body", "content": error_ref})
            if parameters:
                responses.setdefault("404", {"description": "Not found", "content": error_ref})
            responses.setdefault("500", {"description": "Internal error", "content": error_ref})
            op["responses"] = responses
            item[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": defs},
    }


_DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{base}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui"}});</script>
</body></html>"""


def enable_docs(
    app: Any, title: str, version: str, description: str, *, openapi_path: str, docs_path: str
) -> None:
    cache: dict[str, bytes] = {}
    app.docs = {"title": title, "version": version, "description": description, "openapi_path": openapi_path}

    async def openapi_json(request: Any) -> HTTPResponse:
        if "spec" not in cache:
            from conduit.http.response import dumps

            cache["spec"] = dumps(build_openapi(request.app, title, version, description))
        return HTTPResponse(200, cache["spec"], {"Content-Type": "application/json"})

    async def docs(request: Any) -> HTTPResponse:
        try:
            import swagger_ui_bundle  # noqa: F401
        except ImportError:
            return HTTPResponse(503).html(
                "<p>Swagger UI is not installed: <code>pip install 'conduit[docs]'</code>. "
                f'The OpenAPI document is at <a href="{openapi_path}">{openapi_path}</a>.</p>'
            )
        return HTTPResponse().html(_DOCS_HTML.format(title=title, base=f"{docs_path}/assets", spec=openapi_path))

    async def asset(request: Any, name: str) -> HTTPResponse:
        from conduit.framework.errors import NotFoundError

        try:
            import swagger_ui_bundle
        except ImportError:
            raise NotFoundError("Not Found", "Swagger UI is not installed") from None
        from pathlib import Path

        allowed = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "application/javascript"}
        if name not in allowed:
            raise NotFoundError("Not Found", f"no docs asset {name!r}")
        data = (Path(swagger_ui_bundle.swagger_ui_path) / name).read_bytes()
        return HTTPResponse(200, data, {"Content-Type": allowed[name], "Cache-Control": "public, max-age=86400"})

    app.add_route(openapi_path, openapi_json, ["GET"], include_in_schema=False, name="openapi")
    app.add_route(docs_path, docs, ["GET"], include_in_schema=False, name="docs")
    app.add_route(docs_path + "/assets/{name}", asset, ["GET"], include_in_schema=False, name="docs_asset")
