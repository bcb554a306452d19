"""The application: routes, middleware, lifecycle and the app's own plugin manager.

``Conduit`` is a library object first: ``await app.handle(request)`` answers one request,
``app.run()`` serves it over HTTP, ``conduit.testing.TestClient(app)`` drives it in-process.
Plugins are loaded when the app is prepared (first request, server start or TestClient),
so settings and environment are read at that point, not at import.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from conduit.config import Settings, load_settings
from conduit.framework.errors import (
    ConfigurationError,
    MethodNotAllowedError,
    NotFoundError,
    PluginError,
)
from conduit.framework.metrics import QUEUE_LIMIT, UNMATCHED_ROUTE, Metrics
from conduit.hookcalls import (
    call,
    call_each,
    call_registration,
    plugin_in_traceback,
    plugin_of,
)
from conduit.http.datastructures import State
from conduit.http.handlers import compile_handler
from conduit.http.middleware import as_middleware, build_chain
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse
from conduit.http.routing import Route, RouteDecorators, Router
from conduit.plugins import (
    PluginManager,
    activate,
    create_plugin_manager,
    plugin_api,
    resolve,
)
from conduit.plugins import _current as _CURRENT  # the kernel's own context variable

__all__ = ["Conduit"]

logger = logging.getLogger("conduit")

_UNSET: Any = object()


class Conduit(RouteDecorators):
    """A Conduit application.

    ``host``/``port`` are the seed's constructor arguments; any other setting of
    :data:`conduit.config.KERNEL_SCHEMA` may be given as a keyword (``max_body_size=...``).
    ``plugins`` (the installed plugins to enable for this app; ``["*"]`` for all) and
    ``disabled_plugins`` (never loaded) override configuration; ``extra_plugins`` registers
    plugin objects or modules directly, enabled.
    """

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        plugins: Iterable[str] | None = _UNSET,
        disabled_plugins: Iterable[str] | None = None,
        extra_plugins: Iterable[Any] = (),
        plugin_manager: PluginManager | None = None,
        settings: Settings | None = None,
        **overrides: Any,
    ) -> None:
        if host is not None:
            overrides["host"] = host
        if port is not None:
            overrides["port"] = port
        if plugins is not _UNSET:
            overrides["plugins"] = list(plugins) if plugins is not None else None
        if disabled_plugins is not None:
            overrides["disabled_plugins"] = list(disabled_plugins)
        self.settings = settings if settings is not None else load_settings(overrides)
        self.settings.raise_for_problems()
        self.router = Router()
        self.state = State()
        self.health_checks: dict[str, Callable[[], Any]] = {}
        self.docs: Any = None
        self._middleware: list[tuple[Any, str]] = []
        self._startup: list[Callable[[], Any]] = []
        self._shutdown: list[Callable[[], Any]] = []
        self._extra_plugins = list(extra_plugins)
        self._pm = plugin_manager
        self._prepared = False
        self._started = False
        self._chain: Callable[[HTTPRequest], Any] | None = None
        self.request_metrics: Metrics | None = None
        """The registry this app counts every served request into (latency, throughput,
        ``http_requests_total``...), or None. The ``monitoring`` setting (on by default) sets
        the process's registry here; set another before the app starts to count elsewhere."""
        self._request_queue: deque[Any] | None = None
        self._timed = False
        self._on_started = False
        self._on_finished = False
        self._started_hook: Any = None
        self._finished_hook: Any = None
        self._state_store: Any = None

    # --- plugins ----------------------------------------------------------------------

    @property
    def plugin_manager(self) -> PluginManager:
        """This app's plugin manager, built on first use from its settings."""
        if self._pm is None:
            self._pm = create_plugin_manager(self.settings, extra_plugins=self._extra_plugins)
        return self._pm

    @property
    def hook(self) -> Any:
        return self.plugin_manager.hook

    def enable_plugin(self, name: str, plugin: Any = None) -> None:
        """Enable installed plugin ``name`` for this app, as ``plugins = [name]`` would.

        ``plugin`` (a module or object) is registered under ``name`` first when no installed
        plugin has that name. Call it before the app starts serving.
        """
        self._check_not_prepared(f"enable plugin {name!r}")
        pm = self.plugin_manager
        if pm.get_plugin(name) is None:
            if plugin is None:
                installed = ", ".join(sorted(n for n, p in pm.list_name_plugin() if p is not None and "." not in n))
                raise PluginError(f"no installed plugin is named {name!r}; installed: {installed or 'none'}")
            if pm.is_blocked(name):
                pm.enable(name)  # raises: disabled in configuration
            pm.register(plugin, name=name)
        pm.enable(name)

    # --- routes -----------------------------------------------------------------------

    def add_route(self, path: str, endpoint: Callable[..., Any], methods: Iterable[str] = ("GET",), **meta: Any) -> Route:
        self._check_not_prepared("add a route")
        return self.router.add_route(path, endpoint, methods, **meta)

    def include(self, router: Router, prefix: str = "") -> None:
        """Add every route of ``router`` under ``prefix`` (``app.include(api, prefix="/v1")``)."""
        self._check_not_prepared("include a router")
        self.router.include(router, prefix)

    @property
    def routes(self) -> list[Route]:
        return list(self.router.routes)

    @property
    def state_store(self) -> Any:
        """The app's shared state store (``conduit.storage``): memory, or Redis when
        ``redis_url`` is configured. Made on first use; closed when the app shuts down,
        so an app started again gets a fresh one."""
        if self._state_store is None:
            from conduit.storage import create_state_store

            self._state_store = create_state_store(settings=self.settings)
        return self._state_store

    @property
    def middleware(self) -> list[tuple[Any, str]]:
        """``(middleware, owner)`` outermost first: plugins' (once prepared), then ``app.use``'s."""
        return list(self._middleware)

    # --- middleware and lifecycle ---------------------------------------------------------

    def use(self, middleware: Any) -> Any:
        """Add middleware; the first added is the outermost (see conduit.http.middleware)."""
        self._check_not_prepared("add middleware")
        self._middleware.append((as_middleware(middleware), "app"))
        return middleware

    def on_startup(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``fn`` (sync or async) after plugins started, before serving."""
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``fn`` (sync or async) when the server stops, before plugins shut down."""
        self._shutdown.append(fn)
        return fn

    def enable_docs(
        self,
        title: str = "API Documentation",
        version: str = "1.0.0",
        description: str = "API built with Conduit",
        *,
        openapi_path: str = "/openapi.json",
        docs_path: str = "/docs",
        public: bool = False,
    ) -> None:
        """Serve the OpenAPI document at ``/openapi.json`` and Swagger UI at ``/docs``.

        With API keys configured they need a key like every route, unless ``public=True``."""
        from conduit.openapi import enable_docs

        enable_docs(self, title, version, description, openapi_path=openapi_path, docs_path=docs_path, public=public)

    @property
    def asgi(self) -> Any:
        """This app as an ASGI 3 application (``uvicorn mymodule:app.asgi``)."""
        from conduit.asgi import ASGIAdapter

        return ASGIAdapter(self)

    def mount(self, prefix: str, asgi_app: Any, *, name: str | None = None) -> None:
        """Serve an ASGI application under ``prefix`` (it sees ``prefix`` as its root_path)."""
        from conduit.asgi import mount

        self._check_not_prepared("mount an app")
        mount(self, prefix, asgi_app, name=name)

    # --- one-call capabilities (each resolves its module or plugin at call time) ------------

    def model_endpoint(self, path: str, model: Any, **options: Any) -> Any:
        """Serve ``model`` at ``path`` (micro-batched; see :func:`conduit.ml.endpoints.model_endpoint`)."""
        from conduit.ml.endpoints import model_endpoint

        return model_endpoint(self, path, model, **options)

    def mount_mcp(self, path: str, server: Any, **options: Any) -> Any:
        """Serve an MCP server over Streamable HTTP at ``path`` (needs conduit-mcp)."""
        return plugin_api("mcp", "The MCP server", "mcp", self.plugin_manager).mount_mcp(self, path, server, **options)

    def vector_endpoints(self, db: Any, prefix: str = "/vectors", **options: Any) -> Any:
        """Serve a vector database's add/upsert/search/delete/count under ``prefix`` (needs conduit-vector)."""
        api = plugin_api("vector", "Vector endpoints", "vector", self.plugin_manager)
        return api.vector_endpoints(self, db, prefix, **options)

    @property
    def prepared(self) -> bool:
        """Whether routes, middleware and plugins are fixed (the app started or served)."""
        return self._prepared

    def _check_not_prepared(self, what: str) -> None:
        if self._prepared:
            raise ConfigurationError(f"cannot {what} after the app started serving; do it before app.run()")

    # --- preparing ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Load plugins, collect their routes and middleware, compile the handler chain.

        Idempotent; called by ``startup()``, the server and the TestClient. Settings schemas
        come from every loaded plugin; everything else from the built-ins and the plugins
        enabled for this app, through pluggy in its order.
        """
        if self._prepared:
            return
        pm = self.plugin_manager
        for schema in call(pm.hook.conduit_config_schema):
            if schema:
                self.settings.extend(schema)
        self.settings.raise_for_problems()
        configure = pm.app_hook("conduit_configure")
        for result in call(configure, app=self, settings=self.settings):
            if inspect.isawaitable(result):
                name = plugin_of(configure, result) or "?"
                if inspect.iscoroutine(result):
                    result.close()
                raise PluginError(
                    f"plugin {name!r}: conduit_configure must be synchronous (routes are collected right after "
                    "it); do asynchronous set-up in conduit_startup"
                )
        router = self.router

        def add_route(owner: str, methods: str | Iterable[str], path: str, handler: Callable[..., Any], **meta: Any) -> Route:
            method_list = [methods] if isinstance(methods, str) else list(methods)
            return router.add_route(path, handler, method_list, owner=owner, **meta)

        def include(owner: str, other: Router, prefix: str = "") -> None:
            router.include(other, prefix, owner=owner)

        call_registration(pm.app_hook("conduit_register_routes"), add_route, attributes={"include": include}, app=self)
        plugin_mw: list[tuple[int, int, Any, str]] = []

        def add_middleware(owner: str, middleware: Any, order: int = 0) -> None:
            plugin_mw.append((order, len(plugin_mw), as_middleware(middleware), owner))

        call_registration(pm.app_hook("conduit_register_middleware"), add_middleware, app=self)

        def add_health_check(owner: str, name: str, check: Callable[[], Any]) -> None:
            if name in self.health_checks:
                raise ConfigurationError(f"health check {name!r} registered twice (second by {owner})")
            self.health_checks[name] = check

        call_registration(pm.app_hook("conduit_register_health_checks"), add_health_check, app=self)
        for route in self.router.routes:
            self._compile_route(route)
        ordered = [(mw, owner) for _, _, mw, owner in sorted(plugin_mw, key=lambda t: (t[0], t[1]))]
        self._middleware[:0] = ordered
        self._chain = build_chain([mw for mw, _ in self._middleware], _call_endpoint)
        self._started_hook = pm.app_hook("conduit_request_started")
        self._finished_hook = pm.app_hook("conduit_request_finished")
        self._on_started = bool(self._started_hook.get_hookimpls())
        self._on_finished = bool(self._finished_hook.get_hookimpls())
        self._request_queue = self.request_metrics.request_queue if self.request_metrics is not None else None
        self._timed = self._on_started or self._on_finished or self._request_queue is not None
        self._prepared = True

    def _compile_route(self, route: Route) -> None:
        invoke = compile_handler(route.endpoint, set(route.param_converters))
        route_mw = getattr(route.endpoint, "__conduit_middleware__", ())
        if route_mw:
            invoke = build_chain(route_mw, invoke)
        route.invoke = invoke

    # --- lifecycle ------------------------------------------------------------------------

    async def startup(self) -> None:
        """Prepare, then run plugins' ``conduit_startup`` and ``on_startup`` callbacks.

        This app's plugin manager is the current one while they run (and in the tasks
        they start), so facades and ``span()`` reach it.
        """
        if self._started:
            return
        self.prepare()
        token = activate(self._pm)
        try:
            caller = self.plugin_manager.app_hook("conduit_startup")
            for result in call(caller, app=self):
                try:
                    await resolve(result)
                except Exception as exc:
                    name = plugin_of(caller, result) or plugin_in_traceback(caller, exc) or "?"
                    raise PluginError(f"plugin {name!r} failed to start: {type(exc).__name__}: {exc}") from exc
            for fn in self._startup:
                await resolve(fn)
        finally:
            _reset(token)
        self._started = True

    async def shutdown(self) -> None:
        """Run ``on_shutdown`` callbacks, then plugins' ``conduit_shutdown``; log, never raise.

        Each plugin's shutdown is called in turn (pluggy's order), so one failing never
        keeps another's from running.
        """
        if not self._started:
            return
        self._started = False
        token = activate(self._pm)
        try:
            for fn in reversed(self._shutdown):
                try:
                    await resolve(fn)
                except Exception:
                    logger.exception("shutdown callback %r failed", fn)
            pm = self.plugin_manager
            for name, result in call_each(pm, pm.app_hook("conduit_shutdown"), app=self):
                try:
                    if isinstance(result, Exception):
                        raise result
                    await resolve(result)
                except Exception:
                    logger.exception("plugin %r failed to shut down", name)
            store, self._state_store = self._state_store, None
            if store is not None:
                try:
                    await store.close()
                except Exception:
                    logger.exception("closing the state store failed")
        finally:
            _reset(token)

    # --- serving ------------------------------------------------------------------------

    async def handle(self, request: HTTPRequest) -> HTTPResponse:
        """Route ``request``, run it through middleware and its handler; never raises.

        This app's plugin manager is the current one meanwhile (the server makes it so for
        every connection it serves; an ASGI server or a test client gets it here).
        """
        if _CURRENT.get() is self._pm:  # the server set it for every connection: the usual case
            return await self._handle(request)
        token = activate(self._pm)
        try:
            return await self._handle(request)
        finally:
            _reset(token)

    async def _handle(self, request: HTTPRequest) -> HTTPResponse:
        request.app = self
        match = self.router.match(request.method, request.raw_path)
        route = match.route
        if route is not None:
            request.route = route
            request.params = match.params
            request.endpoint = route.invoke
        elif match.allowed:
            request.endpoint = _options if request.method == "OPTIONS" else _method_not_allowed(match.allowed)
        else:
            request.endpoint = _not_found
        if not self._timed:
            return await self._chain(request)  # type: ignore[misc]
        if self._on_started:
            self._started_hook(request=request)
        start = perf_counter()
        response = await self._chain(request)  # type: ignore[misc]
        end = perf_counter()
        queue = self._request_queue
        if queue is not None:
            # The request metrics, inline: this runs for every request, so it only queues
            # the request; the registry counts the queue in batches (Metrics.request_queue).
            route = request.route
            queue.append((request.method, UNMATCHED_ROUTE if route is None else route.path, response.status_code,
                          end - start, end))
            if len(queue) >= QUEUE_LIMIT:
                self.request_metrics.count_queued()  # type: ignore[union-attr]
        if self._on_finished:
            self._finished_hook(request=request, response=response, duration=end - start)
        return response

    def run(
        self,
        host: str | None = "",
        port: int | None = 0,
        *,
        workers: int | None = None,
        http: str | None = None,
        loop: str | None = None,
        banner: bool = True,
    ) -> None:
        """Serve until SIGINT/SIGTERM (blocks).

        As in the seed, an empty ``host`` and a zero ``port`` keep the configured ones; for a
        free port configure ``port=0`` (``Conduit(port=0)``, ``CONDUIT_PORT=0``, ``--port 0``).
        """
        from conduit.server.runner import serve_forever

        serve_forever(
            self,
            host=host or self.settings.host,
            port=port or self.settings.port,
            workers=workers or self.settings.workers,
            http=http or self.settings.http,
            loop=loop or self.settings.loop,
            banner=banner,
        )

    def __repr__(self) -> str:
        return f"<Conduit {len(self.router.routes)} routes>"


def _reset(token: Any) -> None:
    """Undo :func:`activate`; a token from another context (a generator resumed elsewhere) is let go."""
    try:
        token.var.reset(token)
    except ValueError:
        pass


async def _call_endpoint(request: HTTPRequest) -> HTTPResponse:
    route = request.route
    if route is not None and request._body is None and not route.stream:
        await request._read()
    return await request.endpoint(request)


async def _not_found(request: HTTPRequest) -> HTTPResponse:
    raise NotFoundError("Not Found", f"no route matches {request.method} {request.path}", code="route_not_found")


async def _options(request: HTTPRequest) -> HTTPResponse:
    allowed = _allow_header(request.app.router.match("OPTIONS", request.raw_path).allowed)
    response = HTTPResponse(204)
    response.headers["Allow"] = allowed
    return response


def _allow_header(methods: Iterable[str]) -> str:
    return ", ".join(sorted(methods))


def _method_not_allowed(allowed: frozenset[str]) -> Callable[[HTTPRequest], Any]:
    async def endpoint(request: HTTPRequest) -> HTTPResponse:
        raise MethodNotAllowedError(
            "Method Not Allowed",
            f"{request.path} does not support {request.method}; allowed: {_allow_header(allowed)}",
            headers={"Allow": _allow_header(allowed)},
            code="method_not_allowed",
        )

    return endpoint

