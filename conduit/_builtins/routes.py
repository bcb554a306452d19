"""Built-in plugin: the introspection route ``GET /-/plugins.json``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit.hookspecs import hookimpl

__all__ = ["conduit_register_routes"]


@hookimpl
def conduit_register_routes(register: Callable[..., Any], app: Any) -> None:
    async def plugins_json(request: Any) -> list[dict[str, Any]]:
        """Plugins: name, version, installed, loaded, enabled, disabled, failed, hooks implemented.

        A failed plugin's error text is left to ``conduit plugins`` (it may name paths)."""
        from conduit.plugins import list_plugins

        return [
            {
                "name": p.name,
                "version": p.version,
                "distribution": p.distribution,
                "enabled": p.enabled,
                "builtin": p.builtin,
                "installed": p.installed,
                "loaded": p.loaded,
                "disabled": p.disabled,
                "failed": p.error is not None,
                "hooks": list(p.hooks),
            }
            for p in list_plugins(request.app.plugin_manager)
        ]

    register("GET", "/-/plugins.json", plugins_json, tags=["introspection"], name="plugins_json")
