"""Text embedders offered by plugins through ``conduit_register_embedders``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from conduit.framework.errors import ConfigurationError, MissingPluginError, PluginError
from conduit.ml._registry import collect, plugin_manager

__all__ = ["EmbedderInfo", "get_embedder", "list_embedders"]


@dataclass(frozen=True)
class EmbedderInfo:
    """A registered embedder: ``factory()`` builds (or returns a shared) object with ``embed``."""

    name: str
    factory: Callable[[], Any]
    dimension: int | None
    default: bool
    plugin: str


def list_embedders(pm: pluggy.PluginManager | None = None) -> list[EmbedderInfo]:
    """Every registered embedder; two with the same name is a PluginError naming both plugins."""
    found: dict[str, EmbedderInfo] = {}
    for reg in collect(plugin_manager(pm), "conduit_register_embedders"):

        def take(name: str, factory: Callable[[], Any], dimension: int | None = None, default: bool = False,
                 plugin: str = reg.plugin) -> EmbedderInfo:
            return EmbedderInfo(name, factory, dimension, bool(default), plugin)

        try:
            info = take(*reg.args, **reg.kwargs)
        except TypeError as exc:
            raise PluginError(
                f"plugin {reg.plugin!r} registered an embedder wrongly: {exc}; the call is "
                "register(name, factory, dimension=None, default=False)"
            ) from exc
        other = found.get(info.name)
        if other is not None:
            raise PluginError(
                f"embedder {info.name!r} is registered by both plugin {other.plugin!r} and plugin "
                f"{info.plugin!r}; disable one of them (CONDUIT_DISABLED_PLUGINS)"
            )
        found[info.name] = info
    return list(found.values())


def get_embedder(name: str | None = None, pm: pluggy.PluginManager | None = None) -> Any:
    """The embedder called ``name``, or the default one (the first registered with default=True).

    The object has ``embed(texts) -> list[list[float]]`` and ``dimension``. Raises
    :class:`MissingPluginError` when no plugin offers one.
    """
    embedders = list_embedders(pm)
    if not embedders:
        raise MissingPluginError("Text embedding", "onnx")
    if name is None:
        return next((e for e in embedders if e.default), embedders[0]).factory()
    named = next((e for e in embedders if e.name == name), None)
    if named is None:
        raise ConfigurationError(f"no embedder named {name!r}; registered: {', '.join(e.name for e in embedders)}")
    return named.factory()
