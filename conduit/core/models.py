"""The seed's ``from conduit.core.models import Query``: the router's data types.

The names the conduit-router plugin's ``models`` module lists in its ``__all__`` resolve on
first access; when the plugin is not installed or is disabled, access raises
:class:`~conduit.framework.errors.MissingPluginError`.
"""

from __future__ import annotations

from typing import Any

from conduit._facades import plugin_facade


def _api() -> Any:
    from conduit.engines.router import load_router_plugin

    return load_router_plugin().models


__getattr__, __dir__ = plugin_facade(__name__, _api)
