"""RAGPipeline: retrieval with the real MiniLM embedder, a deterministic fake LLM, the prompt."""

from __future__ import annotations

from typing import Any, Iterator

import anyio
import pytest

from conduit import Conduit
from conduit.framework.errors import ConfigurationError, InferenceError
from conduit.ml import create_rag_pipeline as facade_create_rag_pipeline
from conduit.testing import TestClient
from conduit_vector.rag import DEFAULT_PROMPT, RAGPipeline, create_rag_pipeline
from conduit_vector.store import VectorDB, create_vector_db

DOCS = {
    "conduit": "Conduit is a Python framework for serving ML and LLM workloads over HTTP.",
    "chroma": "Chroma is an open-source embedding database that stores vectors and metadata.",
    "bread": "Sourdough bread needs a starter, flour, water and salt.",
}


class EchoLLM:
    """A test double for an LLM: records each prompt and answers with the first source id it sees."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        first = prompt.split("(source: ", 1)[1].split(")", 1)[0] if "(source: " in prompt else "none"
        return f"answer from {first}"


@pytest.fixture
def db(vector_pm: Any, minilm: Any) -> Iterator[VectorDB]:
    with create_vector_db(dimension=384) as opened:
        opened.add_texts([{"id": k, "text": v, "metadata": {"kind": "bread" if k == "bread" else "tech"}} for k, v in DOCS.items()])
        yield opened


def test_seed_example_query_and_last_sources(db: VectorDB, minilm: Any) -> None:
    llm = EchoLLM()
    rag = facade_create_rag_pipeline(vector_db=db, embedding_model=minilm, llm=llm, top_k=2)
    assert isinstance(rag, RAGPipeline)
    answer = rag.query("What is Conduit?")
    assert answer == "answer from conduit"
    sources = rag.get_last_sources()
    assert [s.id for s in sources][0] == "conduit" and len(sources) == 2
    assert sources[0].document == DOCS["conduit"]


def test_the_prompt_has_the_documented_format(db: VectorDB) -> None:
    llm = EchoLLM()
    rag = create_rag_pipeline(db, None, llm, top_k=1)
    rag.query("  What is Chroma?  ")
    assert llm.prompts == [
        "Answer the question using only the context below. If the context does not contain\n"
        "the answer, say that you do not know.\n\n"
        "Context:\n"
        f"[1] (source: chroma) {DOCS['chroma']}\n\n"
        "Question: What is Chroma?\n"
        "Answer:"
    ]
    assert DEFAULT_PROMPT.count("{context}") == 1


def test_where_filter_and_custom_template(db: VectorDB) -> None:
    llm = EchoLLM()
    rag = create_rag_pipeline(db, None, llm, top_k=3, where={"kind": "bread"}, prompt_template="Q={question}\nC={context}")
    rag.query("What is Conduit?")
    assert [s.id for s in rag.get_last_sources()] == ["bread"]
    assert llm.prompts[0].startswith("Q=What is Conduit?\nC=[1] (source: bread) Sourdough")


def test_an_async_llm_works_from_sync_and_async_code(db: VectorDB) -> None:
    seen: list[str] = []

    async def llm(prompt: str) -> str:
        await anyio.sleep(0)
        seen.append(prompt)
        return "async answer"

    rag = create_rag_pipeline(db, None, llm, top_k=1)
    assert rag.query("What is Chroma?") == "async answer"

    async def main() -> str:
        return await rag.aquery("What is Chroma?")

    assert anyio.run(main) == "async answer" and len(seen) == 2
    assert rag.get_last_sources()[0].id == "chroma"


def test_a_sync_query_with_an_async_llm_inside_a_loop_points_to_aquery(db: VectorDB) -> None:
    async def llm(prompt: str) -> str:
        return "never"

    rag = create_rag_pipeline(db, None, llm)

    async def main() -> None:
        rag.query("What is Chroma?")

    with pytest.raises(ConfigurationError, match=r"use await rag.aquery\(text\)"):
        anyio.run(main)


def test_an_async_llm_answers_inside_a_sync_conduit_handler(db: VectorDB) -> None:
    async def llm(prompt: str) -> str:
        return "from the app loop"

    rag = create_rag_pipeline(db, None, llm, top_k=1)
    app = Conduit(plugins=[])

    @app.post("/ask")
    def ask(request: Any) -> dict[str, Any]:
        answer = rag.ask(request.json()["question"])
        return {"answer": answer.answer, "sources": [s.id for s in answer.sources]}

    with TestClient(app) as client:
        assert client.post("/ask", json={"question": "What is Conduit?"}).json() == {"answer": "from the app loop", "sources": ["conduit"]}


def test_no_hits_gives_the_no_documents_context(vector_pm: Any, minilm: Any) -> None:
    llm = EchoLLM()
    with create_vector_db(dimension=384) as empty:
        assert create_rag_pipeline(empty, minilm, llm).query("anything?") == "answer from none"
    assert "Context:\n(no documents found)\n" in llm.prompts[0]


def test_llm_answers_with_a_text_attribute_and_bad_answers_are_inference_errors(db: VectorDB) -> None:
    class Reply:
        text = "wrapped"

    assert create_rag_pipeline(db, None, lambda prompt: Reply()).query("What is Conduit?") == "wrapped"
    with pytest.raises(InferenceError, match="the language model returned no text"):
        create_rag_pipeline(db, None, lambda prompt: 42).query("What is Conduit?")


def test_embedding_model_may_be_a_plain_callable() -> None:
    with create_vector_db(dimension=2, metric="euclidean") as db:
        db.add_documents([{"id": "left", "embedding": [-1.0, 0.0], "text": "left side"}, {"id": "right", "embedding": [1.0, 0.0], "text": "right side"}])
        rag = create_rag_pipeline(db, lambda text: [1.0 if "right" in text else -1.0, 0.0], EchoLLM(), top_k=1)
        assert rag.query("go right") == "answer from right"
        assert rag.retrieve("go left")[0].id == "left"


class PredictModel:
    """Seed 000's ``llm=llm_model``: a model object answering through ``predict``."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def predict(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return "predicted: " + prompt.split("(source: ", 1)[1].split(")", 1)[0]


