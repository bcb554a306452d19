"""Kernel modules that hand out a plugin's public names (``conduit.mcp``, ``conduit.core.models``).

Such a facade lists nothing itself: its names, and its ``__all__`` (which ``from facade
import *`` reads through the module's ``__getattr__``, PEP 562), come from the plugin's API
on first use, so the facade cannot drift from what the plugin offers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit.framework.errors import MissingPluginError

__all__ = ["plugin_facade"]


def plugin_facade(module: str, load: Callable[[], Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the facade ``module`` over what ``load()`` returns.

    ``load`` returns the plugin's API, an object with an ``__all__`` (its package, or one of
    its modules), or raises :class:`MissingPluginError` when the plugin is not installed or
    is disabled (:func:`conduit.plugins.plugin_api` does). ``__all__`` and the names it lists
    resolve from the API; any other public name is an AttributeError naming ``module``.
    Private and dunder names are AttributeErrors without loading the plugin, so probes such
    as ``hasattr(facade, "__path__")`` stay cheap and never fail for a missing plugin.
    ``dir()`` lists the plugin's names, none while the plugin cannot be used.
    """

    def __getattr__(name: str) -> Any:
        if name == "__all__":
            return list(load().__all__)
        api = None if name.startswith("_") else load()
        if api is None or name not in api.__all__:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return getattr(api, name)

    def __dir__() -> list[str]:
        try:
            return sorted(load().__all__)
        except MissingPluginError:
            return []

    return __getattr__, __dir__
