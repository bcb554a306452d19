"""Built-in plugin: the kernel's CLI commands (run, routes, plugins, check)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit.hookspecs import hookimpl

__all__ = ["conduit_register_commands"]


@hookimpl
def conduit_register_commands(register: Callable[..., Any]) -> None:
    from conduit import cli

    app_arg = (("app",), {"help": "the app to load, as module:attribute (e.g. examples.hello:app)"})
    register(
        "run",
        cli.cmd_run,
        help="serve an app",
        arguments=[
            app_arg,
            (("--host",), {"default": None, "help": "interface to bind (default: settings, 0.0.0.0)"}),
            (("--port",), {"type": int, "default": None, "help": "port (default: settings, 8000)"}),
            (("--workers",), {"type": int, "default": None, "help": "worker processes sharing the port"}),
            (("--http",), {"choices": ["auto", "h11", "httptools"], "default": None, "help": "HTTP parser"}),
            (("--loop",), {"choices": ["auto", "asyncio", "uvloop"], "default": None, "help": "event loop"}),
        ],
    )
    register("routes", cli.cmd_routes, help="list an app's routes, plugin routes included", arguments=[app_arg])
    register(
        "plugins",
        cli.cmd_plugins,
        help="list installed plugins: name, version, enabled, hooks",
        arguments=[(("--json",), {"action": "store_true", "help": "print JSON"})],
    )
    register(
        "check",
        cli.cmd_check,
        help="validate configuration (and an app, if given); exit 1 on problems",
        arguments=[(("app",), {"nargs": "?", "default": None, "help": "optional module:attribute"}),
                   (("-v", "--verbose"), {"action": "store_true",
                                          "help": "also list every setting, its value and where it came from"})],
    )
