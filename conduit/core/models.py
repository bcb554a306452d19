"""The seed's ``from conduit.core.models import Query``: the router's data types.

Names resolve on first access from the conduit-router plugin; when it is not installed
or is disabled, access raises :class:`~conduit.framework.errors.MissingPluginError`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Completion",
    "ModelSpec",
    "Objective",
    "Query",
    "QueryConstraints",
    "QueryFeatures",
    "RoutingDecision",
    "Usage",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from conduit.engines.router import load_router_plugin

        return getattr(load_router_plugin(), name)
    raise AttributeError(f"module 'conduit.core.models' has no attribute {name!r}")
