"""The ``conduit`` command: a thin layer over the library.

Sub-commands come from the ``conduit_register_commands`` hook — the kernel's own
(``run``, ``routes``, ``plugins``, ``check``) through its built-in plugin, others from
installed plugins.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, Callable, Sequence

import orjson

from conduit.framework.errors import ConduitError, ConfigurationError

__all__ = ["main", "load_app", "build_parser"]


def load_app(target: str) -> Any:
    """Import ``module:attribute`` (the current directory is importable)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(f"app {target!r} must be written module:attribute, e.g. examples.hello:app")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigurationError(
                f"cannot import module {module_name!r}; run conduit from the folder that contains it"
            ) from None
        raise
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigurationError(f"module {module_name!r} has no attribute {attr!r}") from None
    from conduit.app import Conduit

    if callable(obj) and not isinstance(obj, Conduit):
        obj = obj()  # an app factory
    if not isinstance(obj, Conduit):
        raise ConfigurationError(f"{target} is a {type(obj).__name__}, not a Conduit app")
    return obj


def build_parser() -> argparse.ArgumentParser:
    from conduit.plugins import default_plugin_manager

    parser = argparse.ArgumentParser(prog="conduit", description="Serve and inspect Conduit apps.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    seen: dict[str, str] = {}
    pm = default_plugin_manager()
    for impl in pm.hook.conduit_register_commands.get_hookimpls():

        def register(
            name: str,
            run: Callable[[argparse.Namespace], int],
            help: str = "",
            arguments: Sequence[tuple[tuple[str, ...], dict[str, Any]]] = (),
            _owner: str = impl.plugin_name,
        ) -> None:
            if name in seen:
                raise ConfigurationError(f"CLI command {name!r} is registered twice: by {seen[name]} and by {_owner}")
            seen[name] = _owner
            sub = subparsers.add_parser(name, help=help, description=help)
            for args, kwargs in arguments:
                sub.add_argument(*args, **kwargs)
            sub.set_defaults(_run=run)

        impl.function(register=register)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            return 2
        return int(args._run(args) or 0)
    except ConduitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# --- the kernel's commands --------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    if args.port is not None:  # the command line wins, 0 (a free port) included
        app.settings.values["port"] = args.port
    app.run(
        host=args.host or "",
        workers=args.workers,
        http=args.http,
        loop=args.loop,
    )
    return 0


def cmd_routes(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    app.prepare()
    rows = [
        (",".join(sorted(r.methods)), r.path, r.name, r.owner)
        for r in sorted(app.router.routes, key=lambda r: (r.path, sorted(r.methods)))
    ]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(("METHODS", "PATH", "NAME", "OWNER"))]
    print("  ".join(h.ljust(w) for h, w in zip(("METHODS", "PATH", "NAME", "OWNER"), widths)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from conduit.plugins import default_plugin_manager, list_plugins

    infos = list_plugins(default_plugin_manager())
    if args.json:
        print(orjson.dumps([i.__dict__ for i in infos], option=orjson.OPT_INDENT_2).decode())
        return 0
    for info in infos:
        state = "enabled" if info.enabled else "disabled"
        kind = " (built-in)" if info.builtin else ""
        version = info.version or "-"
        print(f"{info.name} {version} {state}{kind}")
        if info.hooks:
            print(f"    hooks: {', '.join(info.hooks)}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from conduit.config import load_settings
    from conduit.plugins import create_plugin_manager

    problems: list[str] = []
    settings = load_settings()
    try:
        pm = create_plugin_manager(settings)
    except ConduitError as exc:
        problems.append(str(exc))
        pm = None
    if pm is not None:
        for schema in pm.hook.conduit_config_schema():
            if schema:
                settings.extend(schema)
    from conduit.framework.validation import ConfigValidator

    report = ConfigValidator(settings=settings).validate_all_config()
    problems.extend(report["errors"])
    warnings = list(report["warnings"])
    if args.app:
        try:
            app = load_app(args.app)
            app.prepare()
            pm = app.plugin_manager  # entry-point plugins and those registered on the app
        except ConduitError as exc:
            problems.append(str(exc))
    if pm is not None:
        for impl in pm.hook.conduit_check.get_hookimpls():
            try:
                impl.function(**_check_args(impl, settings, warnings.append, problems.append))
            except Exception as exc:  # noqa: BLE001 - a broken check is a failure to report
                problems.append(f"plugin {impl.plugin_name!r}: its conduit_check raised {type(exc).__name__}: {exc}")
    for warning in warnings:
        print(f"warning: {warning}")
    if problems:
        print("configuration problems:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("configuration OK")
    return 0


def _check_args(impl: Any, settings: Any, warn: Any, fail: Any) -> dict[str, Any]:
    """The ``conduit_check`` arguments this hookimpl asks for (it may take fewer than the spec)."""
    offered = {"settings": settings, "warn": warn, "fail": fail}
    return {name: offered[name] for name in impl.argnames}


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
