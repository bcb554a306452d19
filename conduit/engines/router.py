"""The seed's ``from conduit.engines.router import Router``: a facade over conduit-router.

Names resolve on first access from :mod:`conduit_router`; when the plugin is not
installed or is disabled (``disabled_plugins``, ``CONDUIT_PLUGINS``), access raises
:class:`~conduit.framework.errors.MissingPluginError` naming the package to install.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BanditConfig", "ModelSpec", "Objective", "Router", "RoutingDecision", "load_router_plugin"]


def load_router_plugin() -> Any:
    """The :mod:`conduit_router` module, or MissingPluginError when it cannot be used."""
    from conduit.framework.errors import MissingPluginError
    from conduit.plugins import is_enabled

    if not is_enabled("router"):
        raise MissingPluginError("The LLM router", "router")
    try:
        import conduit_router
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("conduit_router"):
            raise
        raise MissingPluginError("The LLM router", "router") from None
    return conduit_router


def __getattr__(name: str) -> Any:
    if name in __all__ and name != "load_router_plugin":
        return getattr(load_router_plugin(), name)
    raise AttributeError(f"module 'conduit.engines.router' has no attribute {name!r}")
