"""Collecting ``register(...)`` calls from registration hooks, each tagged with its plugin.

The kernel owns ``register``: the hook is called through pluggy (its order, its wrappers)
and each call of ``register`` is tagged with the plugin whose code made it
(:mod:`conduit.hookcalls`), so a duplicate can be reported naming both plugins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pluggy

from conduit.hookcalls import call_registration
from conduit.plugins import current_plugin_manager

__all__ = ["Registration", "collect", "plugin_manager"]


@dataclass(frozen=True)
class Registration:
    """One ``register(*args, **kwargs)`` call made by plugin ``plugin``."""

    plugin: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


def plugin_manager(pm: pluggy.PluginManager | None = None) -> pluggy.PluginManager:
    """``pm`` itself, else the running app's manager, else the process-wide one."""
    return pm if pm is not None else current_plugin_manager()


def collect(pm: pluggy.PluginManager, hook_name: str, **hook_kwargs: Any) -> list[Registration]:
    """Call ``hook_name`` through pluggy and record every registration with its plugin.

    ``hook_kwargs`` are the hook's arguments other than ``register``.
    """
    found: list[Registration] = []

    def register(owner: str, *args: Any, **kwargs: Any) -> None:
        found.append(Registration(owner, args, kwargs))

    call_registration(getattr(pm.hook, hook_name), register, **hook_kwargs)
    return found
