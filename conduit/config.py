"""Settings: defaults < ``[tool.conduit]`` in pyproject.toml < conduit.toml < CONDUIT_* env < code.

Every setting is declared once as a :class:`Setting` (the kernel's below, plugins' through
the ``conduit_config_schema`` hook), so values are parsed and checked in one place and
``conduit check`` can report every problem at once, each naming the setting, where it
came from and what to change.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conduit.framework.errors import ConfigurationError

__all__ = ["KERNEL_SCHEMA", "SEED_VARIABLES", "Setting", "Settings", "find_config_files", "load_settings"]

_MISSING = object()


@dataclass(frozen=True)
class Setting:
    """One configuration key: its type, default, help text and optional check."""

    type: type | tuple[type, ...]
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    check: Callable[[Any], str | None] | None = None  # returns a problem, or None

    def parse(self, name: str, raw: Any, source: str) -> Any:
        """Turn ``raw`` (from TOML or an env string) into the typed value or raise."""
        value = raw
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        if isinstance(raw, str) and str not in types:
            value = _from_string(name, raw, types[0], source)
        if value is not None and not isinstance(value, types):
            if float in types and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            else:
                want = " or ".join(t.__name__ for t in types)
                raise ConfigurationError(
                    f"setting {name!r} from {source} must be {want}, got {type(raw).__name__} {raw!r}"
                )
        if isinstance(value, bool) and bool not in types:
            raise ConfigurationError(f"setting {name!r} from {source} must be a number, got {raw!r}")
        if self.choices is not None and value not in self.choices:
            if not (isinstance(value, str) and value.lower() in self.choices):
                raise ConfigurationError(
                    f"setting {name!r} from {source} must be one of {', '.join(map(repr, self.choices))}; got {raw!r}"
                )
            value = value.lower()  # LOG_LEVEL=INFO
        if self.minimum is not None and value is not None and value < self.minimum:
            raise ConfigurationError(f"setting {name!r} from {source} must be >= {self.minimum}; got {raw!r}")
        if self.maximum is not None and value is not None and value > self.maximum:
            raise ConfigurationError(f"setting {name!r} from {source} must be <= {self.maximum}; got {raw!r}")
        if self.check is not None and value is not None:
            problem = self.check(value)
            if problem:
                raise ConfigurationError(f"setting {name!r} from {source}: {problem}")
        return value


def _from_string(name: str, raw: str, kind: type, source: str) -> Any:
    text = raw.strip()
    if kind is bool:
        lowered = text.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigurationError(f"setting {name!r} from {source} must be true or false, got {raw!r}")
    if kind is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ConfigurationError(
                f"setting {name!r} from {source} must be a{'n integer' if kind is int else ' number'}, got {raw!r}"
            ) from None
    return text


def _positive_size(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


KERNEL_SCHEMA: dict[str, Setting] = {
    "host": Setting(str, "0.0.0.0", "interface to bind"),
    "port": Setting(int, 8000, "TCP port to listen on (0 picks a free one)", minimum=0, maximum=65535),
    "workers": Setting(int, 1, "worker processes sharing the port", minimum=1, maximum=256),
    "http": Setting(str, "auto", "HTTP parser: h11, httptools, or auto (httptools when installed)",
                    choices=("auto", "h11", "httptools")),
    "loop": Setting(str, "auto", "event loop: asyncio, uvloop, or auto (uvloop when installed)",
                    choices=("auto", "asyncio", "uvloop")),
    "plugins": Setting((list, type(None)), [], "installed plugins enabled for the app (their routes, middleware "
                       "and app hooks); '*' for all; empty or unset: none"),
    "disabled_plugins": Setting(list, [], "installed plugins never to load, not even for code; '*' for all"),
    "max_header_size": Setting(int, 16 * 1024, "bytes of request line + headers before 431", minimum=1024),
    "max_body_size": Setting(int, 16 * 1024 * 1024, "bytes of request body before 413", check=_positive_size),
    "header_timeout": Setting(float, 10.0, "seconds to receive a request's head before 408", minimum=0.01),
    "keepalive_timeout": Setting(float, 5.0, "seconds an idle keep-alive connection stays open", minimum=0.01),
    "body_min_rate": Setting(int, 1024, "bytes a second a request body must average after header_timeout "
                             "(408 otherwise); 0 for no minimum", minimum=0),
    "max_connections": Setting(int, 1000, "open connections per process; past it a new one gets 503 and is "
                               "closed; 0 for no cap", minimum=0),
    "max_requests_per_connection": Setting(int, 0, "requests served on one connection before it closes "
                                           "(the last answer says Connection: close); 0 for no limit", minimum=0),
    "write_timeout": Setting(float, 30.0, "seconds a client may accept no bytes of a response (streamed or "
                             "not) before its connection is closed", minimum=0.01),
    "shutdown_timeout": Setting(float, 30.0, "seconds in-flight requests get to finish on SIGTERM", minimum=0),
    "backlog": Setting(int, 2048, "listen backlog", minimum=1),
    "log_level": Setting(str, "info", "logging level",
                         choices=("debug", "info", "warning", "error", "critical")),
    "access_log": Setting(bool, False, "log one line per request"),
    "redis_url": Setting((str, type(None)), None, "redis:// URL of a shared state store (memory otherwise)"),
}


#: The seeds' own environment variables, read as the settings they name. Precedence: files, then
#: these, then CONDUIT_* (which wins), then code. API_KEY / API_REQUIRE_AUTH: the auth plugin.
SEED_VARIABLES: dict[str, str] = {
    "REDIS_URL": "redis_url",  # seed 001, 004: the shared state store
    "API_MAX_REQUEST_SIZE": "router_max_request_size",  # seed 001: bytes of an API request body (GET exempt)
    "DATABASE_URL": "router_history",  # seed 001, 004: the router's PostgreSQL history (postgres URLs only)
    # seed 002: the LLM provider clients' retries, response cache and rate limit (conduit-router)
    "MAX_RETRIES": "router_max_retries",
    "INITIAL_RETRY_DELAY": "router_retry_initial_delay",
    "MAX_RETRY_DELAY": "router_retry_max_delay",
    "CACHE_ENABLED": "router_cache",
    "CACHE_TTL": "router_cache_ttl",
    "CACHE_MAX_SIZE": "router_cache_max_size",
    "DEFAULT_RATE_LIMIT": "router_rate_limit",
    "OTEL_ENABLED": "otel_enabled",  # seed 001: telemetry on; <plugin>_enabled also enables the plugin
    "LOG_LEVEL": "log_level",  # seed 004: INFO, DEBUG... (any case)
}


def find_config_files(start: Path | None = None) -> list[Path]:
    """pyproject.toml (with a [tool.conduit] table) and conduit.toml in ``start`` (cwd)."""
    base = start or Path.cwd()
    return [p for p in (base / "pyproject.toml", base / "conduit.toml") if p.is_file()]


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path.name} is not valid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        return dict(data.get("tool", {}).get("conduit", {}))
    return dict(data.get("conduit", data))


@dataclass
class Settings:
    """The merged, typed settings; attribute and item access (``settings.port``)."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    raw: dict[str, tuple[Any, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.raw:
            return self.raw[name][0]
        return default

    def __contains__(self, name: str) -> bool:
        return name in self.values or name in self.raw

    def extend(self, schema: Mapping[str, Setting]) -> None:
        """Parse values for more declared settings (plugins' schemas)."""
        for name, setting in schema.items():
            if name in self.values:
                continue
            raw = self.raw.get(name)
            if raw is None:
                self.values[name] = setting.default
                self.sources[name] = "default"
                continue
            try:
                self.values[name] = setting.parse(name, raw[0], raw[1])
                self.sources[name] = raw[1]
            except ConfigurationError as exc:
                self.problems.append(str(exc))
                self.values[name] = setting.default
                self.sources[name] = "default"

    def unknown(self) -> list[str]:
        """Keys given in files or CONDUIT_* variables that no schema declared."""
        return [f"{k} (from {src})" for k, (_, src) in self.raw.items() if k not in self.values]

    def raise_for_problems(self) -> None:
        if self.problems:
            raise ConfigurationError("invalid configuration:\n  - " + "\n  - ".join(self.problems))


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    files: Iterable[Path] | None = None,
    schema: Mapping[str, Setting] = KERNEL_SCHEMA,
) -> Settings:
    """Merge every source and parse the kernel's settings; problems are collected."""
    env = os.environ if environ is None else environ
    raw: dict[str, tuple[Any, str]] = {}
    problems: list[str] = []
    for path in find_config_files() if files is None else files:
        try:
            for key, value in _read_file(Path(path)).items():
                raw[key.replace("-", "_")] = (value, Path(path).name)
        except ConfigurationError as exc:
            problems.append(str(exc))
    for variable, key in SEED_VARIABLES.items():
        value = env.get(variable)
        if value is not None and (variable != "DATABASE_URL" or value.startswith(("postgresql://", "postgres://"))):
            raw[key] = (value, f"${variable}")
    for key, value in env.items():
        if key.startswith("CONDUIT_") and len(key) > 8:
            raw[key[8:].lower()] = (value, f"${key}")  # after the seeds' names: CONDUIT_* wins
    for key, value in (overrides or {}).items():
        if value is not _MISSING:
            raw[key] = (value, "code")
    settings = Settings(raw=raw, problems=problems)
    settings.extend(schema)
    return settings
