"""Seed 000 (the Conduit API reference): its code samples, run from the seed's text.

The seed's import lines are Conduit's, so the samples run as written: ``sample(SEED, LINE)``
takes the code block starting at that seed line, rewrites its imports from docs/seeds.md (here
they stay the same) and runs it. What a sample leaves to the reader is supplied, nothing else
changed:

- ``app`` (a fresh ``Conduit()``), and the Conduit names the seed imports in one sample and uses
  in the next (``abort``, ``InferenceEngine``): :func:`~.samples.conduit_globals`;
- the seed's ``List`` / ``Dict`` annotations (it never imports ``typing``) and ``time``;
- the user's own objects: ``model``, ``features``, ``preprocessor``, ``db``... (small classes below);
- fragments that use ``request`` run as a handler's body (:func:`~.samples.as_handler`);
- placeholders: a ``[0.1, 0.2, 0.3, ...]`` "384-dim vector" becomes one, and ``port=8080``
  a free port where a sample really serves.

Samples that serve forever (``app.run()``, ``server.run()``) run in a child process, as the seed
runs them, and are stopped with SIGINT (the seed's Ctrl+C). :data:`NOT_RUN` lists the blocks
that are not runnable code (signatures, console output, fragments), with why; a test checks
that every python block is either run here or listed there.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
import signal
import sys
import time
import typing
from pathlib import Path
from typing import Any

import httpx
import pytest

from conduit import Conduit
from conduit.framework.monitoring import _health_check, _metrics
from conduit.testing import TestClient, free_port

from .samples import ServedScript, as_handler, block, blocks, conduit_globals, python_blocks, run_lines_in, sample

SEED = "000"

#: Python blocks that are not runnable code, and why.
NOT_RUN = {
    51: "the constructor's signature, not code",
    280: "a fragment: an `if` whose body is a comment",
    293: "a fragment: `return` outside a handler, with an undefined request",
    306: "comments only",
    472: "the constructor's signature, not code",
    765: "a template: `@app.METHOD(pattern)`",
    785: "a handler template whose body is `pass`",
}


@pytest.fixture(scope="module")
def conduit_names() -> dict[str, Any]:
    return conduit_globals(SEED)


@pytest.fixture
def ns(conduit_names: dict[str, Any]) -> dict[str, Any]:
    """A namespace as the seed's reader has it: an app, the seed's Conduit names, typing, time."""
    return {
        "__name__": "seed_000_sample",
        **conduit_names,
        "List": typing.List, "Dict": typing.Dict, "Any": typing.Any,  # noqa: UP006 - the seed's annotations
        "time": time,
        "app": Conduit(),
    }


def test_every_python_block_runs_or_says_why() -> None:
    run = run_lines_in(Path(__file__).read_text(encoding="utf-8"))
    lines = {b.line for b in python_blocks(SEED)}
    assert not run - {b.line for b in blocks(SEED)}, f"sample() calls name lines where no block starts: {sorted(run - lines)}"
    assert lines - run == set(NOT_RUN), f"blocks neither run nor listed in NOT_RUN: {sorted(lines - run - set(NOT_RUN))}"


# --- The Conduit class, routes, requests, responses --------------------------------------------


def test_constructor_and_route_decorators(ns: dict[str, Any]) -> None:
    sample(SEED, 62).run(ns)
    assert (ns["app"].settings.host, ns["app"].settings.port) == ("127.0.0.1", 3000)
    sample(SEED, 91).run(ns)
    sample(SEED, 115).run(ns)
    sample(SEED, 136).run(ns)
    sample(SEED, 157).run(ns)
    with TestClient(ns["app"]) as client:
        assert client.get("/").json() == {"message": "Hello"}
        assert client.get("/users").json() == {"users": "Alice, Bob"}
        created = client.post("/users", json={"name": "Alice"})
        assert created.status_code == 201 and created.json() == {"created": str({"name": "Alice"})}
        assert client.put("/users", json={"name": "Bob"}).json() == {"updated": str({"name": "Bob"})}
        assert client.delete("/users").json() == {"deleted": "true"}


def test_request_properties_and_methods(ns: dict[str, Any]) -> None:
    app = ns["app"]
    sample(SEED, 319).run(ns)
    sample(SEED, 364).run(ns)
    sample(SEED, 381).run(ns)
    sample(SEED, 405).run(ns)
    app.get("/query")(as_handler(block(SEED, 334).code, ns, name="query_access"))
    app.get("/headers")(as_handler(block(SEED, 351).code, ns, name="header_access"))
    app.post("/nested")(as_handler(block(SEED, 457).code, ns, name="nested_json"))
    with TestClient(app) as client:
        assert client.get("/search?q=widget&limit=5").json() == {"query": "widget", "limit": "5"}
        assert client.get("/search").json() == {"query": "", "limit": "10"}
        assert client.get("/query?key=given").json() == {"value": "given"}
        assert client.get("/query").json() == {"value": "default"}
        got = client.get("/headers", headers={"content-type": "text/plain", "authorization": "Bearer t"}).json()
        assert got == {"content_type": "text/plain", "auth": "Bearer t"}  # case-insensitive
        assert client.post("/data", content=b"12345").json() == {"received": "5"}
        assert client.get("/users/42").json() == {"id": "42"}  # `:id` is matched at run time
        assert client.get("/protected").status_code == 401
        assert client.get("/protected").json() == {"error": "Unauthorized"}
        assert client.get("/protected", headers={"Authorization": "Bearer x"}).json() == {"message": "Access granted"}
        nested = client.post("/nested", json={"user": "{\"id\": 1}"}).json()
        assert nested["user_json"] == "{\"id\": 1}"


def test_parse_json_with_the_seeds_request_body(ns: dict[str, Any]) -> None:
    sample(SEED, 433).run(ns)
    body = json.loads(block(SEED, 448).code)
    with TestClient(ns["app"]) as client:
        r = client.post("/users", json=body)
    assert r.status_code == 201 and r.json() == {"created": "Alice <alice@example.com>"}


def test_response_objects(ns: dict[str, Any]) -> None:
    sample(SEED, 482).run(ns)
    assert ns["response"].status_code == 500
    sample(SEED, 506).run(ns)
    assert ns["response"].status_code == 404
    sample(SEED, 519).run(ns)
    assert ns["response"].headers["content-type"] == "application/json"
    assert ns["response"].headers["Cache-Control"] == "no-cache"
    sample(SEED, 533).run(ns)
    assert json.loads(ns["response"].body) == {"message": "Hello"}
    sample(SEED, 555).run(ns)
    assert ns["response"].get_header("x-custom-header") == "MyValue"
    sample(SEED, 577).run(ns)
    assert ns["request_id"] == "12345"
    sample(SEED, 798).run(ns)  # every status the seed lists constructs
    sample(SEED, 623).run(ns)
    # The seed says int values don't work; in Conduit they do (any JSON value).
    assert json.loads(ns["HTTPResponse"]().json(ns["data"]).body) == {"name": "Alice", "age": str(30)}


def test_json_responses_and_the_error_response_pattern(ns: dict[str, Any]) -> None:
    app = ns["app"]
    sample(SEED, 603).run(ns)
    app.post("/chained")(as_handler(block(SEED, 614).code, ns, name="chained"))
    sample(SEED, 817).run(ns, **{"app": (other := Conduit())})
    with TestClient(app) as client:
        assert client.get("/users").json() == {"users": "Alice, Bob, Charlie", "count": "3"}
        r = client.post("/chained")
        assert r.status_code == 201 and r.json() == {"status": "created", "id": "123"}
    with TestClient(other) as client:
        r = client.get("/users")
        assert r.status_code == 400 and r.json() == {"error": "Missing user ID"}
        r = client.get("/users?id=999")
        assert r.status_code == 404 and r.json() == {"error": "User not found"}
        assert client.get("/users?id=7").json() == {"id": "7", "name": "Alice"}


# --- Middleware and docs ------------------------------------------------------------------------


def _users(app: Conduit) -> None:
    """Two routes for the middleware samples to wrap (the seed's console output shows them)."""
    from conduit.http.response import HTTPResponse

    @app.get("/users")
    def users(request: Any) -> dict[str, str]:
        return {"users": "Alice"}

    @app.post("/users")
    def create(request: Any) -> Any:
        return HTTPResponse(201).json({"created": "true"})


def test_logger_and_cors_middleware(ns: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    sample(SEED, 179).run(ns)
    _users(ns["app"])
    with caplog.at_level(logging.INFO, logger="conduit.access"), TestClient(ns["app"]) as client:
        r = client.get("/users")
        client.post("/users")
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "conduit.access"]
    assert lines == ["[API] GET /users", "[API] -> 200", "[API] POST /users", "[API] -> 201"]  # seed lines 662-665
    assert r.headers["access-control-allow-origin"] == "https://example.com"  # seed lines 701-703
    allowed_methods = set(r.headers["access-control-allow-methods"].replace(" ", "").split(","))
    assert allowed_methods >= {"GET", "POST", "PUT", "DELETE", "OPTIONS"}
    assert set(r.headers["access-control-allow-headers"].replace(" ", "").split(",")) >= {"Content-Type", "Authorization"}

    other: dict[str, Any] = {**ns, "app": Conduit()}
    sample(SEED, 654).run(other)
    sample(SEED, 689).run(other)
    sample(SEED, 721).run(other)
    sample(SEED, 741).run(other)
    _users(other["app"])
    with TestClient(other["app"]) as client:
        r = client.get("/users")
    assert r.headers["access-control-allow-origin"] in {"*", "https://example.com"}
    assert re.fullmatch(r"\d+\.\d{2}ms", r.headers["x-response-time"])  # measured, not the seed's fixed 0.00ms
    assert r.headers["x-powered-by"] == "Conduit" and r.headers["x-version"] == "1.0.0"  # the seed's apply() middleware


def test_enable_docs(ns: dict[str, Any]) -> None:
    sample(SEED, 211).run(ns)
    with TestClient(ns["app"]) as client:
        docs = client.get("/docs")
        spec = client.get("/openapi.json").json()
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert spec["info"] == {"title": "My API", "version": "1.0.0", "description": "A simple REST API"}


@pytest.mark.slow
def test_the_complete_example_serves_what_its_curl_lines_ask(tmp_path: Path) -> None:
    """Seed lines 843-908, run as ``python app.py`` (only its port made free), then the
    seed's curl lines (920-923) against it, then Ctrl+C."""
    port = free_port()
    source = block(SEED, 843).code.replace("Conduit(port=8080)", f"Conduit(port={port})")
    with ServedScript(source, tmp_path) as served:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base).json() == {"message": "Welcome to My API", "version": "1.0.0", "docs": "/docs"}
        assert httpx.get(base + "/users?page=2&limit=20").json() == {"users": "Alice, Bob, Charlie", "page": "2",
                                                                      "limit": "20"}
        r = httpx.post(base + "/users", headers={"Content-Type": "application/json"}, content='{"name":"Alice"}')
        assert r.status_code == 201 and r.json() == {"status": "created", "name": "Alice"}
        assert httpx.post(base + "/users", content="{}").status_code == 400
        assert httpx.get(base + "/health").json() == {"status": "healthy", "timestamp": "2025-11-03"}
        assert httpx.get(base + "/docs").status_code == 200
        r = httpx.get(base + "/users", headers={"Origin": "https://example.com"})
        assert r.headers["access-control-allow-origin"] == "https://example.com" and "x-response-time" in r.headers
    assert served.returncode == 0, served.output
    assert f"Server running at http://0.0.0.0:{port}" in served.output  # seed lines 253-262
    assert re.search(r"\d+ route\(s\) registered", served.output)
    assert "[API] GET /users" in served.output and "[API] -> 201" in served.output


