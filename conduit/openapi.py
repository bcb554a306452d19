"""OpenAPI 3.1 document built from an app's routes, and Swagger UI served offline.

``app.enable_docs(title, version, description)`` adds ``GET /openapi.json`` (built once per
app, on first request: routes cannot change once the app serves) and ``GET /docs``. What
each operation says comes from:

- the path: typed parameters from the converters (``{id:int}``, ``:id``);
- the handler's signature: query parameters (keyword parameters with a query type, see
  :mod:`conduit.http.handlers`) and the response body (the return annotation);
- the route's metadata: ``summary``/``description`` (default: the docstring), ``tags``,
  ``body=`` and ``response=`` (any type annotation: builtins, ``list[...]``, ``dict[str, ...]``,
  ``X | None``, ``Literal``, enums, dataclasses, TypedDict, pydantic models, or an explicit
  JSON Schema ``dict``), ``status_code=`` (the success status), ``responses={404: "..."}``
  and ``query={"page": int, "q": str | None}`` for handlers that read ``request.query``
  themselves;
- the app: error responses the kernel and its middleware give (``Error`` schema), and
  security schemes when :class:`~conduit.framework.auth.AuthMiddleware` is on.

Swagger UI 5 (the first to render OpenAPI 3.1) comes from the ``swagger_ui_bundle`` module
of the ``swagger-ui-bundle-v2`` package (Conduit's ``docs`` extra), never from a CDN;
the page loads nothing from another origin (its Content-Security-Policy says so).
"""

from __future__ import annotations

import copy
import functools
import html
import http
import inspect
import re
import types
import typing
from collections.abc import AsyncIterable, Awaitable, Iterator, Mapping
from pathlib import Path
from typing import Any

from conduit.http.handlers import HandlerSignature, QueryParam, inspect_handler, query_type
from conduit.http.response import HTTPResponse, dumps
from conduit.http.routing import Route
from conduit.schema import INT64, NOT_JSON, SchemaBuilder, json_default

__all__ = ["ERROR_SCHEMA", "build_openapi", "enable_docs", "error_response", "type_schema"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "An error. The kernel's own errors (HTTPError and its subclasses, abort()) always carry "
        "error, detail and status; a handler that builds its own error body carries at least error."
    ),
    "properties": {
        "error": {"type": "string", "description": "a short, safe summary"},
        "detail": {"description": "what was wrong and what to change (any JSON value)"},
        "status": {"type": "integer", "description": "the HTTP status"},
        "request_id": {"type": "string"},
        "code": {"type": "string", "description": "a stable machine-readable error code"},
    },
    "required": ["error"],
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_COMPONENTS = "#/components/schemas/"
_SCHEMA_KEYS = {"type", "$ref", "properties", "items", "anyOf", "oneOf", "allOf", "enum", "const", "not"}


def error_response(description: str) -> dict[str, Any]:
    """A Response Object whose body is the ``Error`` schema, for ``responses={...}``."""
    return {"description": description, "content": {"application/json": {"schema": dict(_ERROR_REF)}}}


# --- JSON Schema from type annotations: conduit.schema, named types under components/schemas ----


def _components(defs: dict[str, Any]) -> SchemaBuilder:
    return SchemaBuilder(defs, ref_prefix=_COMPONENTS)


def type_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema (2020-12, as OpenAPI 3.1 uses) for a Python type annotation.

    Named types (dataclasses, TypedDicts, pydantic models) go into ``defs`` and are
    referred to as ``#/components/schemas/<Name>``; a type with no JSON form gives ``{}``.
    """
    return _components(defs).schema(tp)


# --- one operation -----------------------------------------------------------------------------

def _openapi_path(route: Route) -> str:
    """``/users/{id}`` for ``/users/{id:int}`` and the seed's ``/users/:id``."""
    return route.openapi_path


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    parameters = []
    for name, conv in route.param_converters.items():
        schema = dict(conv.openapi)
        if conv.name == "str":
            schema["minLength"] = 1  # an empty segment matches no route
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _scalar_schema(scalar: Any, comps: SchemaBuilder) -> dict[str, Any]:
    if scalar is int:  # what the query converter accepts
        return {"type": "integer", "format": "int64", "minimum": INT64[0], "maximum": INT64[1]}
    return comps.schema(scalar)


