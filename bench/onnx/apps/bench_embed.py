"""The offline MiniLM embedder behind ``model_endpoint`` at ``POST /embed``, for bench/onnx/embed.py.

``EMBED_VARIANT`` picks how the InferenceEngine calls the model:

- ``single``: ``max_batch_size=1``, one request per model call (the baseline);
- ``batched``: up to ``EMBED_BATCH`` (32) requests per call, waiting at most
  ``EMBED_WAIT_MS`` (5) for a batch to fill;
- ``bucketed``: as ``batched``, plus ``bucket_key`` = the text's token count, so when more
  than a batch is queued the engine batches texts of similar length together.

``EMBED_SUB_BATCH`` sets the embedder's own sub-batch (TextEmbedder sorts a call's texts by
length and runs them in sub-batches of this size; default: the embedder's, 8 on the CPU).
The shared ``get_embedder()`` is used unless a session setting is asked for:
``EMBED_SPIN=1`` builds ``TextEmbedder(allow_spinning=True)`` (the old default: ONNX
Runtime's pool threads busy-wait between parallel sections), ``EMBED_THREADS=N`` builds
``TextEmbedder(intra_op_threads=N)``; same model and tokenizer. ``GET /`` answers
bench/http's readiness probe.
"""

import os

from conduit import Conduit
from conduit.ml import InferenceEngine, get_embedder

variant = os.environ.get("EMBED_VARIANT", "bucketed")
if variant not in ("single", "batched", "bucketed"):
    raise SystemExit(f"EMBED_VARIANT must be single, batched or bucketed, not {variant!r}")

spin = bool(os.environ.get("EMBED_SPIN"))
threads = int(os.environ["EMBED_THREADS"]) if os.environ.get("EMBED_THREADS") else None
if spin or threads is not None:
    from conduit_onnx.embedder import TextEmbedder

    embedder = TextEmbedder(use_gpu=False, intra_op_threads=threads, allow_spinning=True if spin else None)
else:
    embedder = get_embedder()  # conduit-onnx's all-MiniLM-L6-v2 (CONDUIT_PLUGINS must allow "onnx")
if os.environ.get("EMBED_SUB_BATCH"):
    embedder.batch_size = int(os.environ["EMBED_SUB_BATCH"])
embedder.embed(["warm the session up"])


def token_count(text: str) -> int:
    return len(embedder.tokenizer.encode(text).ids)


engine = InferenceEngine(
    embedder,
    max_batch_size=1 if variant == "single" else int(os.environ.get("EMBED_BATCH", "32")),
    max_wait_ms=float(os.environ.get("EMBED_WAIT_MS", "5")),
    bucket_key=token_count if variant == "bucketed" else None,
    name="minilm",
)

app = Conduit(plugins=[])
app.on_shutdown(engine.aclose)
app.model_endpoint("/embed", engine, stream=False)


@app.get("/")
async def hello(request):
    return {"message": "Hello, World!"}
