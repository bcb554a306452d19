"""Client/server: a real `chroma run` server on 127.0.0.1, shared by several clients."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from conduit_vector.store import create_vector_db

from conduit import Conduit
from conduit.framework.errors import ServiceUnavailableError
from conduit.testing import TestClient

pytestmark = pytest.mark.slow


def test_two_clients_share_one_server_collection(chroma_server: Any) -> None:
    with create_vector_db(dimension=3, metric="cosine", url=chroma_server.url, collection="shared") as one:
        assert one.mode == "http"
        one.add_documents([{"id": "a", "embedding": [1.0, 0.0, 0.0], "metadata": {"tag": "x"}, "text": "alpha"}, {"id": "b", "embedding": [0.0, 1.0, 0.0]}])
        with create_vector_db(dimension=3, metric="cosine", url=chroma_server.url, collection="shared") as two:
            assert two.get_document_count() == 2
            hit = two.search([0.9, 0.1, 0.0], top_k=1, where={"tag": "x"})[0]
            assert (hit.id, hit.document) == ("a", "alpha") and hit.score > 0.95
            assert two.delete_document("a") is True
        assert one.get_document_count() == 1
        one.drop()


def test_an_app_serves_a_server_collection_over_http(chroma_server: Any) -> None:
    app = Conduit(plugins=[])
    app.vector_endpoints(create_vector_db(dimension=2, metric="dot", url=chroma_server.url, collection="served-http"))
    with TestClient(app) as client:
        assert client.put("/vectors/documents", json={"documents": [{"id": "p", "embedding": [1.0, 2.0]}]}).status_code == 200
        found = client.post("/vectors/search", json={"embedding": [1.0, 0.0]}).json()["results"]
        assert found[0]["id"] == "p" and found[0]["score"] == pytest.approx(1.0)
    with create_vector_db(dimension=2, metric="dot", url=chroma_server.url, collection="served-http") as check:
        assert check.list_ids() == ["p"]
        check.drop()


def test_no_server_at_the_url_is_a_503_naming_how_to_start_one(unused_port: int) -> None:
    port = unused_port
    with pytest.raises(ServiceUnavailableError, match="the vector store is unreachable") as info:
        create_vector_db(dimension=2, url=f"http://127.0.0.1:{port}")
    assert info.value.status_code == 503 and f"chroma run --path DIR --host 127.0.0.1 --port {port}" in info.value.detail


def test_a_server_that_goes_away_gives_503_not_500(tmp_path: Path, start_chroma: Callable[[Path], Any]) -> None:
    server = start_chroma(tmp_path / "data")
    try:
        db = create_vector_db(dimension=2, url=server.url, collection="going-away")
        db.add_document("a", [1.0, 0.0], None)
    finally:
        server.stop()
    try:
        with pytest.raises(ServiceUnavailableError, match="the vector store is unreachable") as info:
            db.search([1.0, 0.0])
        assert "searching failed" in info.value.detail
    finally:
        db.close()


def test_concurrent_clients_adding_and_searching_lose_nothing(chroma_server: Any) -> None:
    errors: list[BaseException] = []

    def client(worker: int) -> None:
        try:
            with create_vector_db(dimension=4, url=chroma_server.url, collection="concurrent") as db:
                for batch in range(5):
                    rows = [{"id": f"{worker}-{batch}-{i}", "embedding": [1.0, worker, batch, i]} for i in range(10)]
                    db.add_documents(rows)
                    assert db.search(rows[-1]["embedding"], top_k=1)[0].id == rows[-1]["id"]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with create_vector_db(dimension=4, url=chroma_server.url, collection="concurrent") as db:
        assert db.get_document_count() == 200
        assert sorted(db.list_ids()) == sorted(f"{w}-{b}-{i}" for w in range(4) for b in range(5) for i in range(10))
        db.drop()


def test_forked_workers_each_open_their_own_connection_to_the_server(chroma_server: Any) -> None:
    """--workers N forks after the app is built: a client opened before the fork must not
    hand its kept-alive socket to every worker (their requests would interleave on it)."""
    db = create_vector_db(3, url=chroma_server.url, collection="forked")
    workers: list[int] = []
    try:
        db.add_documents([{"id": f"d{i}", "embedding": [1.0, float(i), 0.5]} for i in range(2)])
        assert db.get_document_count() == 2  # the parent now holds a kept-alive connection
        for i in range(2):
            pid = os.fork()
            if pid == 0:  # a worker: 200 reads of its own document; a shared socket mixes up or hangs them
                code = 3
                try:
                    signal.alarm(20)
                    code = 0 if all(db.get_document(f"d{i}").id == f"d{i}" for _ in range(200)) else 2
                finally:
                    os._exit(code)
            workers.append(pid)
        codes = []
        for pid in workers:
            _, status = os.waitpid(pid, 0)
            codes.append(os.waitstatus_to_exitcode(status))
        workers.clear()
        assert codes == [0, 0]
        assert db.get_document_count() == 2  # the parent reconnects too
        db.drop()
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        db.close()


def test_readiness_names_the_chroma_server_and_follows_it(chroma_server: Any, unused_port: int) -> None:
    """Issue 23: /health/ready checks a configured Chroma server, as the check named vector."""
    with TestClient(Conduit(plugins=["vector"], vector_url=chroma_server.url)) as client:
        ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["vector"]["ok"] is True
    with TestClient(Conduit(plugins=["vector"], vector_url=f"http://127.0.0.1:{unused_port}")) as client:
        down = client.get("/health/ready")
    assert down.status_code == 503 and "Chroma server unavailable" in down.text
