"""A persistent VectorDB (path=): data survive re-opening, a new process and an app restart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conduit import Conduit
from conduit.framework.errors import ConfigurationError
from conduit.ml import create_vector_db as facade_create_vector_db
from conduit.testing import TestClient
from conduit_vector.store import create_vector_db


def test_documents_survive_closing_and_reopening_the_folder(tmp_path: Path) -> None:
    with create_vector_db(dimension=3, metric="dot", path=tmp_path, collection="notes") as db:
        assert db.mode == "persistent"
        db.add_documents([{"id": "a", "embedding": [1.0, 0.0, 0.0], "metadata": {"n": 1}, "text": "alpha"}, {"id": "b", "embedding": [0.0, 1.0, 0.0]}])
    with create_vector_db(dimension=3, metric="dot", path=tmp_path, collection="notes") as again:
        assert again.get_document_count() == 2
        hit = again.search([1.0, 0.0, 0.0], top_k=1)[0]
        assert (hit.id, hit.metadata, hit.document) == ("a", {"n": 1}, "alpha")


def test_reopening_with_another_metric_or_dimension_is_refused(tmp_path: Path) -> None:
    create_vector_db(dimension=3, metric="cosine", path=tmp_path).close()
    with pytest.raises(ConfigurationError, match="collection 'conduit' was created with metric 'cosine'; open it with metric='cosine'"):
        create_vector_db(dimension=3, metric="euclidean", path=tmp_path)
    with pytest.raises(ConfigurationError, match="collection 'conduit' holds 3-dimensional vectors; open it with dimension=3"):
        create_vector_db(dimension=4, metric="cosine", path=tmp_path)


def test_a_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ConfigurationError, match="exists and is not a folder"):
        create_vector_db(dimension=3, path=target)


def test_data_written_by_another_process_is_read_here(tmp_path: Path) -> None:
    """A real restart: a separate Python process writes through the seed's facade and exits."""
    script = textwrap.dedent(
        f"""
        from conduit.ml import create_vector_db
        db = create_vector_db(dimension=2, metric="euclidean", path={str(tmp_path)!r}, collection="restart")
        db.add_document("far", [10.0, 10.0], {{"label": "far"}})
        db.add_document("near", [1.0, 1.0], {{"label": "near"}})
        db.close()
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120, env={**os.environ, "CONDUIT_PLUGINS": "vector"})
    with create_vector_db(dimension=2, metric="euclidean", path=tmp_path, collection="restart") as db:
        assert db.get_document_count() == 2
        assert [r.metadata["label"] for r in db.search([0.0, 0.0], top_k=2)] == ["near", "far"]


def test_vector_path_setting_makes_the_default_store_persistent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vector_pm: object) -> None:
    monkeypatch.setenv("CONDUIT_VECTOR_PATH", str(tmp_path / "store"))
    with facade_create_vector_db(dimension=2) as db:
        assert db.mode == "persistent" and db.collection_name == "conduit"
        db.add_document("a", [1.0, 0.0], None)
    assert (tmp_path / "store" / "chroma.sqlite3").exists()


def _app(path: Path) -> Conduit:
    app = Conduit(plugins=[])
    app.vector_endpoints(create_vector_db(dimension=2, path=path, collection="served"), prefix="/vectors")
    return app


def test_documents_added_over_http_survive_an_app_restart(tmp_path: Path) -> None:
    with TestClient(_app(tmp_path)) as client:
        reply = client.post("/vectors/documents", json={"documents": [{"id": "kept", "embedding": [0.6, 0.8], "metadata": {"v": 1}}]})
        assert reply.status_code == 201
    with TestClient(_app(tmp_path)) as client:
        assert client.get("/vectors/count").json()["count"] == 1
        hits = client.post("/vectors/search", json={"embedding": [0.6, 0.8], "top_k": 1}).json()["results"]
        assert hits[0]["id"] == "kept" and hits[0]["metadata"] == {"v": 1} and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