def _kwarg_query_parameter(q: QueryParam, comps: SchemaBuilder) -> dict[str, Any]:
    item = _scalar_schema(q.scalar, comps)
    schema = {"type": "array", "items": item} if q.many else item
    if not q.required:
        default = json_default(q.default)
        if default is not None and default is not NOT_JSON:
            schema["default"] = default
    parameter = {"name": q.name, "in": "query", "required": q.required, "schema": schema}
    if typing.get_origin(q.annotation) is typing.Annotated:  # Annotated[int, "a description"]
        texts = [m for m in typing.get_args(q.annotation)[1:] if isinstance(m, str)]
        if texts:
            parameter["description"] = " ".join(texts)
    return parameter


def _declared_query_parameter(name: str, spec: Any, comps: SchemaBuilder) -> dict[str, Any]:
    """A parameter from ``query={name: spec}``: a type, a JSON Schema, or a Parameter Object."""
    if isinstance(spec, Mapping) and ({"schema", "content", "in"} & set(spec)):
        return {"required": False, **copy.deepcopy(dict(spec)), "name": name, "in": "query"}
    if isinstance(spec, Mapping):
        return {"name": name, "in": "query", "required": False, "schema": copy.deepcopy(dict(spec))}
    optional = False
    if typing.get_origin(spec) in (typing.Union, types.UnionType) and type(None) in typing.get_args(spec):
        optional = True
        members = [a for a in typing.get_args(spec) if a is not type(None)]
        spec = members[0] if len(members) == 1 else typing.Union[tuple(members)]  # noqa: UP007
    qtype = query_type(spec)
    if qtype is not None:
        schema = _scalar_schema(qtype[0], comps)
        schema = {"type": "array", "items": schema} if qtype[1] else schema
    else:
        schema = comps.schema(spec)
    return {"name": name, "in": "query", "required": not optional, "schema": schema}


def _body_type(tp: Any) -> Any:
    """The return annotation as a body type, or None when it says nothing about the body."""
    if tp in (inspect.Signature.empty, Any, None, type(None)) or isinstance(tp, str):
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return tp if all(_body_type(a) is not None or a is type(None) for a in typing.get_args(tp)) else None
    if origin is tuple and len(typing.get_args(tp)) in (2, 3) and typing.get_args(tp)[1] is int:
        return None  # (body, status): the status is not known here
    if isinstance(tp, type) and issubclass(tp, HTTPResponse):
        return None
    base = origin or tp
    if isinstance(base, type) and issubclass(base, (AsyncIterable, Iterator, Awaitable)):
        return None  # a stream (or a StreamingResponse: an HTTPResponse, above)
    return tp


def _content(tp: Any, comps: SchemaBuilder, mode: str) -> dict[str, Any]:
    if tp is str:
        return {"text/plain": {"schema": {"type": "string"}}}
    if tp in (bytes, bytearray):
        return {"application/octet-stream": {"schema": {}}}
    return {"application/json": {"schema": comps.schema(tp, mode=mode)}}


def _is_response_object(spec: Mapping[str, Any]) -> bool:
    return "description" in spec and not (_SCHEMA_KEYS & set(spec))


def _response_object(status: str, spec: Any, comps: SchemaBuilder) -> dict[str, Any]:
    is_error = status[:1] in ("4", "5")
    if isinstance(spec, str):
        return error_response(spec) if is_error else {"description": spec}
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return {"description": spec[0], "content": _content(spec[1], comps, "serialization")}
    if isinstance(spec, Mapping) and _is_response_object(spec):
        return copy.deepcopy(dict(spec))
    return {"description": _phrase(status), "content": _content(spec, comps, "serialization")}


def _phrase(status: str) -> str:
    try:
        return http.HTTPStatus(int(status)).phrase
    except ValueError:
        return "Response"


