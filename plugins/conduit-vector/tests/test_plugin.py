"""The plugin's hooks: stores for the conduit.ml facades, the CLI command, its settings."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Any

import pluggy
import pytest

from conduit import hookimpl
from conduit.cli import build_parser
from conduit.config import load_settings
from conduit.framework.errors import ServiceUnavailableError
from conduit.ml import create_rag_pipeline, create_vector_db
from conduit.ml.vector import store_factories
from conduit.plugins import activated, create_plugin_manager, reset_default_plugin_manager
from conduit_vector.rag import RAGPipeline
from conduit_vector.store import VectorDB
from conduit_vector.store import create_vector_db as create_store


def test_the_store_hook_registers_chroma_vector_and_rag_factories(vector_pm: pluggy.PluginManager) -> None:
    assert {name: plugin for name, (plugin, _) in store_factories("vector", vector_pm).items()} == {"chroma": "vector"}
    assert {name: plugin for name, (plugin, _) in store_factories("rag", vector_pm).items()} == {"chroma": "vector"}


def test_the_seed_facades_build_this_plugins_objects(vector_pm: pluggy.PluginManager) -> None:
    with create_vector_db(dimension=4, metric="euclidean", backend="chroma", pm=vector_pm) as db:
        assert isinstance(db, VectorDB) and (db.dimension, db.metric, db.mode) == (4, "euclidean", "memory")
        rag = create_rag_pipeline(vector_db=db, embedding_model=lambda text: [0.0, 0.0, 0.0, 1.0], llm=str.upper, pm=vector_pm, top_k=2)
        assert isinstance(rag, RAGPipeline) and rag.top_k == 2


def test_the_vector_url_setting_reaches_the_factory(vector_pm: pluggy.PluginManager, monkeypatch: Any, unused_port: int) -> None:
    monkeypatch.setenv("CONDUIT_VECTOR_URL", f"http://127.0.0.1:{unused_port}")
    with pytest.raises(ServiceUnavailableError) as info:
        create_vector_db(dimension=2, pm=vector_pm)
    assert f"no Chroma server answered at http://127.0.0.1:{unused_port}" in info.value.detail


def test_the_vectors_command_and_settings_are_declared(vector_pm: pluggy.PluginManager) -> None:
    parser = build_parser()
    args = parser.parse_args(["vectors", "ingest", "docs", "--collection", "kb", "--chunk-size", "400"])
    assert (args.action, args.target, args.collection, args.chunk_size, args.overlap) == ("ingest", "docs", "kb", 400, None)
    schemas = [s for s in vector_pm.hook.conduit_config_schema() if s and "vector_path" in s]
    assert len(schemas) == 1 and set(schemas[0]) == {"vector_path", "vector_url"}


def test_loading_the_plugin_does_not_import_chromadb() -> None:
    code = "import sys, conduit_vector, conduit_vector.plugin; print('chromadb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=dict(os.environ), timeout=60)
    assert out.stdout.strip() == "False"


class SpanRecorder:
    """A tracing plugin stand-in: records the spans the store opens."""

    __conduit_name__ = "span-recorder"

    def __init__(self) -> None:
        self.spans: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def conduit_span(self, name: str, attributes: dict[str, Any]) -> Any:
        self.spans.append((name, attributes))
        return contextlib.nullcontext()


def test_every_search_opens_a_vector_search_span() -> None:
    recorder = SpanRecorder()
    pm = create_plugin_manager(load_settings({"disabled_plugins": ["*"]}, environ={}, files=[]), extra_plugins=[recorder])
    reset_default_plugin_manager(pm)
    try:
        with activated(pm):
            with create_store(dimension=2, metric="dot") as db:
                db.add_document("a", [1.0, 0.0], None)
                db.search([1.0, 0.0], top_k=3, where={"x": 1})
    finally:
        reset_default_plugin_manager(None)
    assert recorder.spans == [
        ("vector.search", {"db.collection.name": db.collection_name, "top_k": 3, "metric": "dot", "filtered": True, "exact": True})
    ]
