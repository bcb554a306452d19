"""Start-up configuration checks (seed 003's ``ConfigValidator``).

Each ``validate_*`` method returns a small dict describing what it found, or raises
:class:`~conduit.framework.errors.ConfigurationError` (:class:`DependencyError` for
packages) with a message naming the setting and what to change.
:meth:`ConfigValidator.validate_all_config` runs them all and collects every problem
instead of stopping at the first, for ``conduit check`` and app start-up.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from conduit.framework.errors import ConfigurationError
from conduit.framework.sanitize import sanitize_error_message

__all__ = ["ConfigValidator", "DependencyError", "compare_versions"]

_RELEASE = re.compile(r"^\s*v?(\d+(?:\.\d+)*)(.*)$")
_PRE = re.compile(r"^[-_.]?(a|b|c|rc|alpha|beta|pre|preview|dev)\d*", re.IGNORECASE)
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)\s*$")
_STORE_SCHEMES = ("memory://", "redis://", "rediss://", "unix://")


class DependencyError(ConfigurationError):
    """A required package is missing or older than required."""


def _parse_version(text: str) -> tuple[tuple[int, ...], bool]:
    match = _RELEASE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a version number")
    release = tuple(int(part) for part in match.group(1).split("."))
    rest = match.group(2).split("+", 1)[0]  # a local version (+cu121) does not order
    return release, bool(_PRE.match(rest))


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` is older than, equal to or newer than ``b``.

    Numeric release segments are compared (``1.10 > 1.9``, ``2.0 == 2.0.0``); at an equal
    release a pre-release (``a``, ``b``, ``rc``, ``dev``) is older than the final release.
    """
    (ra, pre_a), (rb, pre_b) = _parse_version(a), _parse_version(b)
    width = max(len(ra), len(rb))
    ra, rb = ra + (0,) * (width - len(ra)), rb + (0,) * (width - len(rb))
    if ra != rb:
        return -1 if ra < rb else 1
    if pre_a != pre_b:
        return -1 if pre_a else 1
    return 0