def _description(route: Route) -> str | None:
    """The route's description; when it came from the docstring, the docstring dedented.

    The router keeps the docstring's lines after the first as they are (indented); here
    they are dedented as a whole, and all of it is the description when the summary was
    given explicitly.
    """
    raw = getattr(route.endpoint, "__doc__", None) or ""
    lines = raw.strip().splitlines()
    if not raw or route.description != ("\n".join(lines[1:]).strip() or None):
        return route.description  # given explicitly
    clean = inspect.cleandoc(raw)
    first, _, rest = clean.partition("\n")
    if route.summary == first.strip():
        return rest.strip() or None
    return clean or None


def _operation(route: Route, method: str, ctx: _Context) -> dict[str, Any]:
    sig: HandlerSignature = inspect_handler(route.endpoint, set(route.param_converters))
    op: dict[str, Any] = {"operationId": ctx.operation_id(route, method)}
    if route.summary:
        op["summary"] = route.summary
    description = _description(route)
    if description:
        op["description"] = description
    if route.tags:
        op["tags"] = list(route.tags)
    parameters = _path_parameters(route)
    parameters += [_kwarg_query_parameter(q, ctx.comps) for q in sig.query]
    declared = route.extra.get("query") or {}
    seen = {p["name"] for p in parameters if p["in"] == "query"}
    parameters += [_declared_query_parameter(n, s, ctx.comps) for n, s in declared.items() if n not in seen]
    if parameters:
        op["parameters"] = parameters
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": _content(route.body, ctx.comps, "validation")}

    responses: dict[str, Any] = {}
    body = route.response if route.response is not None else _body_type(sig.returns)
    status = route.extra.get("status_code")
    if status is None and body is None:
        if sig.returns in (None, type(None)) and not sig.takes_response:
            status = 204  # a None return with no response to fill is 204
        elif not any(str(code)[:1] == "2" for code in route.responses):
            status = 200
    elif status is None:
        status = 200
    if status is not None:
        ok: dict[str, Any] = {"description": "No content" if status == 204 else _phrase(str(status))}
        if body is not None and status != 204:
            ok["content"] = _content(body, ctx.comps, "serialization")
        responses[str(status)] = ok
    for code, spec in route.responses.items():
        obj = _response_object(str(code), spec, ctx.comps)
        if str(code) in responses and "content" in responses[str(code)] and "content" not in obj:
            obj["content"] = responses[str(code)]["content"]
        responses[str(code)] = obj
    for error_code, description in ctx.kernel_errors(route, op, sig):
        responses.setdefault(error_code, error_response(description))
    op["responses"] = dict(sorted(responses.items(), key=lambda kv: (kv[0][:1] not in "12345", kv[0])))
    security = ctx.security_for(route)
    if security is not None:
        op["security"] = security
    return op


# --- the document ------------------------------------------------------------------------------