@pytest.mark.slow
def test_run_with_constructor_values_and_overrides(tmp_path: Path) -> None:
    """Seed lines 241-247: ``app.run()`` serves on the constructor's port (made free here);
    the second half (``app.run(host=..., port=...)``) is reached after Ctrl+C."""
    first, second = free_port(), free_port()
    source = "from conduit import Conduit\n" + (block(SEED, 241).code.replace("Conduit(port=8080)", f"Conduit(port={first})")
              .replace("port=3000", f"port={second}"))
    with ServedScript(source, tmp_path) as served:
        assert httpx.get(f"http://127.0.0.1:{first}/").status_code == 404  # serving, no routes
        served.process.send_signal(signal.SIGINT)  # Ctrl+C: the first run() returns, the second starts
        served.wait_for("Server running at", count=2)
        assert f"Server running at http://127.0.0.1:{second}" in served.output
        assert httpx.get(f"http://127.0.0.1:{second}/").status_code == 404
    assert served.returncode == 0, served.output


# --- ML inference, pipelines, ensembles ----------------------------------------------------------


class MeanModel:
    def predict(self, features: list[float]) -> list[float]:
        return [sum(features) / len(features)]


class Flaky:
    """A model that fails ``failures`` times, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def predict(self, features: Any) -> list[float]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("model server unreachable")
        return [float(sum(features))]


def test_inference_engine_and_load_model(ns: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    sample(SEED, 937).run(ns)
    sample(SEED, 943).run(ns, **{"model": MeanModel()})
    sample(SEED, 959).run(ns)
    assert capsys.readouterr().out == "[2.0]\n"  # seed line 967
    from sklearn.linear_model import LogisticRegression

    estimator = LogisticRegression(max_iter=500).fit([[0.0, 0.0], [0.1, 0.2], [1.0, 1.0], [0.9, 1.1]], [0, 0, 1, 1])
    with open(tmp_path / "model.pkl", "wb") as fh:
        pickle.dump(estimator, fh)
    monkeypatch.chdir(tmp_path)
    sample(SEED, 975).run(ns)
    engine = ns["engine"]
    assert (engine.predict([0.05, 0.1]), engine.predict([1.0, 0.95])) == (0, 1)  # one sample a call, as the seed's
    engine.close()


def test_pipelines_and_ensembles(ns: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    class Upper:
        def predict(self, data: list[str]) -> list[str]:
            return [x.upper() for x in data]

    class Length:
        def predict(self, data: list[str]) -> list[int]:
            return [len(x) for x in data]

    sample(SEED, 999).run(ns)
    sample(SEED, 1005).run(ns, **{"preprocessor": Upper(), "embedding_model": Upper(), "classifier": Length(),
                            "input_data": ["ab", "cde"]})
    assert ns["result"] == [2, 3] and ns["pipeline"].get_stage_count() == 3
    sample(SEED, 1027).run(ns)
    # The seed's comment (line 1046) says ["positive", "negative"], but its own classifier calls a
    # word positive when longer than 5 letters, and "hello" and "world" have 5: Conduit prints
    # what the sample computes.
    assert capsys.readouterr().out == "['negative', 'negative']\n"
    assert ns["pipeline"].get_stage_count() == 2

    class Vote:
        def __init__(self, label: str) -> None:
            self.label = label

        def predict(self, features: Any) -> str:
            return self.label

    sample(SEED, 1054).run(ns, **{"model1": Vote("cat"), "model2": Vote("dog"), "model3": Vote("cat"),
                            "features": [1.0, 2.0]})
    assert ns["result"] == "cat"


# --- Vector database, RAG, ONNX, streaming --------------------------------------------------------


def _unit(index: int, dimension: int = 384) -> list[float]:
    vector = [0.0] * dimension
    vector[index] = 1.0
    return vector


def test_vector_database(ns: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    sample(SEED, 1075).run(ns)
    sample(SEED, 1081).run(ns)
    sample(SEED, 1096, ("[0.1, 0.2, 0.3, ...]", "[0.1, 0.2, 0.3] + [0.0] * 381")).run(ns)
    db = ns["vector_db"]
    db.add_document(doc_id="doc2", embedding=_unit(200), metadata={"title": "Other", "content": "Far away"})
    sample(SEED, 1116, ("[0.15, 0.25, 0.35, ...]", "[0.15, 0.25, 0.35] + [0.0] * 381")).run(ns)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ID: doc1, Score: 1.00" and out[1] == "Title: Hello"  # cosine of parallel-ish vectors
    assert db.get_document_count() == 2
    assert db.delete_document("doc2") is True and db.get_document_count() == 1


def test_rag_pipeline_with_an_llm_object_and_the_bundled_embedder(ns: dict[str, Any]) -> None:
    from conduit.ml import get_embedder

    embedding_model = get_embedder()  # conduit-onnx's MiniLM (384 dimensions), no download
    sample(SEED, 1081).run(ns)
    vector_db = ns["vector_db"]
    texts = {"conduit": "Conduit is a Python framework for serving ML and LLM workloads over HTTP.",
             "tea": "Green tea is brewed at about 80 degrees Celsius."}
    for doc_id, text in texts.items():
        vector_db.add_document(doc_id=doc_id, embedding=embedding_model.embed_one(text), metadata={"content": text})

    class LLM:
        prompts: list[str] = []

        def predict(self, prompt: str) -> str:
            self.prompts.append(prompt)
            return "Conduit serves ML over HTTP." if "Python framework" in prompt else "I don't know."

    llm_model = LLM()
    sample(SEED, 1136).run(ns, **{"embedding_model": embedding_model, "llm_model": llm_model})
    assert "Conduit serves ML over HTTP." in str(ns["answer"])
    assert ns["sources"][0].id == "conduit"  # the passage the answer came from, best first
    assert "Python framework" in llm_model.prompts[-1]  # the LLM was given the retrieved passage


@pytest.fixture
def onnx_file(tmp_path: Path) -> Path:
    """A small scikit-learn model converted to model.onnx (skl2onnx), in the sample's directory."""
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    x = np.array([[1.0, 2.0, 3.0], [2.0, 0.0, 1.0], [0.0, 1.0, 0.0], [3.0, 3.0, 3.0]], dtype=np.float32)
    model = LinearRegression().fit(x, x.sum(axis=1))
    path = tmp_path / "model.onnx"
    path.write_bytes(to_onnx(model, x[:1], target_opset=17).SerializeToString())
    return path


