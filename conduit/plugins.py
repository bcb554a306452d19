"""Plugin discovery, enabling, and the app's plugin manager.

Plugins register under the entry-point group ``conduit``; the entry point's name is the
plugin's id in configuration, logs and ``conduit plugins``. Two switches apply:

- ``disabled_plugins`` (``CONDUIT_DISABLED_PLUGINS``; ``*`` for all): blocked before the
  entry point loads, so a broken or unwanted plugin costs nothing and offers nothing.
- ``plugins`` (``CONDUIT_PLUGINS``; ``*`` for every installed one): the plugins *enabled*
  for an app. Installing a plugin changes no app: only an enabled plugin's app hooks
  (:data:`APP_HOOKS`: routes, middleware, health checks, metrics, spans, lifecycle) run.
  What a plugin offers to code (model loaders, embedders, stores, execution providers,
  APIs for the facades, CLI commands, settings) is there once it is installed.

Each app owns one :class:`PluginManager`. While an app starts, serves or shuts down, it is
the *current* one (:func:`current_plugin_manager`), which the facades and
:func:`conduit.telemetry.span` reach; outside any app (a script, the CLI) they use a
process-wide manager built from the same configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.metadata
import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pluggy

from conduit import hookspecs
from conduit.config import Settings, load_settings
from conduit.framework.errors import MissingPluginError, PluginError

__all__ = [
    "ALL",
    "APP_HOOKS",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "PluginManager",
    "activate",
    "activated",
    "create_plugin_manager",
    "current_plugin_manager",
    "default_plugin_manager",
    "list_plugins",
    "plugin_api",
    "plugin_name_of",
    "reset_default_plugin_manager",
    "resolve",
    "resolve_sync",
]

logger = logging.getLogger("conduit.plugins")

ENTRY_POINT_GROUP = "conduit"
ALL = "*"
BUILTIN_PLUGINS: tuple[str, ...] = (
    "conduit._builtins.routes",
    "conduit._builtins.stores",
    "conduit._builtins.commands",
    "conduit._builtins.monitoring",
    "conduit._builtins.auth",
    "conduit.ml.sklearn_models",
)

#: Hooks through which a plugin changes an app: the kernel calls them for the built-ins
#: and the enabled plugins only. Every other hook is called for every loaded plugin.
APP_HOOKS: frozenset[str] = frozenset(
    {
        "conduit_configure",
        "conduit_startup",
        "conduit_shutdown",
        "conduit_register_routes",
        "conduit_register_middleware",
        "conduit_register_health_checks",
        "conduit_request_started",
        "conduit_request_finished",
        "conduit_metrics",
        "conduit_measurement",
        "conduit_span",
    }
)


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as ``conduit plugins`` and ``/-/plugins.json`` show it.

    ``installed``: found through an entry point (False for built-ins and plugins registered
    in code); ``loaded``: its module is registered; ``enabled``: its app hooks run;
    ``disabled``: blocked by ``disabled_plugins``; ``error``: why it failed to load.
    """

    name: str
    version: str | None
    distribution: str | None
    enabled: bool
    builtin: bool
    hooks: tuple[str, ...]
    installed: bool = False
    loaded: bool = True
    disabled: bool = False
    error: str | None = None


