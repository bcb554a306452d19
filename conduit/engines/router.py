"""The seed's ``from conduit.engines.router import Router``: a facade over conduit-router.

The plugin offers its module through the ``conduit_register_apis`` hook (name
``"router"``); the kernel imports no plugin. Names resolve on access; when the plugin is
not installed or is disabled (``disabled_plugins``), access raises
:class:`~conduit.framework.errors.MissingPluginError` naming what to install.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BanditConfig", "ModelSpec", "Objective", "Router", "RoutingDecision", "load_router_plugin"]


def load_router_plugin() -> Any:
    """The API conduit-router offers (its package), or MissingPluginError when it cannot be used."""
    from conduit.plugins import plugin_api

    return plugin_api("router", "The LLM router", "router")


def __getattr__(name: str) -> Any:
    if name in __all__ and name != "load_router_plugin":
        return getattr(load_router_plugin(), name)
    raise AttributeError(f"module 'conduit.engines.router' has no attribute {name!r}")
