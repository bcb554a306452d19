"""Every hook a Conduit plugin can implement.

A plugin is a module (or object) with functions decorated ``@conduit.hookimpl`` whose
names match the specs below; it is registered under the entry-point group ``conduit``.
A hookimpl may take fewer parameters than its spec. Hooks may return a value, a
coroutine or a callable returning either: the kernel resolves it ("await me maybe").

Registration hooks receive a ``register`` callable owned by the kernel, which
validates, orders and rejects duplicates with an error naming both plugins.

*App hooks* change what an app serves: the kernel calls them for its built-ins and for
the plugins enabled for that app (``plugins = [...]``, ``app.enable_plugin``), never
merely because a plugin is installed (``conduit.plugins.APP_HOOKS``). Every other hook
offers something to code and is called for every installed plugin that is not disabled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from conduit.app import Conduit
    from conduit.config import Settings
    from conduit.http.request import HTTPRequest
    from conduit.http.response import HTTPResponse

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("conduit")
hookimpl = pluggy.HookimplMarker("conduit")


# --- lifecycle ---------------------------------------------------------------------


@hookspec
def conduit_config_schema() -> dict[str, Any] | None:
    """Declare the settings a plugin reads.

    Called once when settings are validated (at app start-up and by ``conduit check``).
    Return a mapping ``{name: Setting(...)}`` (see :class:`conduit.config.Setting`);
    names are looked up in ``[tool.conduit]`` / ``conduit.toml`` and as ``CONDUIT_<NAME>``.
    Unknown keys in configuration that no schema claims are reported by ``conduit check``.
    """


@hookspec
def conduit_check(settings: Settings, warn: Callable[[str], None], fail: Callable[[str], None]) -> None:
    """``conduit check`` asks what would go wrong at run time: report it before serving.

    Fires once per ``conduit check``, after settings are validated, with the validated
    :class:`conduit.config.Settings`. Call ``warn(message)`` for something that works but
    not as configured (printed as a warning) and ``fail(message)`` for something that will
    not work (``conduit check`` then exits 1). Messages say what to change. Return nothing;
    an exception is reported as a failure naming the plugin.
    """


@hookspec
def conduit_configure(app: Conduit, settings: Settings) -> Any:
    """App hook. The app is being prepared; read ``settings`` and set the plugin up.

    Fires once per app, before routes and middleware are collected. ``settings`` is the
    validated :class:`conduit.config.Settings`. Synchronous: return nothing (a coroutine
    is refused with an error; do asynchronous set-up in ``conduit_startup``).
    """


@hookspec
def conduit_startup(app: Conduit) -> Any:
    """App hook. The server is about to accept connections (or a TestClient is opened).

    Open pools, load models, warm caches here. May return a coroutine, which the kernel
    awaits before serving. An exception aborts start-up with the plugin's name.
    """


@hookspec
def conduit_shutdown(app: Conduit) -> Any:
    """App hook. The server stopped accepting and in-flight requests are done (or timed out).

    Close what ``conduit_startup`` opened. May return a coroutine. Runs for every
    plugin even if another one's shutdown raised; failures are logged by plugin name.
    """


# --- routing and middleware ---------------------------------------------------------


@hookspec
def conduit_register_routes(register: Callable[..., Any], app: Conduit) -> None:
    """App hook. Add routes to the app.

    ``register(method_or_methods, path, handler, **meta)`` adds one route (``meta`` as in
    :meth:`Conduit.route`: ``name``, ``summary``, ``tags``, ``body``, ``response``,
    ``stream``, ``include_in_schema``); ``register.include(router, prefix="")`` adds a
    whole :class:`conduit.http.routing.Router`. A path/method pair registered twice is a
    start-up error naming both owners.
    """


@hookspec
def conduit_register_middleware(register: Callable[..., Any], app: Conduit) -> None:
    """App hook. Add middleware to the app.

    ``register(middleware, order=0)``: ``middleware`` is an async callable
    ``(request, call_next) -> HTTPResponse`` or an object with ``apply(request,
    response)``. Plugin middleware wraps the app's own ``app.use`` middleware; lower
    ``order`` is further out (runs earlier on the request, later on the response).
    """


# --- inference ------------------------------------------------------------------------


@hookspec
def conduit_register_model_loaders(register: Callable[..., Any]) -> None:
    """Teach :func:`conduit.ml.load_model` a model format.

    ``register(name, loader, suffixes=(".onnx",), schemes=())``: ``loader(path_or_uri,
    **options)`` returns a model object with ``predict``. The kernel picks a loader by
    the path's suffix or the URI's scheme; a second loader for the same suffix is a
    start-up error naming both plugins.
    """


@hookspec
def conduit_execution_providers() -> list[str] | None:
    """Name the inference execution providers that really work on this machine.

    Return a list such as ``["CUDAExecutionProvider", "CPUExecutionProvider"]``, best
    first, or None. ``conduit.ml.get_execution_providers()`` concatenates the answers.
    """


@hookspec
def conduit_register_embedders(register: Callable[..., Any]) -> None:
    """Offer text embedders.

    ``register(name, factory, dimension=None, default=False)``: ``factory()`` returns an
    object with ``embed(texts: list[str]) -> list[list[float]]`` and ``dimension``.
    ``conduit.ml.get_embedder(name=None)`` returns the default one.
    """


@hookspec
def conduit_register_apis(register: Callable[..., Any]) -> None:
    """Offer a Python API to the kernel's facades, which never import a plugin themselves.

    ``register(name, load)``: ``load()`` returns the object (usually a module) whose
    attributes the facade hands out. The kernel's facades ask for ``"mcp"``
    (``conduit.mcp``: ``MCPServer``, ``mount_mcp`` ... and ``app.mount_mcp``),
    ``"router"`` (``conduit.engines.router``, ``conduit.core.models``) and ``"vector"``
    (``app.vector_endpoints``); other names are free for plugins' own facades
    (``conduit.plugins.plugin_api``). ``load`` runs on first use, so registering costs
    nothing. A name registered by two plugins is an error naming both.
    """


# --- storage ------------------------------------------------------------------------------


@hookspec
def conduit_register_stores(register: Callable[..., Any], settings: Settings) -> None:
    """Offer storage back-ends.

    ``register(kind, name, factory)``: ``kind`` is ``"state"`` (key/value and counters,
    see :mod:`conduit.storage`), ``"vector"`` (see ``conduit.ml.create_vector_db``) or
    ``"rag"`` (see ``conduit.ml.create_rag_pipeline``); ``factory(**options)`` builds one. The kernel
    registers ``state/memory`` and, when
    redis-py is installed, ``state/redis``.
    """


# --- telemetry ----------------------------------------------------------------------------


@hookspec
def conduit_request_started(request: HTTPRequest) -> None:
    """App hook. A request's head was parsed and routed (``request.route`` may be None for 404s).

    Called on the event loop for every request; keep it cheap. Only called when at
    least one plugin implements it.
    """


@hookspec
def conduit_request_finished(request: HTTPRequest, response: HTTPResponse, duration: float) -> None:
    """App hook. The response for ``request`` was produced (``duration`` in seconds).

    For streamed responses this fires when the handler returned the stream, before the
    body was sent. Only called when at least one plugin implements it.
    """


@hookspec
def conduit_metrics(app: Conduit) -> list[tuple[str, str, dict[str, str], float]] | None:
    """App hook. Contribute samples to ``/metrics``.

    Return a list of ``(name, type, labels, value)``, with ``type`` one of ``counter``
    or ``gauge``. Called each time the metrics endpoint renders.
    """


@hookspec
def conduit_measurement(name: str, value: float, attributes: dict[str, Any]) -> None:
    """App hook. Something was measured (``conduit.telemetry.record(name, value, attributes)``).

    ``name`` is a metric name such as ``conduit.routing.decisions`` (a count: ``value`` is
    the increment) or ``conduit.routing.cost`` (a recorded value); ``attributes`` are its
    labels. A telemetry plugin turns the names it knows into instruments and ignores the
    others. Lets one plugin's measurements reach another's exporter without either
    importing the other. Called where it was measured (any thread); keep it cheap.
    """


@hookspec
def conduit_span(name: str, attributes: dict[str, Any]) -> Any:
    """App hook. Open a telemetry span around kernel or plugin work (inference, search, tool call).

    Return a context manager (entered and exited by the caller) or None. The kernel's
    :func:`conduit.telemetry.span` combines the answers, so a tracing plugin can turn
    ``with span("inference", {...}):`` into a real span.
    """


# --- health, CLI --------------------------------------------------------------------------


@hookspec
def conduit_register_health_checks(register: Callable[..., Any], app: Conduit) -> None:
    """App hook. Add readiness checks.

    ``register(name, check)``: ``check()`` returns ``(ok: bool, message: str)`` or a
    coroutine of it. Checks run on ``/health/ready``; a failing one makes it answer 503
    naming the check.
    """


@hookspec
def conduit_register_commands(register: Callable[..., Any]) -> None:
    """Add ``conduit`` CLI sub-commands.

    ``register(name, run, help="", arguments=())``: ``arguments`` is a list of
    ``(args, kwargs)`` pairs for :meth:`argparse.ArgumentParser.add_argument`;
    ``run(namespace) -> int`` is the exit status.
    """