class PluginManager(pluggy.PluginManager):
    """pluggy's manager for the ``conduit`` project, knowing which plugins are enabled.

    Built-ins are always enabled. :meth:`app_hook` is a hook as the app calls it: the
    built-ins' and enabled plugins' implementations, in pluggy's order, wrappers included.
    """

    def __init__(self) -> None:
        super().__init__("conduit")
        self.add_hookspecs(hookspecs)
        self.enabled: set[str] = set()
        self.disabled: set[str] = set()
        self.failed: dict[str, str] = {}
        self._app_hooks: dict[str, pluggy.HookCaller] = {}
        self._app_hook_live: dict[str, bool] = {}
        self._apis: dict[str, tuple[str, Callable[[], Any]]] | None = None

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        self._forget()
        return super().register(plugin, name)

    def unregister(self, plugin: Any = None, name: str | None = None) -> Any:
        self._forget()
        return super().unregister(plugin, name)

    def _forget(self) -> None:
        self._app_hooks.clear()
        self._app_hook_live.clear()
        self._apis = None

    def enable(self, name: str) -> None:
        """Let plugin ``name`` change the app (its app hooks run). It must not be disabled."""
        if name in self.disabled:
            raise PluginError(
                f"plugin {name!r} is asked for but disabled; remove it from disabled_plugins "
                "(CONDUIT_DISABLED_PLUGINS)"
            )
        self.enabled.add(name)
        self._app_hooks.clear()
        self._app_hook_live.clear()

    def is_enabled(self, name: str) -> bool:
        return name in self.enabled or name in BUILTIN_PLUGINS

    def app_hook(self, name: str) -> pluggy.HookCaller:
        """Hook ``name`` restricted to the built-ins and the enabled plugins."""
        caller = self._app_hooks.get(name)
        if caller is None:
            idle = [plugin for plugin_name, plugin in self.list_name_plugin()
                    if plugin is not None and not self.is_enabled(plugin_name)]
            caller = self._app_hooks[name] = self.subset_hook_caller(name, idle)
        return caller

    def has_app_hook(self, name: str) -> bool:
        """Whether any built-in or enabled plugin implements app hook ``name`` (cached: the
        per-call checks of span() and record() cost a dict lookup, not a filtered list)."""
        live = self._app_hook_live.get(name)
        if live is None:
            live = self._app_hook_live[name] = bool(self.app_hook(name).get_hookimpls())
        return live

    def api(self, name: str) -> Any | None:
        """The object a plugin offers under ``name`` (``conduit_register_apis``), or None."""
        if self._apis is None:
            from conduit.hookcalls import call_registration

            apis: dict[str, tuple[str, Callable[[], Any]]] = {}

            def register(owner: str, api_name: str, load: Callable[[], Any]) -> None:
                if api_name in apis and apis[api_name][0] != owner:
                    raise PluginError(
                        f"API {api_name!r} is registered by both plugin {apis[api_name][0]!r} and plugin "
                        f"{owner!r}; disable one of them (CONDUIT_DISABLED_PLUGINS)"
                    )
                apis[api_name] = (owner, load)

            call_registration(self.hook.conduit_register_apis, register)
            self._apis = apis
        entry = self._apis.get(name)
        return None if entry is None else entry[1]()


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _names(settings: Settings, key: str) -> list[str]:
    return [str(n) for n in (settings.get(key) or [])]