def test_onnx_models_on_gpu_or_cpu(ns: dict[str, Any], onnx_file: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(onnx_file.parent)
    sample(SEED, 1159).run(ns)
    features = [[1.0, 1.0, 1.0]]
    sample(SEED, 1165).run(ns, **{"features": features})
    assert abs(float(_flat(ns["result"])[0]) - 3.0) < 1e-3
    sample(SEED, 1182).run(ns)
    out = capsys.readouterr().out
    assert out.strip() in {"✓ GPU available", "✗ CPU only"}
    assert (out.strip() == "✓ GPU available") == ns["has_gpu_support"]()
    assert "CPUExecutionProvider" in ns["get_onnx_providers"]()


def _flat(value: Any) -> list[Any]:
    while isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        value = value.tolist() if hasattr(value, "tolist") else value
        if isinstance(value, list) and value and isinstance(value[0], (list, tuple)):
            value = [v for row in value for v in row]
        else:
            break
    return list(value)


def test_streaming_inference_over_server_sent_events(ns: dict[str, Any]) -> None:
    class Double:
        def predict(self, x: float) -> float:
            return 2 * x

    sample(SEED, 1209).run(ns)
    sample(SEED, 1215).run(ns, **{"model": Double()})
    sample(SEED, 1224).run(ns)
    with TestClient(ns["app"]) as client:
        r = client.post("/predict/stream", json={"features": list(range(250))})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache"
    events = [line[len("data: "):] for line in r.text.split("\n") if line.startswith("data: ")]
    assert len(events) == 3  # chunk_size=100: 100 + 100 + 50
    assert events[0] == str([2 * x for x in range(100)]) and events[2] == str([2 * x for x in range(200, 250)])


# --- MCP ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_mcp_server_over_stdio_with_the_official_client(tmp_path: Path) -> None:
    """Seed lines 1249-1317 as one script: the server, its tools, resource and prompt, then
    ``server.run()`` (the last line of the block at 1265, moved after the later registrations
    so they exist when it starts serving)."""
    from mcp.client import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    tool_block = sample(SEED, 1265).source
    assert tool_block.rstrip().endswith("server.run()")
    parts = [sample(SEED, 1249).source, sample(SEED, 1255).source, tool_block.rstrip()[: -len("server.run()")],
             sample(SEED, 1285).source, sample(SEED, 1302).source, sample(SEED, 1313).source, "server.run()\n"]
    script = tmp_path / "mcp_sample.py"
    script.write_text("from typing import List, Dict\n" + "\n".join(parts), encoding="utf-8")
    params = StdioServerParameters(command=sys.executable, args=[str(script)], cwd=str(tmp_path))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        info = await session.initialize()
        assert info.server_info.name == "my-tools" and info.server_info.version == "1.0.0"
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"calculate", "my_tool"}
        assert tools["calculate"].description == "Perform calculation"
        added = await session.call_tool("calculate", {"a": 2, "b": 3, "operation": "add"})
        assert added.is_error is False and float(added.content[0].text) == 5.0
        unknown = await session.call_tool("calculate", {"a": 2, "b": 3, "operation": "divide"})
        assert unknown.is_error is True and "Unknown operation" in unknown.content[0].text
        mine = await session.call_tool("my_tool", {"arg1": "x", "arg2": 3})
        assert mine.content[0].text == "Processed: x x 3"
        readme = await session.read_resource("doc://readme")
        assert readme.contents[0].text == "# My Documentation\n\nContent here..."
        prompt = await session.get_prompt("code_review", {"language": "Rust"})
        assert prompt.messages[0].content.text == "Review this Rust code for quality and security."


