"""Facades for vector databases and RAG pipelines, offered by plugins through ``conduit_register_stores``.

A vector plugin calls ``register("vector", name, factory)``, where
``factory(dimension=384, metric="cosine", **options)`` returns the seed's VectorDB, and
``register("rag", name, factory)``, where ``factory(vector_db=, embedding_model=, llm=,
**options)`` returns the seed's RAGPipeline. conduit-vector is that plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from conduit.config import Settings, load_settings
from conduit.framework.errors import ConfigurationError, MissingPluginError, PluginError
from conduit.ml._registry import collect, plugin_manager

__all__ = ["create_rag_pipeline", "create_vector_db", "store_factories"]


def store_factories(
    kind: str, pm: pluggy.PluginManager | None = None, settings: Settings | None = None
) -> dict[str, tuple[str, Callable[..., Any]]]:
    """``{name: (plugin, factory)}`` of every store of ``kind`` registered through the hook."""
    pm = plugin_manager(pm)
    settings = settings if settings is not None else load_settings()
    found: dict[str, tuple[str, Callable[..., Any]]] = {}
    for reg in collect(pm, "conduit_register_stores", settings=settings):

        def take(kind: str, name: str, factory: Callable[..., Any]) -> tuple[str, str, Callable[..., Any]]:
            return kind, name, factory

        try:
            reg_kind, name, factory = take(*reg.args, **reg.kwargs)
        except TypeError as exc:
            raise PluginError(
                f"plugin {reg.plugin!r} registered a store wrongly: {exc}; the call is register(kind, name, factory)"
            ) from exc
        if reg_kind != kind:
            continue
        if name in found:
            raise PluginError(
                f"{kind} store {name!r} is registered by both plugin {found[name][0]!r} and plugin {reg.plugin!r}"
            )
        found[name] = (reg.plugin, factory)
    return found


def _pick(kind: str, name: str | None, capability: str, pm: pluggy.PluginManager | None) -> Callable[..., Any]:
    factories = store_factories(kind, pm)
    if not factories:
        raise MissingPluginError(capability, "vector")
    if name is None:
        return next(iter(factories.values()))[1]
    if name not in factories:
        raise ConfigurationError(f"no {kind} store named {name!r}; registered: {', '.join(factories)}")
    return factories[name][1]


def create_vector_db(
    dimension: int = 384,
    metric: str = "cosine",
    *,
    backend: str | None = None,
    pm: pluggy.PluginManager | None = None,
    **options: Any,
) -> Any:
    """The seed's ``create_vector_db(dimension=384, metric="cosine")``, built by a vector plugin.

    ``backend`` picks a registered store by name (default: the first). Raises
    :class:`MissingPluginError` when no vector plugin is installed.
    """
    factory = _pick("vector", backend, "Vector database", pm)
    return factory(dimension=dimension, metric=metric, **options)


def create_rag_pipeline(
    vector_db: Any,
    embedding_model: Any = None,
    llm: Any = None,
    *,
    backend: str | None = None,
    pm: pluggy.PluginManager | None = None,
    **options: Any,
) -> Any:
    """The seed's ``create_rag_pipeline(vector_db=, embedding_model=, llm=)``, built by a vector plugin."""
    factory = _pick("rag", backend, "RAG pipeline", pm)
    return factory(vector_db=vector_db, embedding_model=embedding_model, llm=llm, **options)
