"""The ``conduit`` command: a thin layer over the library.

Sub-commands come from the ``conduit_register_commands`` hook — the kernel's own
(``run``, ``routes``, ``plugins``, ``check``) through its built-in plugin, others from
installed plugins.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from conduit.framework.errors import ConduitError, ConfigurationError

__all__ = ["build_parser", "load_app", "main"]


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
    from conduit.hookcalls import call_registration
    from conduit.plugins import default_plugin_manager

    parser = argparse.ArgumentParser(prog="conduit", description="Serve and inspect Conduit apps.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    seen: dict[str, str] = {}

    def register(
        owner: str,
        name: str,
        run: Callable[[argparse.Namespace], int],
        help: str = "",
        arguments: Sequence[tuple[tuple[str, ...], dict[str, Any]]] = (),
    ) -> None:
        if name in seen:
            raise ConfigurationError(f"CLI command {name!r} is registered twice: by {seen[name]} and by {owner}")
        seen[name] = owner
        sub = subparsers.add_parser(name, help=help, description=help)
        for args, kwargs in arguments:
            sub.add_argument(*args, **kwargs)
        sub.set_defaults(_run=run)

    call_registration(default_plugin_manager().hook.conduit_register_commands, register)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            return 2
        status = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except ConduitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `conduit routes APP | head`: the reader left. Point stdout at /dev/null so the final
        # flush at exit cannot raise again, and stop quietly (Python's documented recipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


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


def _plugin_state(info: Any) -> str:
    if info.error:
        return "failed to load"
    if info.disabled:
        return "disabled"
    if info.builtin:
        return "built-in"
    return "installed, enabled" if info.enabled else ("installed" if info.installed else "registered")


def cmd_plugins(args: argparse.Namespace) -> int:
    from conduit.plugins import default_plugin_manager, list_plugins

    infos = list_plugins(default_plugin_manager())
    if args.json:
        print(orjson.dumps([i.__dict__ for i in infos], option=orjson.OPT_INDENT_2).decode())
        return 0
    for info in infos:
        print(f"{info.name} {info.version or '-'} {_plugin_state(info)}")
        if info.error:
            print(f"    error: {info.error}")
        if info.hooks:
            print(f"    hooks: {', '.join(info.hooks)}")
    idle = [i.name for i in infos if i.installed and not i.enabled and not i.disabled and not i.error]
    if idle:
        print()
        print(f"Installed but not enabled here: {', '.join(idle)}. Their APIs, loaders and commands work; to let "
              "one add routes or middleware to an app, list it in `plugins = [...]` ([tool.conduit] or "
              "conduit.toml) or CONDUIT_PLUGINS (\"*\" for all).")
    return 0


def _problem_lines(exc: ConduitError) -> list[str]:
    """An error's message, split into the problems an "invalid configuration" error lists."""
    text = str(exc)
    head, sep, rest = text.partition(":\n  - ")
    return rest.split("\n  - ") if sep and head.endswith("configuration") else [text]


def cmd_check(args: argparse.Namespace) -> int:
    from conduit.config import load_settings
    from conduit.hookcalls import call_each
    from conduit.plugins import create_plugin_manager

    problems: list[str] = []

    def problem(text: str) -> None:
        if text not in problems:
            problems.append(text)

    settings = load_settings()
    try:
        pm = create_plugin_manager(settings)
    except ConduitError as exc:
        problem(str(exc))
        pm = None
    if pm is not None:
        for schema in pm.hook.conduit_config_schema():
            if schema:
                settings.extend(schema)
    from conduit.framework.validation import ConfigValidator

    report = ConfigValidator(settings=settings).validate_all_config()
    for item in report["errors"]:
        problem(item)
    warnings = list(report["warnings"])
    if args.app:
        try:
            app = load_app(args.app)
            app.prepare()
            pm = app.plugin_manager  # entry-point plugins and those registered on the app
            settings = app.settings
            # Again with the app's settings: its own plugins (extra_plugins) declare more of them.
            app_report = ConfigValidator(settings=settings).validate_all_config()
            for item in app_report["errors"]:
                problem(item)
            warnings = list(app_report["warnings"])
            from conduit.framework.auth import exposure_warnings

            warnings.extend(exposure_warnings(app, app.settings.host))
        except ConduitError as exc:
            for item in _problem_lines(exc):
                problem(item)
    if pm is not None:
        for name, result in call_each(pm, pm.hook.conduit_check, settings=settings, warn=warnings.append,
                                      fail=problem):
            if isinstance(result, Exception):
                problem(f"plugin {name!r}: its conduit_check raised {type(result).__name__}: {result}")
    if getattr(args, "verbose", False):
        print("settings (value, where it came from):")
        for name in sorted(settings.values):
            print(f"  {name} = {_shown(name, settings.values[name])}  ({settings.sources.get(name, 'default')})")
    for warning in dict.fromkeys(warnings):
        print(f"warning: {warning}")
    if problems:
        print("configuration problems:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("configuration OK")
    return 0


_SECRET_NAME = re.compile(r"(^|_)keys?$|secret|password|passwd|token|credential", re.IGNORECASE)


def _shown(name: str, value: Any) -> str:
    """A setting's value as ``conduit check -v`` prints it: secrets masked, URL passwords too."""
    if value is None:
        return "unset"
    if _SECRET_NAME.search(name) and value not in ((), [], {}, ""):
        return "*** (set)"
    text = repr(value) if not isinstance(value, str) else value
    return re.sub(r"(://[^:/@\s]*:)[^@/\s]+@", r"\1***@", text)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