def test_an_llm_object_with_predict_is_asked_through_predict(db: VectorDB) -> None:
    model = PredictModel()
    rag = facade_create_rag_pipeline(vector_db=db, embedding_model=None, llm=model, top_k=1)
    assert rag.query("What is Chroma?") == "predicted: chroma"
    assert model.prompts[0].startswith("Answer the question using only the context below.")
    assert anyio.run(rag.aquery, "What is Conduit?") == "predicted: conduit"
    assert len(model.prompts) == 2 and rag.get_last_sources()[0].id == "conduit"


def test_an_llm_object_with_an_async_generate_returning_text_works_sync_and_async(db: VectorDB) -> None:
    class Completion:
        def __init__(self, text: str) -> None:
            self.text = text

    class Generator:
        def __init__(self) -> None:
            self.calls = 0

        async def generate(self, prompt: str) -> Completion:
            await anyio.sleep(0)
            self.calls += 1
            return Completion("generated from " + ("chroma" if "(source: chroma)" in prompt else "elsewhere"))

    generator = Generator()
    rag = create_rag_pipeline(db, None, generator, top_k=1)
    assert rag.query("What is Chroma?") == "generated from chroma"
    assert anyio.run(rag.aquery, "What is Chroma?") == "generated from chroma"
    assert generator.calls == 2


def test_predict_wins_over_generate_and_call_on_an_object_with_all_three(db: VectorDB) -> None:
    class Both(PredictModel):
        def generate(self, prompts: list[str]) -> Any:  # a batch API of another shape
            raise AssertionError("generate must not be called when predict exists")

        def __call__(self, prompt: str) -> str:
            raise AssertionError("__call__ must not be called when predict exists")

    assert create_rag_pipeline(db, None, Both(), top_k=1).query("What is Chroma?") == "predicted: chroma"


def test_an_llm_method_returning_no_text_is_an_inference_error_naming_the_type(db: VectorDB) -> None:
    class Numbers:
        def predict(self, prompt: str) -> list[float]:
            return [0.1, 0.9]

    with pytest.raises(InferenceError) as caught:
        create_rag_pipeline(db, None, Numbers()).query("What is Conduit?")
    assert "the llm returned list; return a str (or an object with a text attribute)" in str(caught.value.detail)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"llm": None}, r"llm must answer the prompt: pass an object with predict\(prompt\) or generate\(prompt\), or a callable.*got NoneType"),
        ({"llm": "gpt"}, r"llm must answer the prompt.*got str"),
        ({"llm": object()}, r"predict\(prompt\) or generate\(prompt\).*got object"),
        ({"llm": EchoLLM(), "embedding_model": 3}, "embedding_model int cannot embed text"),
        ({"llm": EchoLLM(), "prompt_template": "no slots"}, r"prompt_template must contain \{context\} and \{question\}"),
    ],
)
def test_bad_pipeline_arguments_are_configuration_errors(kwargs: dict[str, Any], message: str) -> None:
    with create_vector_db(dimension=2) as db:
        with pytest.raises(ConfigurationError, match=message):
            create_rag_pipeline(db, **kwargs)
    with pytest.raises(ConfigurationError, match="vector_db must be a VectorDB"):
        create_rag_pipeline(object(), None, EchoLLM())
