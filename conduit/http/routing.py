"""Routes and the router: a segment trie matched at run time.

Patterns are ``/users/{id}``, ``/users/{id:int}`` or the seed's ``/users/:id``.
Converters: ``str`` (default, one non-empty segment), ``int``, ``float``, ``uuid`` and
``path`` (the rest of the path, slashes included; last segment only). Matching walks one
trie level per path segment — static children by dict lookup, then parameter children —
so its cost grows with the path's depth, not with the number of routes. Static segments
win over parameters, typed parameters over ``str``, and ``path`` comes last.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from conduit.errors import ConfigurationError

__all__ = [
    "CONVERTERS",
    "METHODS",
    "Converter",
    "Route",
    "RouteDecorators",
    "RouteMatch",
    "Router",
    "compile_pattern",
]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Converter:
    name: str
    regex: str
    convert: Callable[[str], Any]
    priority: int  # lower is tried first
    openapi: dict[str, Any]

    def __call__(self, raw: str) -> Any:
        return self.convert(raw)


def _to_int(raw: str) -> int:
    if not raw or not (raw.isdigit() or (raw[0] == "-" and raw[1:].isdigit())) or not raw.isascii():
        raise ValueError(raw)
    return int(raw)


def _to_float(raw: str) -> float:
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", raw):
        raise ValueError(raw)
    return float(raw)


def _to_uuid(raw: str) -> uuid.UUID:
    if len(raw) != 36:
        raise ValueError(raw)
    return uuid.UUID(raw)


def _to_str(raw: str) -> str:
    if not raw:
        raise ValueError(raw)
    return raw


CONVERTERS: dict[str, Converter] = {
    "int": Converter("int", r"-?[0-9]+", _to_int, 0, {"type": "integer"}),
    "uuid": Converter("uuid", r"[0-9a-fA-F-]{36}", _to_uuid, 1, {"type": "string", "format": "uuid"}),
    "float": Converter("float", r"-?[0-9]+(\.[0-9]+)?", _to_float, 2, {"type": "number"}),
    "str": Converter("str", r"[^/]+", _to_str, 3, {"type": "string"}),
    "path": Converter("path", r".*", str, 9, {"type": "string"}),
}

_OPENAPI_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|(?<=/):([A-Za-z_][A-Za-z0-9_]*)")
_PARAM = re.compile(r"^\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<conv>[a-z]+))?\}$|^:(?P<colon>[A-Za-z_][A-Za-z0-9_]*)$")


@dataclass
class Route:
    """One path pattern served by one handler for a set of methods, plus its metadata."""

    path: str
    methods: frozenset[str]
    endpoint: Callable[..., Any]
    name: str = ""
    summary: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    body: Any = None
    response: Any = None
    responses: dict[int, Any] = field(default_factory=dict)
    stream: bool = False
    include_in_schema: bool = True
    # Served without an API key when keys are configured (health probes; routes the app marks).
    public: bool = False
    # What an unauthenticated caller could do here ("spends money at the LLM providers"):
    # named by the start-up warning when no keys are configured on a non-loopback address.
    risk: str | None = None
    owner: str = "app"
    param_converters: dict[str, Converter] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # Set by the app when the route is compiled: the callable the kernel awaits.
    invoke: Any = None

    @property
    def openapi_path(self) -> str:
        """The pattern in OpenAPI form: ``/users/{id}`` for ``/users/{id:int}`` and ``/users/:id``."""
        return _OPENAPI_PARAM.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", self.path)


@dataclass
class RouteMatch:
    route: Route | None
    params: dict[str, Any]
    allowed: frozenset[str]  # methods the path supports (for 405 and OPTIONS)


def compile_pattern(path: str) -> list[tuple[str, str | None, Converter | None]]:
    """Split a pattern into ``(static_text, param_name, converter)`` segments; validate it."""
    if not path.startswith("/"):
        raise ConfigurationError(f"route path {path!r} must start with '/'")
    parts = path.split("/")[1:]
    segments: list[tuple[str, str | None, Converter | None]] = []
    seen: set[str] = set()
    for i, part in enumerate(parts):
        m = _PARAM.match(part)
        if m is None:
            if "{" in part or "}" in part:
                raise ConfigurationError(
                    f"route path {path!r}: segment {part!r} is not a valid parameter; "
                    "write {name} or {name:int|float|uuid|path|str} as a whole segment"
                )
            segments.append((part, None, None))
            continue
        name = m.group("name") or m.group("colon")
        conv_name = m.group("conv") or "str"
        conv = CONVERTERS.get(conv_name)
        if conv is None:
            raise ConfigurationError(
                f"route path {path!r}: unknown converter {conv_name!r}; use one of {', '.join(CONVERTERS)}"
            )
        if name in seen:
            raise ConfigurationError(f"route path {path!r}: parameter {name!r} appears twice")
        if conv.name == "path" and i != len(parts) - 1:
            raise ConfigurationError(f"route path {path!r}: a path parameter must be the last segment")
        seen.add(name)
        segments.append(("", name, conv))
    return segments


class _Node:
    __slots__ = ("allowed", "catchall", "params", "routes", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.params: list[tuple[str, Converter, _Node]] = []
        self.catchall: tuple[str, _Node] | None = None
        self.routes: dict[str, Route] = {}
        self.allowed: frozenset[str] = frozenset({"OPTIONS"})  # kept by add_route, read per match

    def add(self, method: str, route: Route) -> None:
        self.routes[method] = route
        allowed = set(self.routes) | {"OPTIONS"}
        if "GET" in allowed:
            allowed.add("HEAD")
        self.allowed = frozenset(allowed)


class RouteDecorators:
    """``route``/``get``/``post``/... decorators over a class's ``add_route`` (Router and Conduit)."""

    def add_route(self, path: str, endpoint: Callable[..., Any], methods: Iterable[str] = ("GET",), **meta: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define add_route")  # pragma: no cover

    def route(self, path: str, methods: Iterable[str] = ("GET",), **meta: Any) -> Callable[[Any], Any]:
        """Register the decorated handler for ``methods`` at ``path``."""

        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add_route(path, fn, methods, **meta)
            return fn

        return decorator

    def get(self, path: str, **meta: Any) -> Callable[[Any], Any]:
        """Register a GET handler (HEAD is answered from it too)."""
        return self.route(path, ("GET",), **meta)

    def post(self, path: str, **meta: Any) -> Callable[[Any], Any]:
        return self.route(path, ("POST",), **meta)

    def put(self, path: str, **meta: Any) -> Callable[[Any], Any]:
        return self.route(path, ("PUT",), **meta)

    def patch(self, path: str, **meta: Any) -> Callable[[Any], Any]:
        return self.route(path, ("PATCH",), **meta)

    def delete(self, path: str, **meta: Any) -> Callable[[Any], Any]:
        return self.route(path, ("DELETE",), **meta)

    def options(self, path: str, **meta: Any) -> Callable[[Any], Any]:
        return self.route(path, ("OPTIONS",), **meta)


class Router(RouteDecorators):
    """A set of routes with decorators; apps include routers under a prefix."""

    def __init__(self, prefix: str = "", *, tags: Iterable[str] = ()) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ConfigurationError(f"router prefix {prefix!r} must start with '/' and not end with '/'")
        self.prefix = prefix
        self.tags = tuple(tags)
        self.routes: list[Route] = []
        self._root = _Node()
        self._static: dict[str, _Node] = {}

    # --- registration -----------------------------------------------------------------

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] = ("GET",),
        **meta: Any,
    ) -> Route:
        full = (self.prefix + path) if path != "/" or not self.prefix else self.prefix
        segments = compile_pattern(full)
        method_set = frozenset(m.upper() for m in methods)
        bad = method_set - set(METHODS)
        if bad:
            raise ConfigurationError(f"route {full!r}: unsupported method(s) {sorted(bad)}; use {', '.join(METHODS)}")
        tags = tuple(meta.pop("tags", ()) or ()) + tuple(t for t in self.tags if t not in (meta.get("tags") or ()))
        doc = (getattr(endpoint, "__doc__", None) or "").strip()
        summary = meta.pop("summary", None) or (doc.splitlines()[0] if doc else None)
        description = meta.pop("description", None) or ("\n".join(doc.splitlines()[1:]).strip() or None)
        known = {f for f in Route.__dataclass_fields__ if f not in {"path", "methods", "endpoint", "extra"}}
        extra = {k: meta.pop(k) for k in list(meta) if k not in known}
        route = Route(
            path=full,
            methods=method_set,
            endpoint=endpoint,
            name=meta.pop("name", None) or getattr(endpoint, "__name__", "route"),
            summary=summary,
            description=description,
            tags=tags,
            param_converters={name: conv for _, name, conv in segments if name and conv},
            extra=extra,
            **meta,
        )
        node = self._insert(segments)
        for method in method_set:
            existing = node.routes.get(method)
            if existing is not None:
                raise ConfigurationError(
                    f"route {method} {full} is registered twice: by {existing.owner} "
                    f"({existing.name}) and by {route.owner} ({route.name}); remove one or change its path"
                )
        for method in method_set:
            node.add(method, route)
        self.routes.append(route)
        return route

    def _insert(self, segments: list[tuple[str, str | None, Converter | None]]) -> _Node:
        node = self._root
        all_static = True
        for text, name, conv in segments:
            if name is None:
                node = node.static.setdefault(text, _Node())
                continue
            all_static = False
            assert conv is not None
            if conv.name == "path":
                if node.catchall is None:
                    node.catchall = (name, _Node())
                elif node.catchall[0] != name:
                    raise ConfigurationError(
                        f"path parameter {name!r} conflicts with {node.catchall[0]!r} at the same position"
                    )
                node = node.catchall[1]
                continue
            for pname, pconv, child in node.params:
                if pconv.name == conv.name:
                    if pname != name:
                        raise ConfigurationError(
                            f"parameter {{{name}:{conv.name}}} conflicts with {{{pname}:{pconv.name}}} "
                            "at the same position of another route; use one name"
                        )
                    node = child
                    break
            else:
                child = _Node()
                node.params.append((name, conv, child))
                node.params.sort(key=lambda item: item[1].priority)
                node = child
        if all_static:
            self._static["/" + "/".join(t for t, _, _ in segments)] = node
        return node

    def include(self, other: Router, prefix: str = "", *, owner: str | None = None) -> None:
        """Copy ``other``'s routes in under ``prefix`` (plus ``other.prefix``, already applied)."""
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ConfigurationError(f"include prefix {prefix!r} must start with '/' and not end with '/'")
        for r in other.routes:
            path = prefix + r.path if r.path != "/" or not prefix else prefix
            self.add_route(
                path,
                r.endpoint,
                r.methods,
                name=r.name,
                summary=r.summary,
                description=r.description,
                tags=r.tags,
                body=r.body,
                response=r.response,
                responses=dict(r.responses),
                stream=r.stream,
                include_in_schema=r.include_in_schema,
                public=r.public,
                risk=r.risk,
                owner=owner or r.owner,
                **r.extra,
            )

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    # --- matching ---------------------------------------------------------------------

    def match(self, method: str, path: str) -> RouteMatch:
        """Find the route for ``method`` and the percent-encoded ``path``."""
        node = self._static.get(path)
        params: dict[str, Any] = {}
        if node is None or not node.routes:
            found = self._walk(self._root, path.split("/")[1:], 0, params)
            if found is None:
                return RouteMatch(None, {}, frozenset())
            node = found
        routes = node.routes
        route = routes.get(method)
        if route is None and method == "HEAD":
            route = routes.get("GET")
        return RouteMatch(route, params, node.allowed)

    def _walk(self, node: _Node, parts: list[str], i: int, params: dict[str, Any]) -> _Node | None:
        if i == len(parts):
            if node.routes:
                return node
            if node.catchall is not None and node.catchall[1].routes:
                params[node.catchall[0]] = ""
                return node.catchall[1]
            return None
        part = parts[i]
        child = node.static.get(part) if "%" not in part else node.static.get(unquote(part))
        if child is not None:
            found = self._walk(child, parts, i + 1, params)
            if found is not None:
                return found
        if node.params and part:
            value = unquote(part) if "%" in part else part
            for name, conv, pchild in node.params:
                try:
                    converted = conv.convert(value)
                except (ValueError, TypeError):
                    continue
                found = self._walk(pchild, parts, i + 1, params)
                if found is not None:
                    params[name] = converted
                    return found
        if node.catchall is not None and node.catchall[1].routes:
            params[node.catchall[0]] = unquote("/".join(parts[i:]))
            return node.catchall[1]
        return None