# --- Errors, monitoring ---------------------------------------------------------------------------


def test_errors_raise_and_abort_with_their_statuses(ns: dict[str, Any]) -> None:
    sample(SEED, 1330).run(ns)
    app = ns["app"]
    sample(SEED, 1385).run(ns)
    state: dict[str, Any] = {}
    handler_ns = {**ns}
    handler = as_handler(sample(SEED, 1363).source, handler_ns, name="errors")

    @app.get("/errors")
    def errors(request: Any) -> Any:
        handler_ns.update(state)
        return handler(request)

    class Broken:
        def predict(self, features: Any) -> Any:
            raise RuntimeError("weights missing at /srv/models/secret/model.onnx")

    with TestClient(app) as client:
        state.update(data=None)
        r = client.get("/errors")
        assert r.status_code == 400
        assert r.json()["error"] == "Data required" and r.json()["detail"] == "The 'data' field is missing"
        state.update(data={"x": 1}, user_id="")
        r = client.get("/errors")
        assert r.status_code == 400 and r.json()["error"] == "Missing user ID"
        state.update(user_id="u1", model=Broken(), features=[1.0])
        r = client.get("/errors")
        assert r.status_code == 500 and r.json()["error"] == "Prediction failed"
        assert "/srv/models" not in r.text  # the detail is sanitised
        state.update(model=MeanModel())
        r = client.get("/errors")
        assert r.status_code == 200 and r.json()["result"] == [1.0]


