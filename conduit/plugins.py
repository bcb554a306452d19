"""Plugin discovery and management.

Plugins register under the entry-point group ``conduit``; the entry point's name is the
plugin's id in configuration, logs and ``conduit plugins``. Disabled plugins are blocked
before their entry points load, so a broken or unwanted plugin costs nothing. The
kernel's own features are registered as built-in plugins through the same hooks.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import logging
import threading
from dataclasses import dataclass
from typing import Any, Iterable

import pluggy

from conduit import hookspecs
from conduit.config import Settings, load_settings
from conduit.framework.errors import PluginError

__all__ = [
    "ENTRY_POINT_GROUP",
    "BUILTIN_PLUGINS",
    "PluginInfo",
    "create_plugin_manager",
    "default_plugin_manager",
    "reset_default_plugin_manager",
    "list_plugins",
    "resolve",
    "resolve_sync",
    "plugin_name_of",
    "is_enabled",
]

logger = logging.getLogger("conduit.plugins")

ENTRY_POINT_GROUP = "conduit"
BUILTIN_PLUGINS: tuple[str, ...] = (
    "conduit._builtins.routes",
    "conduit._builtins.stores",
    "conduit._builtins.commands",
    "conduit._builtins.monitoring",
    "conduit.ml.sklearn_models",
)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str | None
    distribution: str | None
    enabled: bool
    builtin: bool
    hooks: tuple[str, ...]
    error: str | None = None


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def is_enabled(name: str, settings: Settings | None = None) -> bool:
    """Whether configuration lets the plugin ``name`` load (allowlist and disabled list)."""
    settings = settings if settings is not None else load_settings()
    allow = settings.get("plugins")
    if name in (settings.get("disabled_plugins") or []):
        return False
    return allow is None or name in allow


def create_plugin_manager(
    settings: Settings | None = None,
    *,
    load_entrypoints: bool = True,
    extra_plugins: Iterable[Any] = (),
) -> pluggy.PluginManager:
    """Build a manager: hookspecs, built-ins, enabled entry-point plugins, ``extra_plugins``.

    A plugin whose import or registration fails raises :class:`PluginError` naming it;
    a hookimpl that matches no spec (a typo) is caught by ``check_pending``.
    """
    settings = settings if settings is not None else load_settings()
    pm = pluggy.PluginManager("conduit")
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        module = __import__(module_name, fromlist=["_"])
        pm.register(module, name=module_name)
    pm.conduit_failed = {}  # type: ignore[attr-defined]
    pm.conduit_disabled = set()  # type: ignore[attr-defined]
    if load_entrypoints:
        for ep in _entry_points():
            if not is_enabled(ep.name, settings):
                pm.set_blocked(ep.name)
                pm.conduit_disabled.add(ep.name)  # type: ignore[attr-defined]
                continue
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            try:
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - report any plugin failure by name
                dist = getattr(ep, "dist", None)
                where = f" (distribution {dist.name} {dist.version})" if dist else ""
                raise PluginError(
                    f"plugin {ep.name!r}{where} failed to load: {type(exc).__name__}: {exc}; "
                    f"fix or upgrade it, or disable it with CONDUIT_DISABLED_PLUGINS={ep.name}"
                ) from exc
    for plugin in extra_plugins:
        name = plugin_name_of(plugin)
        if pm.get_plugin(name) is None:
            pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc}; hook names must match conduit.hookspecs exactly") from exc
    return pm


def plugin_name_of(plugin: Any) -> str:
    name = getattr(plugin, "__conduit_name__", None) or getattr(plugin, "__name__", None)
    return str(name or f"{type(plugin).__module__}.{type(plugin).__qualname__}:{id(plugin):x}")


_default_pm: pluggy.PluginManager | None = None
_default_lock = threading.Lock()


def default_plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager used by facades (``conduit.ml``) called outside an app.

    An app uses its own manager; this one is built lazily from the environment and
    config files on first use.
    """
    global _default_pm
    with _default_lock:
        if _default_pm is None:
            _default_pm = create_plugin_manager()
        return _default_pm


def reset_default_plugin_manager(pm: pluggy.PluginManager | None = None) -> None:
    """Forget (or replace) the process-wide manager; tests use this."""
    global _default_pm
    with _default_lock:
        _default_pm = pm


def list_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Every installed, built-in and registered plugin with its hooks and state."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distributions()}
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
                enabled=True,
                builtin=name in BUILTIN_PLUGINS,
                hooks=hooks,
            )
        )
    for ep in _entry_points():
        if ep.name in seen:
            continue
        dist = getattr(ep, "dist", None)
        infos.append(
            PluginInfo(
                name=ep.name,
                version=dist.version if dist else None,
                distribution=dist.name if dist else None,
                enabled=False,
                builtin=False,
                hooks=(),
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