def _short(value: Any, limit: int = 60) -> str:
    text = sanitize_error_message(repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ConfigValidator:
    """Checks ports, environment variables, model paths and installed packages.

    ``environ`` defaults to ``os.environ``; ``settings`` (a :class:`conduit.config.Settings`)
    is loaded from the usual sources when :meth:`validate_all_config` needs it.
    """

    def __init__(self, *, environ: Mapping[str, str] | None = None, settings: Any = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.settings = settings
        self._checks: dict[str, Callable[[], Any]] = {}

    # -- single checks ---------------------------------------------------------------------

    def validate_port(self, port: Any) -> dict[str, Any]:
        """A TCP port 0-65535 (0 picks a free one); ports below 1024 warn (privileged)."""
        if isinstance(port, bool):
            raise ConfigurationError(f"port must be an integer 0-65535, got {port!r}")
        try:
            number = int(str(port).strip())
        except ValueError:
            raise ConfigurationError(f"port must be an integer 0-65535, got {_short(port)}") from None
        if not 0 <= number <= 65535:
            raise ConfigurationError(f"port must be between 0 and 65535, got {number}; set CONDUIT_PORT")
        result: dict[str, Any] = {"valid": True, "port": number}
        if number == 0:
            result["warning"] = "port 0 lets the OS pick a free port; clients must be told which"
        elif number < 1024:
            result["warning"] = f"port {number} is privileged: binding needs root or CAP_NET_BIND_SERVICE"
        return result

    def validate_env_var(
        self,
        var_name: str,
        required: bool = False,
        var_type: str = "str",
        min_value: float | None = None,
        max_value: float | None = None,
        *,
        choices: tuple[str, ...] | None = None,
        default: Any = None,
    ) -> dict[str, Any]:
        """Read ``var_name`` as ``var_type`` (str, int, float, bool, list) and check bounds."""
        raw = self.environ.get(var_name)
        if raw is None or raw == "":
            if required:
                raise ConfigurationError(f"environment variable {var_name} is required but not set")
            return {"valid": True, "value": default, "var_name": var_name, "set": False}
        value = self._convert(var_name, raw, var_type)
        if min_value is not None and value < min_value:
            raise ConfigurationError(f"{var_name} must be >= {min_value}, got {value}")
        if max_value is not None and value > max_value:
            raise ConfigurationError(f"{var_name} must be <= {max_value}, got {value}")
        if choices is not None and value not in choices:
            raise ConfigurationError(f"{var_name} must be one of {', '.join(choices)}; got {_short(raw)}")
        return {"valid": True, "value": value, "var_name": var_name, "set": True}

    @staticmethod
    def _convert(var_name: str, raw: str, var_type: str) -> Any:
        text = raw.strip()
        if var_type == "str":
            return raw
        if var_type == "list":
            return [part.strip() for part in text.split(",") if part.strip()]
        if var_type == "bool":
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ConfigurationError(f"{var_name} must be true or false, got {_short(raw)}")
        if var_type in ("int", "float"):
            try:
                return int(text) if var_type == "int" else float(text)
            except ValueError:
                kind = "an integer" if var_type == "int" else "a number"
                raise ConfigurationError(f"{var_name} must be {kind}, got {_short(raw)}") from None
        raise ValueError(f"var_type must be str, int, float, bool or list, not {var_type!r}")

    def validate_model_path(
        self,
        model_path: str | os.PathLike[str],
        *,
        base_dir: str | os.PathLike[str] | None = None,
        must_exist: bool = True,
        allowed_suffixes: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """Refuse ``..`` components and NUL bytes; with ``base_dir``, refuse anything
        that resolves (symlinks included) outside it; then check it exists and reads."""
        text = os.fspath(model_path)
        shown = Path(text).name or text
        if not text.strip():
            raise ConfigurationError("model path is empty; set CONDUIT_MODEL_PATH or pass path=")
        if "\x00" in text:
            raise ConfigurationError("model path contains a NUL byte")
        if ".." in PurePosixPath(text).parts or ".." in PureWindowsPath(text).parts:
            raise ConfigurationError(f"model path {shown!r} must not contain '..' (path traversal)")
        path = Path(text).expanduser()
        if base_dir is not None:
            base = Path(base_dir).expanduser().resolve()
            resolved = (base / path).resolve() if not path.is_absolute() else path.resolve()
            if not resolved.is_relative_to(base):
                raise ConfigurationError(f"model path {shown!r} resolves outside the allowed model directory")
            path = resolved
        if allowed_suffixes is not None and path.suffix.lower() not in allowed_suffixes:
            raise ConfigurationError(
                f"model file {shown!r} must end with one of {', '.join(allowed_suffixes)}"
            )
        exists = path.exists()
        if must_exist and not exists:
            raise ConfigurationError(f"model file {shown!r} not found; set CONDUIT_MODEL_PATH or pass path=")
        readable = exists and os.access(path, os.R_OK)
        if must_exist and not readable:
            raise ConfigurationError(f"model file {shown!r} is not readable by this process")
        return {
            "valid": True,
            "path": str(path),
            "exists": exists,
            "is_file": path.is_file(),
            "readable": readable,
            "size_bytes": path.stat().st_size if path.is_file() else None,
        }

    def validate_dependency(self, module_name: str, min_version: str | None = None) -> dict[str, Any]:
        """The package (distribution or import name) is installed, at ``min_version`` or newer."""
        version, dist = self._installed_version(module_name)
        if version is None:
            raise DependencyError(f"{module_name} is not installed; install it with `pip install {module_name}`")
        result: dict[str, Any] = {"valid": True, "name": dist, "version": version, "required": min_version}
        if min_version is not None and compare_versions(version, min_version) < 0:
            raise DependencyError(
                f"{dist} {version} is too old: {min_version} or newer is required; "
                f"upgrade with `pip install -U '{dist}>={min_version}'`"
            )
        return result

    @staticmethod
    def _installed_version(name: str) -> tuple[str | None, str]:
        try:
            return importlib.metadata.version(name), name
        except importlib.metadata.PackageNotFoundError:
            pass
        for dist in importlib.metadata.packages_distributions().get(name, []):
            try:
                return importlib.metadata.version(dist), dist
            except importlib.metadata.PackageNotFoundError:
                continue
        return None, name

    # -- everything at once ------------------------------------------------------------------

    def add_check(self, name: str, check: Callable[[], Any]) -> None:
        """Add a check to :meth:`validate_all_config`: it raises ConfigurationError on a
        problem; a returned string is a warning."""
        self._checks[name] = check

    def _kernel_requirements(self) -> list[tuple[str, str]]:
        try:
            requires = importlib.metadata.requires("conduit") or []
        except importlib.metadata.PackageNotFoundError:
            return []
        found = []
        for line in requires:
            if ";" in line:  # extras and platform markers are optional
                continue
            match = _REQUIREMENT.match(line)
            if match:
                found.append((match.group(1), match.group(2)))
        return found

    def validate_all_config(self) -> dict[str, Any]:
        """Run every check; returns ``valid``, ``errors``, ``warnings`` and the counts."""
        errors: list[str] = []
        warnings: list[str] = []
        passed = 0

        def run(check: Callable[[], Any]) -> None:
            nonlocal passed
            try:
                outcome = check()
            except ConfigurationError as exc:
                errors.append(str(exc))
                return
            passed += 1
            if isinstance(outcome, dict) and outcome.get("warning"):
                warnings.append(outcome["warning"])
            elif isinstance(outcome, str):
                warnings.append(outcome)

        settings = self.settings
        if settings is None:
            from conduit.config import load_settings

            settings = load_settings(environ=self.environ)
        errors.extend(settings.problems)
        warnings.extend(f"unknown setting {item}" for item in settings.unknown())
        run(lambda: self.validate_port(settings.get("port", 8000)))
        redis_url = settings.get("redis_url")
        if redis_url:
            run(lambda: self._check_store_url(redis_url))
        if self.environ.get("CONDUIT_MODEL_PATH"):
            run(lambda: self.validate_model_path(self.environ["CONDUIT_MODEL_PATH"]))
        for dist, minimum in self._kernel_requirements():
            run(functools.partial(self.validate_dependency, dist, minimum))
        for check in self._checks.values():
            run(check)
        return {
            "valid": not errors,
            "warnings": warnings,
            "errors": errors,
            "checks_passed": passed,
            "checks_failed": len(errors),
        }

    def _check_store_url(self, url: str) -> dict[str, Any]:
        if not url.startswith(_STORE_SCHEMES):
            raise ConfigurationError(
                "redis_url (CONDUIT_REDIS_URL) must start with redis://, rediss://, unix:// or memory://"
            )
        if url.startswith("memory://"):
            return {"valid": True}
        return self.validate_dependency("redis", "5.2")
