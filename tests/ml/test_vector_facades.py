"""create_vector_db / create_rag_pipeline find a vector plugin through conduit_register_stores."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest

from conduit import hookimpl
from conduit._install import install_command
from conduit.config import load_settings
from conduit.framework.errors import ConfigurationError, MissingPluginError
from conduit.ml import create_rag_pipeline, create_vector_db
from conduit.plugins import create_plugin_manager


class FakeVectorPlugin:
    """A minimal third-party vector plugin: records what the facades pass."""

    __conduit_name__ = "fakevector"

    @hookimpl
    def conduit_register_stores(self, register: Callable[..., Any]) -> None:
        register("vector", "dict", lambda **options: ("db", options))
        register("rag", "dict", lambda **options: ("rag", options))


def manager(*plugins: Any) -> Any:
    return create_plugin_manager(load_settings({"disabled_plugins": ["*"]}, environ={}, files=[]), extra_plugins=plugins)


def test_without_a_vector_plugin_the_error_names_the_package() -> None:
    with pytest.raises(MissingPluginError, match=r"Vector database needs the conduit-vector plugin.*" + re.escape(install_command("vector"))):
        create_vector_db(dimension=384, pm=manager())
    with pytest.raises(MissingPluginError, match=r"RAG pipeline needs the conduit-vector plugin"):
        create_rag_pipeline(vector_db=object(), pm=manager())


def test_facades_call_the_registered_factories_with_the_seed_arguments() -> None:
    pm = manager(FakeVectorPlugin())
    assert create_vector_db(dimension=8, metric="dot", pm=pm) == ("db", {"dimension": 8, "metric": "dot"})
    db = object()
    kind, options = create_rag_pipeline(vector_db=db, embedding_model="e", llm="l", pm=pm, top_k=3)
    assert kind == "rag" and options == {"vector_db": db, "embedding_model": "e", "llm": "l", "top_k": 3}
    with pytest.raises(ConfigurationError, match="no vector store named 'faiss'; registered: dict"):
        create_vector_db(backend="faiss", pm=pm)
