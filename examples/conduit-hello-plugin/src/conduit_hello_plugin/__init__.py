"""An example third-party plugin for Conduit.

It adds ``GET /hello-plugin/{name}`` and a middleware that stamps ``X-Hello-Plugin`` on
every response. Enable or disable it by its entry-point name, ``hello``::

    [tool.conduit]
    disabled_plugins = ["hello"]
"""

from __future__ import annotations

from typing import Any, Callable

import conduit

__all__ = ["conduit_register_routes", "conduit_register_middleware", "conduit_config_schema"]


@conduit.hookimpl
def conduit_config_schema() -> dict[str, Any]:
    from conduit.config import Setting

    return {"hello_greeting": Setting(str, "Hello", "the greeting the hello plugin uses")}


@conduit.hookimpl
def conduit_register_routes(register: Callable[..., Any], app: Any) -> None:
    greeting = app.settings.hello_greeting

    async def hello(request: Any, name: str) -> dict[str, str]:
        """Greet someone by name."""
        return {"message": f"{greeting}, {name}!"}

    register("GET", "/hello-plugin/{name}", hello, tags=["hello"])


@conduit.hookimpl
def conduit_register_middleware(register: Callable[..., Any], app: Any) -> None:
    async def stamp(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["X-Hello-Plugin"] = "1"
        return response

    register(stamp)
