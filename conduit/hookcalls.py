"""Calling hooks one way: through pluggy, naming the plugin whose code runs.

pluggy orders implementations (``tryfirst``, ``trylast``, registration order) and drives
wrappers; the kernel never loops over ``get_hookimpls()`` itself. What pluggy does not say
is *which* plugin is running, which the kernel needs to tag what a registration hook
registers (a route's owner, a duplicate named by both plugins) and to name the plugin in
an error. That is read off the call stack: the plugin is the one whose hookimpl's frame is
nearest the ``register`` call (or the exception), so a hookimpl may hand ``register`` to
helpers of its own.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pluggy

from conduit.framework.errors import ConfigurationError, PluginError

__all__ = ["call", "call_each", "call_registration", "plugin_in_traceback", "plugin_of"]


class _Owners:
    """Which plugin a frame, traceback or returned object belongs to, for one hook."""

    def __init__(self, caller: pluggy.HookCaller) -> None:
        self.codes: dict[types.CodeType, list[tuple[str, Any]]] = {}
        packages: dict[str, set[str]] = {}
        for impl in caller.get_hookimpls():
            code = getattr(impl.function, "__code__", None)
            if code is not None:
                # Two instances of one plugin class share the code: ``self`` tells them apart.
                self.codes.setdefault(code, []).append((impl.plugin_name, getattr(impl.function, "__self__", None)))
            module = getattr(impl.function, "__module__", None) or ""
            packages.setdefault(module.partition(".")[0], set()).add(impl.plugin_name)
        # A package that holds one plugin's hookimpls names that plugin for code in helpers.
        self.packages = {pkg: next(iter(names)) for pkg, names in packages.items() if len(names) == 1 and pkg}

    def of_frames(self, frames: Iterable[types.FrameType]) -> str | None:
        fallback = None
        for frame in frames:
            owners = self.codes.get(frame.f_code)
            if owners is not None:
                if len(owners) == 1:
                    return owners[0][0]
                this = frame.f_locals.get("self")
                return next((name for name, instance in owners if instance is this), owners[0][0])
            if fallback is None:
                fallback = self.packages.get(str(frame.f_globals.get("__name__", "")).partition(".")[0])
        return fallback

    def of_stack(self) -> str | None:
        def frames() -> Iterable[types.FrameType]:
            frame: types.FrameType | None = sys._getframe(2)
            while frame is not None:
                yield frame
                frame = frame.f_back

        return self.of_frames(frames())

    def of_traceback(self, exc: BaseException) -> str | None:
        frames = []
        tb = exc.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame)
            tb = tb.tb_next
        return self.of_frames(reversed(frames))  # the deepest hookimpl frame raised it

    def of_object(self, value: Any) -> str | None:
        frame = getattr(value, "cr_frame", None)
        if frame is not None and frame.f_code in self.codes:
            return self.of_frames([frame])
        code = getattr(getattr(value, "__func__", value), "__code__", None)
        if code is not None and code in self.codes:
            owners = self.codes[code]
            this = getattr(value, "__self__", None)
            return next((name for name, instance in owners if instance is this), owners[0][0])
        module = frame.f_globals.get("__name__", "") if frame is not None else getattr(value, "__module__", "")
        return self.packages.get(str(module or "").partition(".")[0])


def plugin_in_traceback(caller: pluggy.HookCaller, exc: BaseException) -> str | None:
    """The plugin whose code raised ``exc`` during (or after) a call of ``caller``."""
    return _Owners(caller).of_traceback(exc)


def plugin_of(caller: pluggy.HookCaller, value: Any) -> str | None:
    """The plugin that returned ``value`` (a coroutine or callable) from ``caller``."""
    return _Owners(caller).of_object(value)


def _failure(name: str, owner: str | None, exc: Exception) -> PluginError:
    who = f"plugin {owner!r}" if owner else "a plugin"
    return PluginError(f"{who} failed in {name}: {type(exc).__name__}: {exc}")


def call(caller: pluggy.HookCaller, **kwargs: Any) -> Any:
    """``caller(**kwargs)``; an exception becomes :class:`PluginError` naming the plugin.

    Configuration and plugin errors raised on purpose pass through unchanged.
    """
    try:
        return caller(**kwargs)
    except (PluginError, ConfigurationError):
        raise
    except Exception as exc:
        raise _failure(caller.name, _Owners(caller).of_traceback(exc), exc) from exc


def call_registration(
    caller: pluggy.HookCaller,
    register: Callable[..., Any],
    *,
    attributes: dict[str, Callable[..., Any]] | None = None,
    **kwargs: Any,
) -> Any:
    """Call a registration hook; each ``register(*args)`` reaches ``register(owner, *args)``.

    ``attributes`` become attributes of the ``register`` the plugins get (for instance
    ``register.include``), called the same way with the owner first. ``register`` kept and
    called after the hook returned is refused.
    """
    owners = _Owners(caller)
    open_ = True

    def bind(target: Callable[..., Any]) -> Callable[..., Any]:
        def bound(*args: Any, **kw: Any) -> Any:
            if not open_:
                raise ConfigurationError(
                    f"register() of {caller.name} was called after the hook returned; register everything "
                    "while the hook runs"
                )
            return target(owners.of_stack() or "unknown plugin", *args, **kw)

        return bound

    plugin_register = bind(register)
    for attr, target in (attributes or {}).items():
        setattr(plugin_register, attr, bind(target))
    try:
        return call(caller, register=plugin_register, **kwargs)
    finally:
        open_ = False


def call_each(pm: pluggy.PluginManager, caller: pluggy.HookCaller, **kwargs: Any) -> Iterator[tuple[str, Any]]:
    """Call ``caller``'s plugins one at a time, in pluggy's call order: ``(plugin, result or exception)``.

    Each call goes through pluggy (the plugin's ``tryfirst``/``trylast`` place, and every
    wrapper around it), so one plugin raising cannot keep the next from being called. For
    shutdown, where every plugin must get its turn.
    """
    impls = caller.get_hookimpls()
    wrappers = {impl.plugin for impl in impls if impl.hookwrapper or impl.wrapper}
    order: list[Any] = []
    for impl in reversed(impls):
        if not (impl.hookwrapper or impl.wrapper) and impl.plugin not in order:
            order.append(impl.plugin)
    everyone = {impl.plugin for impl in getattr(pm.hook, caller.name).get_hookimpls()}
    for plugin in order:
        one = pm.subset_hook_caller(caller.name, everyone - wrappers - {plugin})
        name = pm.get_name(plugin) or "unknown plugin"
        try:
            for result in one(**kwargs):
                yield name, result
        except Exception as exc:  # noqa: BLE001 - handed to the caller, the next plugin still runs
            yield name, exc
