"""The seed's RAGPipeline: retrieve from a VectorDB, then ask an LLM with the passages.

``create_rag_pipeline(vector_db, embedding_model, llm)``:

- ``embedding_model`` turns the question into a vector: an object with
  ``embed(list[str]) -> list[list[float]]`` (conduit-onnx's embedder), an object with
  ``predict(str)``, a callable ``f(str) -> list[float]``, or None to use the database's
  own embedder (:attr:`VectorDB.embedder`).
- ``llm`` answers the prompt (a ``str``), sync or async: an object with ``predict(prompt)``
  (as seed 000 shows it), else one with ``generate(prompt)``, else any callable
  ``f(prompt)`` (a function, a provider client's bound method). The answer is a ``str``, or an
  object with a ``text`` or ``content`` string attribute, read through it.

The prompt (override with ``prompt_template=``, which must contain ``{context}`` and
``{question}``) is exactly::

    Answer the question using only the context below. If the context does not contain
    the answer, say that you do not know.

    Context:
    [1] (source: doc-7) <text of the best hit>
    [2] (source: doc-3) <text of the second hit>

    Question: <the question>
    Answer:

Each passage is the hit's stored text, else its metadata ``content`` or ``text`` field,
else its metadata rendered as ``key: value`` pairs. When nothing is found the context
reads ``(no documents found)``.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread

from conduit.framework.errors import ConfigurationError, InferenceError
from conduit.plugins import resolve_sync
from conduit_vector.store import SearchResult
from conduit_vector.validation import validate_text, validate_top_k, validate_where

__all__ = ["DEFAULT_PROMPT", "RAGAnswer", "RAGPipeline", "create_rag_pipeline", "format_context"]

DEFAULT_PROMPT = (
    "Answer the question using only the context below. If the context does not contain\n"
    "the answer, say that you do not know.\n"
    "\n"
    "Context:\n"
    "{context}\n"
    "\n"
    "Question: {question}\n"
    "Answer:"
)
NO_CONTEXT = "(no documents found)"


@dataclass(frozen=True)
class RAGAnswer:
    """An answer with the passages it was given and the exact prompt sent."""

    answer: str
    sources: list[SearchResult]
    prompt: str


def _passage(hit: SearchResult) -> str:
    if hit.document:
        return hit.document
    for key in ("content", "text"):
        value = hit.metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return "; ".join(f"{k}: {v}" for k, v in hit.metadata.items())


def format_context(hits: list[SearchResult], max_chars: int | None = None) -> str:
    """The numbered passages of the prompt; each cut to ``max_chars`` when given."""
    if not hits:
        return NO_CONTEXT
    lines = []
    for number, hit in enumerate(hits, 1):
        text = " ".join(_passage(hit).split())
        if max_chars is not None and len(text) > max_chars:
            text = text[: max_chars - 1].rstrip() + "…"
        lines.append(f"[{number}] (source: {hit.id}) {text}")
    return "\n".join(lines)


def _embed_function(embedding_model: Any, vector_db: Any) -> Callable[[str], Any]:
    if embedding_model is None:
        return lambda text: vector_db.embed([text])[0]
    embed = getattr(embedding_model, "embed", None)
    if callable(embed):
        return lambda text: embed([text])[0]
    predict = getattr(embedding_model, "predict", None)
    if callable(predict):
        return lambda text: predict(text)
    if callable(embedding_model):
        return lambda text: embedding_model(text)
    raise ConfigurationError(
        f"embedding_model {type(embedding_model).__name__} cannot embed text; pass an object with "
        "embed(list[str]), a callable f(text) -> vector, or None to use the database's embedder"
    )


_LLM_METHODS = ("predict", "generate")


def _llm_function(llm: Any) -> Callable[[str], Any]:
    """The callable that answers a prompt: ``llm.predict``, else ``llm.generate``, else ``llm``.

    The named methods come first so that an object which is also callable (a model class with a
    ``__call__`` of another shape) is asked the way seed 000 asks it, through ``predict``.
    """
    for name in _LLM_METHODS:
        method = getattr(llm, name, None)
        if callable(method):
            return method
    if llm is not None and callable(llm):
        return llm
    raise ConfigurationError(
        "llm must answer the prompt: pass an object with predict(prompt) or generate(prompt), or a "
        "callable taking the prompt (str), sync or async, returning a str (or an object with a text "
        f"attribute); got {type(llm).__name__}"
    )


def _is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(getattr(function, "__call__", None))


def _answer_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    for attribute in ("text", "content"):
        value = getattr(result, attribute, None)
        if isinstance(value, str):
            return value
    raise InferenceError(
        "the language model returned no text",
        f"the llm returned {type(result).__name__}; return a str (or an object with a text attribute)",
    )


class RAGPipeline:
    """Retrieval-augmented generation over one :class:`~conduit_vector.store.VectorDB`.

    ``query(text)`` (sync) and ``await aquery(text)`` return the answer string;
    ``ask``/``aask`` return a :class:`RAGAnswer`. :meth:`get_last_sources` gives the hits
    of the query that finished last on this pipeline.
    """

    def __init__(
        self,
        vector_db: Any,
        embedding_model: Any = None,
        llm: Any = None,
        *,
        top_k: int = 4,
        where: Mapping[str, Any] | None = None,
        prompt_template: str = DEFAULT_PROMPT,
        max_passage_chars: int | None = 2000,
    ) -> None:
        if not callable(getattr(vector_db, "search", None)):
            raise ConfigurationError(f"vector_db must be a VectorDB (from create_vector_db); got {type(vector_db).__name__}")
        generate = _llm_function(llm)
        if "{context}" not in prompt_template or "{question}" not in prompt_template:
            raise ConfigurationError("prompt_template must contain {context} and {question}")
        self.vector_db = vector_db
        self.embedding_model = embedding_model
        self.llm = llm
        self._generate = generate
        self.top_k = validate_top_k(top_k)
        self.where = validate_where(where)
        self.prompt_template = prompt_template
        self.max_passage_chars = max_passage_chars
        self._embed = _embed_function(embedding_model, vector_db)
        self._lock = threading.Lock()
        self._last_sources: list[SearchResult] = []

    def retrieve(self, question: str, top_k: int | None = None, where: Mapping[str, Any] | None = None) -> list[SearchResult]:
        """The passages for ``question`` (no LLM call)."""
        text = validate_text(question, what="question")
        vector = self._embed(text)
        # A passage is the stored text, else metadata (content/text, else all of it), and the
        # sources carry the metadata back: both fields are what RAG needs; nothing else is fetched.
        return list(
            self.vector_db.search(
                vector, top_k=self.top_k if top_k is None else top_k, where=where or self.where, include=("metadata", "document")
            )
        )

    def build_prompt(self, question: str, sources: list[SearchResult]) -> str:
        """The exact prompt sent to the LLM (see the module docstring)."""
        context = format_context(sources, self.max_passage_chars)
        return self.prompt_template.replace("{context}", context).replace("{question}", question.strip())

    def _finish(self, prompt: str, sources: list[SearchResult], result: Any) -> RAGAnswer:
        answer = RAGAnswer(_answer_text(result), sources, prompt)
        with self._lock:
            self._last_sources = list(sources)
        return answer

    def ask(self, question: str, *, top_k: int | None = None, where: Mapping[str, Any] | None = None) -> RAGAnswer:
        """Retrieve, prompt and call the LLM; an async ``llm`` is awaited (see :meth:`query`)."""
        sources = self.retrieve(question, top_k, where)
        prompt = self.build_prompt(question, sources)
        return self._finish(prompt, sources, _resolve(self._generate(prompt)))

    async def aask(self, question: str, *, top_k: int | None = None, where: Mapping[str, Any] | None = None) -> RAGAnswer:
        """:meth:`ask` for async code: retrieval runs in a worker thread, the LLM is awaited."""
        sources = await anyio.to_thread.run_sync(lambda: self.retrieve(question, top_k, where))
        prompt = self.build_prompt(question, sources)
        if _is_async(self._generate):
            result = await self._generate(prompt)
        else:
            result = await anyio.to_thread.run_sync(self._generate, prompt)
            if inspect.isawaitable(result):
                result = await result
        return self._finish(prompt, sources, result)

    def query(self, text: str, **options: Any) -> str:
        """The seed's ``rag.query(text)``: the answer as a string.

        With an async ``llm``, call it from sync code with no running event loop (a script,
        or a sync Conduit handler, where it runs on the app's loop); inside a coroutine use
        ``await rag.aquery(text)``.
        """
        return self.ask(text, **options).answer

    async def aquery(self, text: str, **options: Any) -> str:
        return (await self.aask(text, **options)).answer

    def get_last_sources(self) -> list[SearchResult]:
        """The hits given to the LLM by the query that finished last (best first)."""
        with self._lock:
            return list(self._last_sources)


def _resolve(value: Any) -> Any:
    """The value of an awaitable from sync code (see conduit.plugins.resolve_sync); inside a
    running loop, a ConfigurationError pointing to aquery."""
    try:
        return resolve_sync(value)
    except RuntimeError:
        raise ConfigurationError(
            "the llm is async and query() was called inside an event loop; use await rag.aquery(text)"
        ) from None


def create_rag_pipeline(
    vector_db: Any, embedding_model: Any = None, llm: Any = None, **options: Any
) -> RAGPipeline:
    """The seed's ``create_rag_pipeline(vector_db=, embedding_model=, llm=)``; ``options``:
    ``top_k`` (4), ``where``, ``prompt_template``, ``max_passage_chars`` (2000)."""
    return RAGPipeline(vector_db, embedding_model, llm, **options)