def test_metrics(ns: dict[str, Any]) -> None:
    before = {"requests": _metrics.get_counter("requests")}
    sample(SEED, 1403).run(ns)
    sample(SEED, 1409).run(ns)
    assert ns["count"] - before["requests"] == 2.0  # seed line 1412: 2.0 from a fresh start
    assert ns["value"] == 10.0
    assert ns["values"].count >= 2 and ns["duration"] >= 0


def test_logging_middleware_and_health_checks(ns: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    sample(SEED, 1432).run(ns)
    try:
        sample(SEED, 1442).run(ns)
        with caplog.at_level(logging.INFO), TestClient(ns["app"]) as client:
            r = client.get("/health")
            ready = client.get("/health/ready")
        assert r.status_code == 200 and r.json()["checks"]["database"]["message"] == "Database OK"
        assert ready.json()["checks"]["database"]["ok"] is True  # the registered check is a readiness check too
        assert any("/health" in rec.getMessage() for rec in caplog.records)  # "logs every request"
    finally:
        _health_check.unregister_check("database")


def test_ml_metrics(ns: dict[str, Any]) -> None:
    sample(SEED, 1465).run(ns)
    snapshot = ns["ml_metrics"].metrics.export_metrics_prometheus()
    for needle in ("bert-base", "rag-pipeline"):
        assert needle in snapshot


# --- Security ----------------------------------------------------------------------------------


def test_rate_limit_globally_and_per_route(ns: dict[str, Any]) -> None:
    sample(SEED, 1509).run(ns)
    sample(SEED, 1515).run(ns)
    with TestClient(ns["app"]) as client:
        answers = [client.post("/api/data").status_code for _ in range(11)]
        r = client.post("/api/data")
    assert answers[:10] == [200] * 10 and answers[10] == 429  # "limited to 10 requests per minute"
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_input_validation(ns: dict[str, Any]) -> None:
    sample(SEED, 1532).run(ns)
    with TestClient(ns["app"]) as client:
        r = client.post("/api/data", json={"name": "Ann"})
        assert r.status_code == 400 and r.json()["error"] == "Missing fields" and "email" in r.json()["detail"]
        r = client.post("/api/data", json={"name": "Ann", "email": "a@x", "age": "old"})
        assert r.status_code == 400 and r.json()["error"] == "Type errors" and "age" in r.json()["detail"]
        r = client.post("/api/data", json={"name": "Ann", "email": "a@x", "age": 130})
        assert r.status_code == 400 and r.json()["error"] == "Range errors"
        r = client.post("/api/data", json={"name": "Ann", "email": "a@x", "age": 30, "features": [0.1] * 3})
        assert r.status_code == 422 and r.json()["error"] == "Invalid shape"
        r = client.post("/api/data", json={"name": "Ann", "email": "a@x", "age": 30, "score": 99.5,
                                           "features": [0.1] * 768})
        assert r.status_code == 200


def test_auth_cors_and_security_headers(ns: dict[str, Any]) -> None:
    sample(SEED, 1574).run(ns)
    sample(SEED, 1591).run(ns)
    sample(SEED, 1604).run(ns)

    @ns["app"].get("/private")
    def private(request: Any) -> dict[str, bool]:
        return {"ok": True}

    with TestClient(ns["app"]) as client:
        assert client.get("/private").status_code == 401
        assert client.get("/private", headers={"X-API-Key": "wrong"}).status_code == 401
        r = client.get("/private", headers={"X-API-Key": "secret-key-2", "Origin": "https://app.example.com"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example.com"
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-xss-protection"] == "1; mode=block"
        other = client.get("/private", headers={"X-API-Key": "secret-key-1", "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = client.options("/private", headers={"Origin": "https://example.com",
                                                        "Access-Control-Request-Method": "PUT"})
        assert preflight.status_code in (200, 204) and "PUT" in preflight.headers["access-control-allow-methods"]
    # The seed's Strict-Transport-Security goes out over TLS only (browsers ignore it over HTTP).
    assert "strict-transport-security" not in r.headers


# --- Resilience ----------------------------------------------------------------------------------


def test_circuit_breaker_retry_and_resilient_model(ns: dict[str, Any]) -> None:
    sample(SEED, 1626).run(ns)
    model = Flaky(failures=10**6)
    circuit_sample = sample(SEED, 1632)
    circuit_sample.run(ns, model=model, features=[1.0, 2.0], fallback_value=[0.0])
    circuit = ns["circuit"]
    ns["CircuitBreaker"] = lambda **_: circuit  # the sample builds its breaker each run: keep the first
    for _ in range(4):
        circuit_sample.run(ns)
    assert model.calls == 5 and not circuit.can_execute()  # "Open after 5 failures"
    circuit_sample.run(ns)
    assert model.calls == 5 and ns["result"] == [0.0]  # open: the fallback, the model not called

    sample(SEED, 1654).run(ns, model=(flaky := Flaky(failures=2)), features=[1.0, 2.0])
    assert flaky.calls == 3 and ns["result"] == [3.0]  # two failures retried
    sample(SEED, 1670).run(ns, base_model=Flaky(failures=1), features=[2.0, 3.0])
    assert ns["result"] == [5.0]
    sample(SEED, 1686).run(ns, model=Flaky(failures=2))
    assert ns["make_prediction"]([1.0, 1.0]) == [2.0]


# --- Edge cases -----------------------------------------------------------------------------------


def test_request_limits_memory_monitor_and_connection_pool(ns: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    sample(SEED, 1704).run(ns)
    sample(SEED, 1712).run(ns)
    with caplog.at_level(logging.INFO):
        sample(SEED, 1720).run(ns)  # abort() is not reached: far below 1024 MB
    assert ns["current_mb"] > 0 and ns["exceeded"] is False
    assert any("memory" in rec.getMessage().lower() for rec in caplog.records)
    sample(SEED, 1736).run(ns, **{"process_data": lambda data: {"echo": data}})
    with TestClient(ns["app"]) as client:
        r = client.post("/api/data", json={"a": 1})
        assert r.status_code == 200 and r.json() == {"echo": {"a": 1}}
        big = client.post("/api/data", content=b"x", headers={"Content-Length": str(51 * 1024 * 1024)})
        assert big.status_code == 413
    assert ns["pool"].acquire_connection() is True  # released after each request


def test_streaming_upload(ns: dict[str, Any]) -> None:
    sample(SEED, 1782).run(ns)
    payload = bytes(range(256)) * 100
    with TestClient(ns["app"]) as client:
        r = client.post("/upload", content=payload)
    body = r.json()
    try:
        assert body["status"] == "uploaded" and body["bytes"] == len(payload)
        assert Path(body["path"]).read_bytes() == payload
    finally:
        Path(body["path"]).unlink(missing_ok=True)


@pytest.mark.slow
def test_graceful_shutdown_runs_the_cleanups_on_ctrl_c(tmp_path: Path) -> None:
    """Seed lines 1756-1776 as a script (its port made free): Ctrl+C runs both cleanups."""
    port = free_port()
    user_objects = ("class _Model:\n    def cleanup(self):\n        pass\n\n"
                    "class _Db:\n    def close(self):\n        pass\n\n"
                    "from conduit import Conduit\napp = Conduit()\nmodel, db = _Model(), _Db()\n\n")
    source = user_objects + sample(SEED, 1756).source.replace("app.run(port=8080)", f"app.run(port={port})")
    with ServedScript(source, tmp_path) as served:
        httpx.get(f"http://127.0.0.1:{port}/health/live").raise_for_status()
    assert served.returncode == 0, served.output
    assert "Cleaning up ML model..." in served.output and "Closing database connections..." in served.output


@pytest.mark.slow
def test_the_complete_production_example(tmp_path: Path) -> None:
    """Seed lines 1803-1895 as ``python app.py`` beside a model.pkl (its port made free)."""
    from sklearn.linear_model import LogisticRegression

    estimator = LogisticRegression(max_iter=500).fit([[0.0, 0.0], [0.1, 0.2], [1.0, 1.0], [0.9, 1.1]], [0, 0, 1, 1])
    with open(tmp_path / "model.pkl", "wb") as fh:
        pickle.dump(estimator, fh)
    port = free_port()
    source = sample(SEED, 1803).source.replace("app.run(port=8080)", f"app.run(port={port})")
    with ServedScript(source, tmp_path) as served:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/").json() == {"service": "Production API", "version": "1.0.0"}
        health = httpx.get(base + "/health")
        assert health.status_code == 200 and health.json()["checks"]["model"]["message"] == "Model loaded"
        r = httpx.post(base + "/predict", json={"features": [1.0, 0.95]})
        assert r.status_code == 200, r.text
        assert r.json()["prediction"] == 1 and r.json()["duration_ms"] > 0
        missing = httpx.post(base + "/predict", json={})
        assert missing.status_code == 400 and missing.json()["error"] == "Validation failed"
        bad = httpx.post(base + "/predict", json={"features": "not numbers"})
        assert bad.status_code == 500 and bad.json()["error"] == "Prediction failed"
        metrics = httpx.get(base + "/metrics?format=prometheus").text
        assert "conduit_predictions_success_total 1" in metrics and "conduit_predictions_failed_total 1" in metrics
        assert r.headers["x-content-type-options"] == "nosniff"
    assert served.returncode == 0, served.output
    assert "Cleanup complete" in served.output
