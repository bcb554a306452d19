"""vector_endpoints: add, upsert, search, get, delete, count and text routes over HTTP."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from conduit import Conduit
from conduit.framework.metrics import Metrics
from conduit.framework.monitoring import MLMetrics
from conduit.testing import TestClient
from conduit_vector.http import vector_endpoints
from conduit_vector.store import VectorDB, create_vector_db


def _serve(db: VectorDB, **options: Any) -> tuple[Conduit, MLMetrics]:
    app = Conduit(plugins=[])
    metrics = MLMetrics(Metrics())
    app.vector_endpoints(db, prefix="/vectors", metrics=metrics, **options)
    app.enable_docs(title="t", version="1")
    return app, metrics


@pytest.fixture
def client_and_metrics() -> Iterator[tuple[TestClient, MLMetrics, VectorDB]]:
    db = create_vector_db(dimension=3, metric="cosine")
    app, metrics = _serve(db, text=False)
    with TestClient(app) as client:
        yield client, metrics, db


ROWS = [
    {"id": "a", "embedding": [1.0, 0.0, 0.0], "metadata": {"lang": "en"}, "text": "alpha"},
    {"id": "b", "embedding": [0.0, 1.0, 0.0], "metadata": {"lang": "fr"}},
    {"id": "docs/guide.md#0", "embedding": [0.0, 0.0, 1.0]},
]


def test_add_search_get_delete_count_round_trip(client_and_metrics: Any) -> None:
    client, metrics, db = client_and_metrics
    added = client.post("/vectors/documents", json={"documents": ROWS})
    assert added.status_code == 201 and added.json() == {"ids": ["a", "b", "docs/guide.md#0"], "count": 3}
    assert client.get("/vectors/count").json() == {"count": 3, "collection": db.collection_name, "dimension": 3, "metric": "cosine"}
    found = client.post("/vectors/search", json={"embedding": [0.9, 0.1, 0.0], "top_k": 2}).json()
    assert [h["id"] for h in found["results"]] == ["a", "b"]
    assert found["results"][0]["document"] == "alpha" and found["results"][0]["metadata"] == {"lang": "en"}
    assert 0.95 < found["results"][0]["score"] <= 1.0 and found["took_ms"] >= 0
    filtered = client.post("/vectors/search", json={"embedding": [0.9, 0.1, 0.0], "where": {"lang": "fr"}}).json()
    assert [h["id"] for h in filtered["results"]] == ["b"]
    assert client.get("/vectors/documents/a").json() == {"id": "a", "metadata": {"lang": "en"}, "document": "alpha"}
    assert client.delete("/vectors/documents/docs/guide.md%230").json() == {"id": "docs/guide.md#0", "deleted": True}
    missing = client.delete("/vectors/documents/docs/guide.md%230")
    assert missing.status_code == 404 and missing.json()["error"] == "document not found"
    assert client.get("/vectors/documents/nope").status_code == 404
    assert client.get("/vectors/count").json()["count"] == 2
    assert metrics.metrics.get_counter("ml_vector_searches_total", {"collection": db.collection_name}) == 2
    assert metrics.metrics.get_histogram("ml_vector_search_results", {"collection": db.collection_name}).count == 2


def test_search_include_chooses_the_fields_returned_besides_ids_and_scores(client_and_metrics: Any) -> None:
    client, _, _ = client_and_metrics
    client.post("/vectors/documents", json={"documents": ROWS})
    query = {"embedding": [0.9, 0.1, 0.0], "top_k": 1}
    bare = client.post("/vectors/search", json={**query, "include": []}).json()["results"][0]
    assert bare["id"] == "a" and bare["metadata"] == {} and bare["document"] is None and bare["score"] > 0.95
    meta = client.post("/vectors/search", json={**query, "include": ["metadata"]}).json()["results"][0]
    assert meta["metadata"] == {"lang": "en"} and meta["document"] is None
    bad = client.post("/vectors/search", json={**query, "include": ["embedding"]})
    assert bad.status_code == 422 and "include may only name 'metadata' and 'document'" in bad.json()["error"]
    assert client.post("/vectors/search", json={**query, "include": "metadata"}).status_code == 422


def test_adding_an_existing_id_is_409_and_put_replaces(client_and_metrics: Any) -> None:
    client, _, db = client_and_metrics
    assert client.post("/vectors/documents", json={"documents": ROWS[:1]}).status_code == 201
    conflict = client.post("/vectors/documents", json={"documents": ROWS[:2]})
    assert conflict.status_code == 409 and "use upsert" in conflict.json()["detail"]
    assert db.get_document_count() == 1
    replaced = client.put("/vectors/documents", json={"documents": [{"id": "a", "embedding": [0.0, 1.0, 0.0]}, ROWS[1]]})
    assert replaced.status_code == 200 and replaced.json() == {"ids": ["a", "b"], "count": 2}
    assert client.get("/vectors/documents/a").json() == {"id": "a", "metadata": {}, "document": None}


@pytest.mark.parametrize(
    ("method", "path", "body", "error"),
    [
        ("post", "/vectors/documents", {"documents": [{"id": "x", "embedding": [1.0, 2.0]}]}, "document 0 ('x'): the embedding has 2 dimensions; this database holds 3-dimensional vectors"),
        ("post", "/vectors/documents", {"documents": [{"id": "x", "embedding": [1.0, "n", 2.0]}]}, "document 0 ('x'): the embedding must hold only numbers"),
        ("post", "/vectors/documents", {"documents": [{"id": "x", "embedding": [1.0, 2.0, 3.0], "metadata": {"k": None}}]}, "document 0 ('x'): metadata 'k' is null"),
        ("post", "/vectors/documents", {"documents": []}, "'documents' must be a non-empty list"),
        ("post", "/vectors/documents", [1, 2], "the body must be a JSON object"),
        ("post", "/vectors/search", {"embedding": [1.0, 2.0]}, "the query embedding has 2 dimensions; this database holds 3-dimensional vectors"),
        ("post", "/vectors/search", {"embedding": [1.0, 2.0, 3.0], "top_k": 0}, "top_k must be at least 1"),
        ("post", "/vectors/search", {"embedding": [1.0, 2.0, 3.0], "top_k": 5000}, "top_k must be at most 1000"),
        ("post", "/vectors/search", {"embedding": [1.0, 2.0, 3.0], "where": {"k": {"$nope": 1}}}, "invalid where filter"),
    ],
)
def test_bad_requests_are_422_json_naming_the_problem(client_and_metrics: Any, method: str, path: str, body: Any, error: str) -> None:
    client, _, db = client_and_metrics
    reply = getattr(client, method)(path, json=body)
    assert reply.status_code == 422, reply.text
    payload = reply.json()
    assert payload["error"] == error and payload["status"] == 422 and "request_id" in payload
    assert "Traceback" not in reply.text and "site-packages" not in reply.text
    assert db.get_document_count() == 0


@pytest.mark.parametrize("method", ["post", "put"])
def test_an_id_twice_in_one_batch_is_409(client_and_metrics: Any, method: str) -> None:
    client, _, db = client_and_metrics
    reply = getattr(client, method)("/vectors/documents", json={"documents": [{"id": "x", "embedding": [1.0, 2.0, 3.0]}] * 2})
    assert reply.status_code == 409 and reply.json()["error"] == "document 1 ('x'): the id appears twice in the batch"
    assert db.get_document_count() == 0


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/vectors/documents", {"documents": [{"id": "x", "embedding": [1.0, 2.0, 3.0], "metadata": {"#document": "t"}}]},
         "document 0 ('x'): metadata key '#document' is reserved"),
        ("/vectors/documents", {"documents": [{"id": "x", "embedding": [1.0, 2.0, 3.0], "metadata": {"$k": 1}}]},
         "document 0 ('x'): metadata key '$k' is reserved"),
        ("/vectors/documents", {"documents": [{"id": "x", "embedding": [1e300, 2.0, 3.0]}]},
         "document 0 ('x'): the embedding holds a number too large for a distance"),
        ("/vectors/search", {"embedding": [1.0, 2.0, -1e39]}, "the query embedding holds a number too large for a distance"),
        ("/vectors/search", {"embedding": [1.0, 2.0, 3.0], "k": 3}, "unknown field(s) 'k'"),
        ("/vectors/documents", {"documents": [], "extra": 1}, "unknown field(s) 'extra'"),
    ],
)
def test_what_chroma_would_fail_on_is_422_before_it(client_and_metrics: Any, path: str, body: Any, error: str) -> None:
    client, _, db = client_and_metrics
    reply = client.post(path, json=body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == error and db.get_document_count() == 0


def test_json_numbers_are_one_type_in_lists_and_integral_top_k(client_and_metrics: Any) -> None:
    client, _, db = client_and_metrics
    row = {"id": "m", "embedding": [1.0, 0.0, 0.0], "metadata": {"sizes": [1, 2.5]}}
    assert client.post("/vectors/documents", json={"documents": [row]}).status_code == 201
    assert client.get("/vectors/documents/m").json()["metadata"] == {"sizes": [1.0, 2.5]}
    found = client.post("/vectors/search", json={"embedding": [1, 0, 0], "top_k": 1.0, "where": {"sizes": {"$contains": 2.5}}})
    assert found.status_code == 200 and [hit["id"] for hit in found.json()["results"]] == ["m"]
    listed = client.post("/vectors/search", json={"embedding": [1, 0, 0], "where": {"n": {"$in": [1, 2.5]}}})
    assert listed.status_code == 200 and listed.json()["results"] == []


def test_too_many_documents_in_one_request_is_422() -> None:
    with create_vector_db(dimension=1) as db:
        app, _ = _serve(db, text=False, max_documents=2)
        with TestClient(app) as client:
            reply = client.post("/vectors/documents", json={"documents": [{"id": str(i), "embedding": [1.0]} for i in range(3)]})
    assert reply.status_code == 422 and reply.json()["error"] == "too many documents in one request (limit 2)"


def test_openapi_describes_bodies_responses_and_errors(client_and_metrics: Any) -> None:
    client, _, _ = client_and_metrics
    spec = client.get("/openapi.json").json()
    add = spec["paths"]["/vectors/documents"]["post"]
    body = add["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["documents"] and body["additionalProperties"] is False
    assert body["properties"]["documents"]["maxItems"] == 1000
    document = body["properties"]["documents"]["items"]
    assert document["required"] == ["id", "embedding"] and document["additionalProperties"] is False
    assert document["properties"]["embedding"]["minItems"] == document["properties"]["embedding"]["maxItems"] == 3
    assert {"201", "409", "422", "503"} <= set(add["responses"]) and "200" not in add["responses"]
    assert add["tags"] == ["vectors"]
    assert {"409", "422"} <= set(spec["paths"]["/vectors/documents"]["put"]["responses"])
    search = spec["paths"]["/vectors/search"]["post"]
    assert search["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SearchResponse"}
    query = search["requestBody"]["content"]["application/json"]["schema"]
    assert query["required"] == ["embedding"] and set(query["properties"]) == {"embedding", "top_k", "where", "include"}
    assert query["properties"]["include"]["items"] == {"enum": ["metadata", "document"]}
    assert query["properties"]["top_k"]["maximum"] == 1000 and query["additionalProperties"] is False
    assert set(spec["paths"]["/vectors/documents/{doc_id}"]) == {"get", "delete"}
    assert "/vectors/count" in spec["paths"] and "/vectors/search/text" not in spec["paths"]


def test_text_routes_embed_on_the_server(vector_pm: Any, minilm: Any) -> None:
    db = create_vector_db(dimension=384)
    app, metrics = _serve(db)
    with TestClient(app) as client:
        added = client.post(
            "/vectors/texts",
            json={"documents": [{"id": "cat", "text": "A cat sleeps on the sofa."}, {"id": "car", "text": "The car needs new tyres.", "metadata": {"k": 1}}]},
        )
        assert added.status_code == 201 and added.json()["count"] == 2
        assert client.put("/vectors/texts", json={"documents": [{"id": "car", "text": "The truck needs new tyres."}]}).status_code == 200
        hits = client.post("/vectors/search/text", json={"text": "a sleeping kitten", "top_k": 2}).json()["results"]
        assert hits[0]["id"] == "cat" and hits[0]["document"] == "A cat sleeps on the sofa."
        bad = client.post("/vectors/search/text", json={"text": ""})
        assert bad.status_code == 422 and bad.json()["error"] == "the query text is empty"
        spec_paths = client.get("/openapi.json").json()["paths"]
    assert "/vectors/texts" in spec_paths and "/vectors/search/text" in spec_paths
    collection = db.collection_name
    assert metrics.metrics.get_counter("ml_vector_searches_total", {"collection": collection}) == 1


def test_the_app_closes_the_database_at_shutdown() -> None:
    db = create_vector_db(dimension=2)
    app = Conduit(plugins=[])
    vector_endpoints(app, db, prefix="/v/")
    with TestClient(app) as client:
        assert client.get("/v/count").json()["count"] == 0
    assert db.closed is True
