"""conduit.ml.load_model: pick a model loader by file suffix or URI scheme, through hooks.

Loaders come from the ``conduit_register_model_loaders`` hook: conduit-onnx registers
``.onnx``; the kernel's own :mod:`conduit.ml.sklearn_models` registers scikit-learn
pickles and joblib files. A third party adds a format the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pluggy

from conduit.framework.errors import ConfigurationError, MissingPluginError, ModelNotFoundError, PluginError
from conduit.ml._registry import collect, plugin_manager

__all__ = ["ModelLoader", "UnsupportedModelFormatError", "load_model", "model_loaders"]

#: Formats whose loader lives in a plugin of this repository: suffix -> (capability, extra).
_KNOWN_PLUGIN_FORMATS: dict[str, tuple[str, str]] = {".onnx": ("ONNX inference", "onnx")}


class UnsupportedModelFormatError(ConfigurationError, ValueError):
    """No registered loader handles this file suffix or URI scheme."""


@dataclass(frozen=True)
class ModelLoader:
    """A registered loader: ``load(path_or_uri, **options)`` returns an object with ``predict``."""

    name: str
    load: Callable[..., Any]
    suffixes: tuple[str, ...]
    schemes: tuple[str, ...]
    plugin: str


def _entry(plugin: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ModelLoader:
    def take(
        name: str, loader: Callable[..., Any], suffixes: Any = (), schemes: Any = ()
    ) -> ModelLoader:
        suffixes = (suffixes,) if isinstance(suffixes, str) else tuple(suffixes)
        schemes = (schemes,) if isinstance(schemes, str) else tuple(schemes)
        if not callable(loader):
            raise TypeError(f"loader {name!r} is not callable")
        if not suffixes and not schemes:
            raise TypeError(f"loader {name!r} names no suffixes and no schemes")
        bad = [s for s in suffixes if not s.startswith(".")]
        if bad:
            raise TypeError(f"loader {name!r}: suffixes must start with '.', got {bad}")
        return ModelLoader(
            name, loader, tuple(s.lower() for s in suffixes), tuple(s.lower() for s in schemes), plugin
        )

    try:
        return take(*args, **kwargs)
    except TypeError as exc:
        raise PluginError(
            f"plugin {plugin!r} registered a model loader wrongly: {exc}; the call is "
            "register(name, loader, suffixes=('.ext',), schemes=())"
        ) from exc


def model_loaders(pm: pluggy.PluginManager | None = None) -> dict[str, ModelLoader]:
    """Every registered loader, keyed by suffix (``.onnx``) and by scheme (``s3:``).

    Two plugins claiming the same suffix or scheme is a :class:`PluginError` naming both.
    """
    pm = plugin_manager(pm)
    registrations = collect(pm, "conduit_register_model_loaders")
    table: dict[str, ModelLoader] = {}
    for reg in registrations:
        loader = _entry(reg.plugin, reg.args, reg.kwargs)
        for key in loader.suffixes + tuple(f"{s}:" for s in loader.schemes):
            other = table.get(key)
            if other is not None and other.plugin != loader.plugin:
                raise PluginError(
                    f"model format {key!r} is registered by both plugin {other.plugin!r} ({other.name}) and "
                    f"plugin {loader.plugin!r} ({loader.name}); disable one of them "
                    "(CONDUIT_DISABLED_PLUGINS)"
                )
            table[key] = loader
    return table


def _describe_source(source: str | os.PathLike[str]) -> tuple[str, str | None, Path | None]:
    """(lookup key, scheme or None, local path or None) for a path or URI."""
    text = os.fspath(source)
    parts = urlsplit(text)
    if len(parts.scheme) > 1 and parts.scheme != "file":  # "C:" is a drive letter, not a scheme
        return f"{parts.scheme.lower()}:", parts.scheme.lower(), None
    path = Path(parts.path if parts.scheme == "file" else text)
    return path.suffix.lower(), None, path


def load_model(
    source: str | os.PathLike[str],
    *,
    format: str | None = None,
    pm: pluggy.PluginManager | None = None,
    **options: Any,
) -> Any:
    """Load a model by its file suffix (``.onnx``, ``.pkl``, ``.joblib`` ...) or URI scheme.

    ``format`` overrides the suffix (``format=".onnx"``). ``options`` go to the loader
    (for ONNX: ``use_gpu``, ``optimization_level`` ...; for pickles: ``convert_to_onnx``).
    Raises :class:`ModelNotFoundError` for a missing file, :class:`MissingPluginError`
    when the format's plugin is not installed, :class:`UnsupportedModelFormatError` for
    a format nobody registered.
    """
    key, scheme, path = _describe_source(source)
    if format is not None:
        key = format.lower() if format.startswith(".") or format.endswith(":") else f".{format.lower()}"
    if path is not None and not path.exists():
        raise ModelNotFoundError(
            f"model file {path.name!r} not found",
            f"no file at {os.fspath(path)!r}; check the path (relative paths start at {os.getcwd()!r})",
        )
    loaders = model_loaders(pm)
    loader = loaders.get(key)
    if loader is None:
        if key in _KNOWN_PLUGIN_FORMATS:
            raise MissingPluginError(*_KNOWN_PLUGIN_FORMATS[key])
        known = ", ".join(sorted(loaders)) or "none"
        raise UnsupportedModelFormatError(
            f"no model loader for {key or 'files without a suffix'!r} ({os.fspath(source)!r}); formats known "
            f"here: {known}. Pass format= for a file with another suffix, or install a plugin that "
            "registers the format through conduit_register_model_loaders"
        )
    return loader.load(source if scheme else path, **options)
