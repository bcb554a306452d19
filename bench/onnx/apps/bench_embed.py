"""The offline MiniLM embedder behind ``model_endpoint`` at ``POST /embed``, for bench/onnx/embed.py.

``EMBED_VARIANT`` picks how the InferenceEngine calls the model:

- ``single``: ``max_batch_size=1``, one request per model call (the baseline);
- ``batched``: up to ``EMBED_BATCH`` (32) requests per call, waiting at most
  ``EMBED_WAIT_MS`` (5) for a batch to fill;
- ``bucketed``: as ``batched``, plus ``bucket_key`` = the text's token count, so when more
  than a batch is queued the engine batches texts of similar length together.

``EMBED_SUB_BATCH`` sets the embedder's own sub-batch (TextEmbedder sorts a call's texts by
length and runs them in sub-batches of this size; default 32). ``EMBED_THREADS=1`` builds
``TextEmbedder(intra_op_threads=1)`` (same model and tokenizer) instead of the shared
``get_embedder()`` one, whose ONNX Runtime session uses its default thread pool (one thread
per core, spinning while it waits). ``EMBED_NO_SPIN=1`` builds the shared embedder's session with
ONNX Runtime's ``session.intra_op.allow_spinning = 0`` (a patch applied here, in the benchmark
only, to measure that change). ``GET /`` answers bench/http's readiness probe.
"""

import os

from conduit import Conduit
from conduit.ml import InferenceEngine, get_embedder

variant = os.environ.get("EMBED_VARIANT", "bucketed")
if variant not in ("single", "batched", "bucketed"):
    raise SystemExit(f"EMBED_VARIANT must be single, batched or bucketed, not {variant!r}")

if os.environ.get("EMBED_NO_SPIN"):
    import conduit_onnx.loader

    _session_options = conduit_onnx.loader.session_options

    def _no_spin(*args, **kwargs):
        options = _session_options(*args, **kwargs)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return options

    conduit_onnx.loader.session_options = _no_spin

if os.environ.get("EMBED_THREADS"):
    from conduit_onnx.embedder import TextEmbedder

    embedder = TextEmbedder(use_gpu=False, intra_op_threads=int(os.environ["EMBED_THREADS"]))
else:
    embedder = get_embedder()  # conduit-onnx's all-MiniLM-L6-v2 (CONDUIT_PLUGINS must allow "onnx")
embedder.batch_size = int(os.environ.get("EMBED_SUB_BATCH", "32"))
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