class _Context:
    """What one document's operations share: components, operation ids, the app's middleware."""

    def __init__(self, app: Any) -> None:
        self.comps = _components({"Error": copy.deepcopy(ERROR_SCHEMA)})
        self._ids: set[str] = set()
        self.middleware = [_unwrap(mw) for mw, _owner in getattr(app, "_middleware", [])]
        from conduit.framework.auth import AuthMiddleware

        self.auth = [mw for mw in self.middleware if isinstance(mw, AuthMiddleware) and mw.enabled]
        self.schemes: dict[str, Any] = {}
        self.requirement: list[dict[str, list[str]]] = []
        for i, mw in enumerate(self.auth):
            suffix = "" if i == 0 else str(i + 1)
            self.schemes[f"ApiKeyAuth{suffix}"] = {
                "type": "apiKey", "in": "header", "name": mw.header_name,
                "description": "An API key (AuthMiddleware)",
            }
            self.requirement.append({f"ApiKeyAuth{suffix}": []})
            if mw.bearer:
                self.schemes[f"BearerAuth{suffix}"] = {
                    "type": "http", "scheme": "bearer", "description": "The same API key as `Authorization: Bearer <key>`",
                }
                self.requirement.append({f"BearerAuth{suffix}": []})

    def operation_id(self, route: Route, method: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", f"{route.name}_{method.lower()}").strip("_") or method.lower()
        candidate, n = base, 2
        while candidate in self._ids:
            candidate, n = f"{base}_{n}", n + 1
        self._ids.add(candidate)
        return candidate

    def _protected(self, route: Route) -> bool:
        from conduit.framework.ratelimit import path_matches

        path = _openapi_path(route)
        return any(
            path_matches(path, mw.protected_prefixes) and not path_matches(path, mw.exempt_paths) for mw in self.auth
        )

    def security_for(self, route: Route) -> list[dict[str, list[str]]] | None:
        """None: the document's default applies; [] for an exempt route when auth is on."""
        if not self.auth or self._protected(route):
            return None
        return []

    def kernel_errors(self, route: Route, op: dict[str, Any], sig: HandlerSignature) -> list[tuple[str, str]]:
        """The errors the kernel and the app's middleware may answer this operation with."""
        from conduit.framework.limits import ConnectionLimit, RequestSizeLimit, RequestTimeout
        from conduit.framework.ratelimit import RateLimiter, path_matches

        errors: list[tuple[str, str]] = []
        if "requestBody" in op:
            errors.append(("400", "The body is not valid JSON"))
        if self.auth and self._protected(route):
            errors.append(("401", "No API key, or one that is not valid (see WWW-Authenticate)"))
        if route.param_converters:
            errors.append(("404", "Not found (also when a path parameter does not convert)"))
        if sig.query:
            errors.append(("422", "A query parameter is missing or does not convert; the detail names it"))
        path = _openapi_path(route)
        for mw in self.middleware:
            if isinstance(mw, RequestSizeLimit) and "requestBody" in op:
                errors.append(("413", "The body is larger than the app accepts"))
            elif isinstance(mw, RateLimiter) and not path_matches(path, mw.exempt_paths):
                errors.append(("429", "Rate limit exceeded; retry after Retry-After seconds"))
            elif isinstance(mw, ConnectionLimit):
                errors.append(("503", "Too many requests in progress; retry after Retry-After seconds"))
            elif isinstance(mw, RequestTimeout):
                errors.append(("504", "The request took longer than the app's timeout"))
        errors.append(("500", "Internal error: the body carries the request id, never the cause"))
        return errors


def _unwrap(mw: Any) -> Any:
    """The middleware object behind what ``app.use`` stored (a bound ``dispatch`` method)."""
    return getattr(mw, "__self__", mw)


def build_openapi(app: Any, title: str, version: str, description: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route of ``app`` with ``include_in_schema``."""
    app.prepare()
    ctx = _Context(app)
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes:
        if not route.include_in_schema:
            continue
        item = paths.setdefault(_openapi_path(route), {})
        for method in sorted(route.methods):
            item[method.lower()] = _operation(route, method, ctx)
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    doc: dict[str, Any] = {"openapi": "3.1.0", "info": info}
    doc["paths"] = paths
    components: dict[str, Any] = {"schemas": ctx.comps.defs}
    if ctx.schemes:
        components["securitySchemes"] = ctx.schemes
        doc["security"] = ctx.requirement
    doc["components"] = components
    return doc


# --- Swagger UI ----------------------------------------------------------------------------------

_DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{base}/favicon-32x32.png">
<link rel="stylesheet" href="{base}/swagger-ui.css?v={v}"></head>
<body><div id="swagger-ui"></div>
<script src="{base}/swagger-ui-bundle.js?v={v}"></script>
<script src="{base}/init.js"></script>
</body></html>"""
# Everything from this origin; inline styles because Swagger UI (React) sets style attributes.
_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
_MIN_SWAGGER_UI = (5, 0, 0)  # the first Swagger UI that renders OpenAPI 3.1
_DOCS_REQUIREMENT = "swagger-ui-bundle-v2>=5.31"  # the `docs` extra in pyproject.toml


@functools.lru_cache(maxsize=1)
def swagger_ui() -> tuple[Path | None, str]:
    """``(folder of the newest installed Swagger UI >= 5, its version)``; folder None when missing.

    The version is "" when no ``swagger_ui_bundle`` module is installed at all.
    """
    try:
        import swagger_ui_bundle
    except ImportError:
        return None, ""
    vendor = Path(swagger_ui_bundle.__file__).parent / "vendor"
    found: list[tuple[tuple[int, ...], Path]] = []
    for folder in vendor.glob("swagger-ui-*"):
        m = re.fullmatch(r"swagger-ui-(\d+)\.(\d+)\.(\d+)", folder.name)
        if m and (folder / "swagger-ui-bundle.js").is_file():
            found.append((tuple(int(g) for g in m.groups()), folder))
    if not found:
        return None, ""
    best_version, best = max(found)
    version = ".".join(map(str, best_version))
    return (best if best_version >= _MIN_SWAGGER_UI else None), version


def _missing_ui_page(version: str, openapi_path: str) -> HTTPResponse:
    # The package itself, not `pip install "<clone>[docs]"`: a response never names a local path.
    install = html.escape(f"pip install '{_DOCS_REQUIREMENT}'", quote=False)
    why = (
        f"Swagger UI {html.escape(version)} is installed, which cannot render OpenAPI 3.1. "
        "Swagger UI 5 comes with <code>swagger-ui-bundle-v2</code>: "
        f"<code>pip uninstall swagger-ui-bundle; {install}</code>."
        if version
        else f"Swagger UI is not installed: <code>{install}</code> (Conduit's <code>docs</code> extra)."
    )
    link = html.escape(openapi_path)
    return HTTPResponse(503).html(f'<p>{why} The OpenAPI document is at <a href="{link}">{link}</a>.</p>')


def enable_docs(
    app: Any, title: str, version: str, description: str, *, openapi_path: str, docs_path: str, public: bool = False
) -> None:
    """Add the document, the page and its assets to ``app`` (see :meth:`Conduit.enable_docs`).

    ``public``: served without an API key when keys are configured (otherwise they need one,
    like every route)."""
    cache: dict[int, bytes] = {}
    app.docs = {"title": title, "version": version, "description": description, "openapi_path": openapi_path}
    base = f"{docs_path}/assets"

    async def openapi_json(request: Any) -> HTTPResponse:
        key = id(request.app)
        if key not in cache:  # routes are fixed once the app serves: build once per app
            cache[key] = dumps(build_openapi(request.app, title, version, description))
        return HTTPResponse(200, cache[key], {"Content-Type": "application/json"})

    async def docs(request: Any) -> HTTPResponse:
        folder, ui_version = swagger_ui()
        if folder is None:
            return _missing_ui_page(ui_version, openapi_path)
        page = _DOCS_HTML.format(title=html.escape(title), base=base, v=ui_version)
        response = HTTPResponse().html(page)
        response.headers["Content-Security-Policy"] = _DOCS_CSP
        return response

    url = dumps(openapi_path).decode()
    init_js = (
        f"window.ui = SwaggerUIBundle({{url: {url}, dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null}});\n"
    ).encode()

    async def asset(request: Any, name: str) -> HTTPResponse:
        from conduit.framework.errors import NotFoundError

        if name == "init.js":
            return HTTPResponse(200, init_js, {"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache"})
        folder, _ = swagger_ui()
        if folder is None or name not in _ASSETS:
            raise NotFoundError("Not Found", f"no docs asset {name!r}" if folder else "Swagger UI 5 is not installed")
        data = (folder / name).read_bytes()
        return HTTPResponse(200, data, {"Content-Type": _ASSETS[name], "Cache-Control": "public, max-age=86400"})

    app.add_route(openapi_path, openapi_json, ["GET"], include_in_schema=False, name="openapi", public=public)
    app.add_route(docs_path, docs, ["GET"], include_in_schema=False, name="docs", public=public)
    app.add_route(base + "/{name}", asset, ["GET"], include_in_schema=False, name="docs_asset", public=public)

