"""Collecting ``register(...)`` calls from registration hooks, each tagged with its plugin.

The kernel owns ``register``: it calls every hookimpl itself, with a ``register`` bound
to that plugin's name, so a duplicate can be reported naming both plugins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pluggy

from conduit.plugins import default_plugin_manager

__all__ = ["Registration", "collect", "plugin_manager"]


@dataclass(frozen=True)
class Registration:
    """One ``register(*args, **kwargs)`` call made by plugin ``plugin``."""

    plugin: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


def plugin_manager(pm: pluggy.PluginManager | None = None) -> pluggy.PluginManager:
    """``pm`` itself, or the process-wide manager that facades use outside an app."""
    return pm if pm is not None else default_plugin_manager()


def collect(pm: pluggy.PluginManager, hook_name: str, **hook_kwargs: Any) -> list[Registration]:
    """Call every implementation of ``hook_name`` (in pluggy's call order) and record its registrations.

    ``hook_kwargs`` are the hook's arguments other than ``register``; each hookimpl gets only
    the ones it declares.
    """
    caller = getattr(pm.hook, hook_name)
    found: list[Registration] = []
    calls = [(impl.plugin_name, impl.function, impl.argnames) for impl in reversed(caller.get_hookimpls())]
    for plugin_name, function, argnames in calls:

        def register(*args: Any, _plugin: str = plugin_name, **kwargs: Any) -> None:
            found.append(Registration(_plugin, args, kwargs))

        available = {"register": register, **hook_kwargs}
        function(**{name: available[name] for name in argnames if name in available})
    return found