def _truthy(value: Any) -> bool:
    """A switch's value, from code (a bool) or the environment (a string)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value is True


def create_plugin_manager(
    settings: Settings | None = None,
    *,
    load_entrypoints: bool = True,
    extra_plugins: Iterable[Any] = (),
    strict: bool = True,
) -> PluginManager:
    """Build a manager: hookspecs, built-ins, installed plugins, ``extra_plugins``.

    Installed plugins load unless disabled; those named by ``plugins`` (and every
    ``extra_plugins``) are enabled. With ``strict`` (an app), an enabled plugin that fails
    to import, or a ``plugins`` name no installed plugin has, raises :class:`PluginError`;
    otherwise (the CLI) it is recorded in ``pm.failed`` and logged. A plugin that is not
    enabled and fails to import is only recorded. A hookimpl that matches no spec (a typo)
    is caught by ``check_pending``.
    """
    settings = settings if settings is not None else load_settings()
    pm = PluginManager()
    for module_name in BUILTIN_PLUGINS:
        module = __import__(module_name, fromlist=["_"])
        pm.register(module, name=module_name)
    entry_points = _entry_points() if load_entrypoints else []
    installed = sorted({ep.name for ep in entry_points})
    blocked, enable = _choose(settings, installed)
    extras = [(plugin_name_of(plugin), plugin) for plugin in extra_plugins]
    if load_entrypoints:
        _check_names(pm, settings, enable, installed, {name for name, _ in extras}, strict=strict)
    for ep in entry_points:
        _load_entry_point(pm, ep, blocked=ep.name in blocked, enabled=ep.name in enable, strict=strict)
    for name, plugin in extras:
        if pm.get_plugin(name) is None:
            pm.register(plugin, name=name)
        pm.enabled.add(name)
    pm.enabled.update(name for name in enable if pm.get_plugin(name) is not None)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc}; hook names must match conduit.hookspecs exactly") from exc
    return pm


def _choose(settings: Settings, installed: list[str]) -> tuple[set[str], set[str]]:
    """The installed plugins to block (disabled) and those to enable, from configuration."""
    wanted = _names(settings, "plugins")
    unwanted = _names(settings, "disabled_plugins")
    both = sorted(set(wanted) & set(unwanted) - {ALL})
    if both:
        logger.warning("plugin(s) %s are both enabled (plugins) and disabled (disabled_plugins): disabled wins",
                       ", ".join(map(repr, both)))
    blocked = set(installed) if ALL in unwanted else set(unwanted)
    # A plugin is also enabled by its own "<name>_enabled" setting (CONDUIT_OTEL_ENABLED, or
    # seed 001's OTEL_ENABLED for conduit-otel): a switch the plugin documents for itself.
    switched = {name for name in installed if _truthy(settings.get(f"{name}_enabled"))}
    enable = ((set(installed) if ALL in wanted else set(wanted) - {ALL}) | switched) - blocked
    return blocked, enable


def _check_names(pm: PluginManager, settings: Settings, enable: set[str], installed: list[str],
                 extras: set[str], *, strict: bool) -> None:
    """A ``plugins`` name no installed plugin has: PluginError (strict), else recorded."""
    unknown = sorted(enable - set(installed) - extras - set(BUILTIN_PLUGINS))
    if not unknown:
        return
    source = settings.sources.get("plugins", "configuration")
    message = (
        f"plugins (from {source}) enables {', '.join(map(repr, unknown))}, which no installed plugin "
        f"provides; installed: {', '.join(installed) or 'none'} (see `conduit plugins`)"
    )
    if strict:
        raise PluginError(message)
    for name in unknown:
        pm.failed[name] = message


def _load_entry_point(pm: PluginManager, ep: Any, *, blocked: bool, enabled: bool, strict: bool) -> None:
    """Block a disabled plugin before its import, else load it; a failure is raised for an
    enabled plugin of a strict manager, else recorded in ``pm.failed`` and logged."""
    if blocked:
        pm.set_blocked(ep.name)
        pm.disabled.add(ep.name)
        return
    if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name) or ep.name in pm.failed:
        return
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
    except Exception as exc:
        dist = getattr(ep, "dist", None)
        where = f" (distribution {dist.name} {dist.version})" if dist else ""
        message = (
            f"plugin {ep.name!r}{where} failed to load: {type(exc).__name__}: {exc}; "
            f"fix or upgrade it, or disable it with CONDUIT_DISABLED_PLUGINS={ep.name}"
        )
        if strict and enabled:
            raise PluginError(message) from exc
        pm.failed[ep.name] = message
        logger.warning("%s", message)


def plugin_name_of(plugin: Any) -> str:
    name = getattr(plugin, "__conduit_name__", None) or getattr(plugin, "__name__", None)
    return str(name or f"{type(plugin).__module__}.{type(plugin).__qualname__}:{id(plugin):x}")


_default_pm: PluginManager | None = None
_default_key: tuple[Any, ...] | None = None  # None: replaced by hand, kept until reset
_default_lock = threading.Lock()
_current: contextvars.ContextVar[PluginManager | None] = contextvars.ContextVar("conduit_plugin_manager", default=None)


def _configuration_key() -> tuple[Any, ...]:
    switches = tuple(sorted((k, v) for k, v in os.environ.items() if k.endswith("_ENABLED")))
    return (os.environ.get("CONDUIT_PLUGINS"), os.environ.get("CONDUIT_DISABLED_PLUGINS"), os.getcwd(), switches)


def default_plugin_manager() -> PluginManager:
    """The process-wide manager: the CLI's, and the facades' outside any app.

    Built lazily from the environment and config files, and built again when
    ``CONDUIT_PLUGINS``, ``CONDUIT_DISABLED_PLUGINS`` or the working directory (where the
    config files are read) changed since. It records plugins that fail to load instead of
    raising (``conduit plugins`` lists them with the error).
    """
    global _default_pm, _default_key
    with _default_lock:
        key = _configuration_key()
        if _default_pm is None or (_default_key is not None and key != _default_key):
            _default_pm, _default_key = create_plugin_manager(strict=False), key
        return _default_pm


def reset_default_plugin_manager(pm: PluginManager | None = None) -> None:
    """Forget, or replace until reset, the process-wide manager; tests use this."""
    global _default_pm, _default_key
    with _default_lock:
        _default_pm, _default_key = pm, None


def current_plugin_manager(default: Any = ...) -> Any:
    """The manager of the app running in this context (starting, serving, shutting down).

    Outside any app: ``default`` when given, else the process-wide manager.
    """
    pm = _current.get()
    if pm is not None:
        return pm
    return default_plugin_manager() if default is ... else default


def activate(pm: PluginManager | None) -> contextvars.Token[PluginManager | None]:
    """Make ``pm`` the current manager in this context (and in tasks and threads it starts)."""
    return _current.set(pm)


@contextlib.contextmanager
def activated(pm: PluginManager) -> Iterator[PluginManager]:
    """Run a block as the app owning ``pm`` would: facades and ``span()`` reach ``pm``.

    For code that uses a manager without an app (tests of a plugin, a script driving
    :func:`create_plugin_manager` itself); an app does this for itself while it runs.
    """
    token = _current.set(pm)
    try:
        yield pm
    finally:
        _current.reset(token)


def plugin_api(name: str, capability: str, extra: str, pm: PluginManager | None = None) -> Any:
    """The API plugin ``extra`` offers as ``name`` (``conduit_register_apis``).

    Looked up in ``pm``, else the current app's manager, else the process-wide one. Raises
    :class:`MissingPluginError` naming ``capability`` and what to install when no loaded
    plugin offers it.
    """
    manager = pm if pm is not None else current_plugin_manager()
    api = manager.api(name)
    if api is None:
        raise MissingPluginError(capability, extra)
    return api


def list_plugins(pm: PluginManager) -> list[PluginInfo]:
    """Every built-in, installed and registered plugin: loaded, enabled, disabled or failed."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distributions()}
    entry_points = {ep.name: ep for ep in _entry_points()}
    is_enabled = getattr(pm, "is_enabled", lambda name: True)
    infos: list[PluginInfo] = []
    seen: set[str] = set()
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        seen.add(name)
        dist = dists.get(id(plugin))
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        infos.append(
            PluginInfo(
                name=name,
                version=dist.version if dist else None,
                distribution=dist.metadata["name"] if dist else None,
                enabled=is_enabled(name),
                builtin=name in BUILTIN_PLUGINS,
                hooks=hooks,
                installed=name in entry_points,
            )
        )
    failed = getattr(pm, "failed", {})
    for name, ep in entry_points.items():
        if name in seen:
            continue
        dist = getattr(ep, "dist", None)
        infos.append(
            PluginInfo(
                name=name,
                version=dist.version if dist else None,
                distribution=dist.name if dist else None,
                enabled=False,
                builtin=False,
                hooks=(),
                installed=True,
                loaded=False,
                disabled=pm.is_blocked(name),
                error=failed.get(name),
            )
        )
    return sorted(infos, key=lambda i: (i.builtin, i.name))


def resolve_sync(value: Any) -> Any:
    """Await-me-maybe from sync code: the value of ``value`` if it is awaitable.

    From a worker thread of the app (a sync handler), the awaitable runs on the app's
    event loop; from a thread with no loop, on a fresh one. On an event-loop thread it
    cannot wait without blocking the loop: it closes the coroutine and raises
    ``RuntimeError`` (callers offer an async variant there).
    """
    if not inspect.isawaitable(value):
        return value

    async def wait() -> Any:
        return await value

    import anyio
    import anyio.from_thread

    try:
        return anyio.from_thread.run(wait)
    except RuntimeError:
        pass
    if asyncio._get_running_loop() is None:
        return anyio.run(wait)
    if inspect.iscoroutine(value):
        value.close()
    raise RuntimeError("an awaitable was resolved synchronously on the event-loop thread; await it instead")


async def resolve(value: Any) -> Any:
    """Await-me-maybe: call a callable, await an awaitable, return anything else."""
    if callable(value) and not inspect.isclass(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value
