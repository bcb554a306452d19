"""Index Conduit's own docs/ into the showcase's vector database, in a background thread.

Start-up stays quick: the server answers at once while conduit-vector's ``ingest_path``
(the code behind ``conduit vectors ingest``) chunks every ``.md`` file, embeds the chunks
with the offline MiniLM embedder and upserts them with ids ``<relative path>#<n>`` and
metadata ``{"source", "chunk", "title"}``. Until it is done, ``/health/ready`` fails its
``docs_index`` check with "indexing N/M files". ``CONDUIT_SHOWCASE_DOCS`` names another
folder to index (the tests use a small one).

When the app stops (Ctrl+C, SIGTERM) while indexing runs, :meth:`DocsIndex.stop` asks the
thread to stop before its next batch and waits for it. A daemon thread left inside
onnxruntime at interpreter exit would be unwound by ``pthread_exit`` through C++ frames as
soon as it asked for the GIL back, which aborts the process ("terminate called without an
active exception", exit 134). Every batch is written whole, and the next start indexes
everything again (ids are stable, upserts idempotent), so a persistent store stays consistent.
"""

from __future__ import annotations

import atexit
import logging
import threading
from pathlib import Path
from typing import Any

__all__ = ["DOCS_DIR", "DocsIndex", "IndexingStopped"]

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
_log = logging.getLogger("conduit.showcase")


class IndexingStopped(Exception):
    """Raised in the indexing thread, between two batches, once :meth:`DocsIndex.stop` was called."""


class _StoppableDB:
    """``db`` as ``ingest_path`` sees it: each batch first checks whether indexing should stop."""

    def __init__(self, db: Any, stopping: threading.Event) -> None:
        self._db = db
        self._stopping = stopping

    def upsert_texts(self, rows: Any) -> Any:
        if self._stopping.is_set():
            raise IndexingStopped
        return self._db.upsert_texts(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class DocsIndex:
    """Fills ``db`` from ``root`` once, in a daemon thread; reports progress for health and status."""

    def __init__(self, db: Any, root: Path = DOCS_DIR) -> None:
        from conduit_vector.ingest import find_documents

        self.db = db
        self.root = root
        self.files = find_documents(root) if root.is_dir() else []
        self.done_files = 0
        self.chunks = 0
        self.error: str | None = None
        self.seconds: float | None = None
        self.stopped = False  # stopped before the end by stop()
        self._finished = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self._finished.is_set() and self.error is None and not self.stopped

    def start(self) -> None:
        if self._thread is None and not self._stopping.is_set():
            _log.info("docs index: indexing %d files from %s in the background", len(self.files), self.root)
            self._thread = threading.Thread(target=self._run, name="showcase-docs-index", daemon=True)
            self._thread.start()
            atexit.register(self.stop)  # in case the process exits without the app's shutdown

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop indexing before its next batch and wait up to ``timeout`` seconds for the
        thread; True once no indexing runs. The app's shutdown calls it (see the module docstring)."""
        self._stopping.set()
        atexit.unregister(self.stop)
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        if thread.is_alive():
            _log.warning("docs index: still embedding after %.0f s; the process may abort at exit", timeout)
            return False
        return True

    async def aclose(self) -> None:
        """:meth:`stop` from the event loop (an ``on_shutdown`` callback), in a worker thread."""
        import anyio

        await anyio.to_thread.run_sync(self.stop)

    def wait(self, timeout: float | None = None) -> bool:
        """True once indexing finished (successfully or not) within ``timeout``."""
        return self._finished.wait(timeout)

    def status(self) -> dict[str, Any]:
        state = "ready" if self.ready else ("failed" if self.error else ("stopped" if self.stopped else "indexing"))
        return {"state": state, "files": len(self.files), "indexed_files": self.done_files,
                "chunks": self.chunks, "seconds": self.seconds, "error": self.error}

    def health_check(self) -> tuple[bool, str]:
        """For ``/health/ready``: ok once the docs are searchable."""
        if self.ready:
            return True, f"{self.chunks} chunks from {len(self.files)} files indexed in {self.seconds}s"
        if self.error:
            return False, f"indexing failed: {self.error}"
        if self.stopped:
            return False, f"indexing stopped after {self.done_files}/{len(self.files)} files (the app is stopping)"
        return False, f"indexing {self.done_files}/{len(self.files)} files"

    def _progress(self, done: int, total: int, source: str, chunks: int) -> None:
        self.done_files, self.chunks = done, chunks
        if self._stopping.is_set() and done < total:
            raise IndexingStopped

    def _run(self) -> None:
        from conduit_vector.ingest import ingest_path

        try:
            report = ingest_path(_StoppableDB(self.db, self._stopping), self.root, progress=self._progress)
            self.done_files, self.chunks, self.seconds = report.files, report.chunks, round(report.seconds, 2)
            _log.info("docs index: %d chunks from %d files in %.1f s", report.chunks, report.files, report.seconds)
        except IndexingStopped:
            self.stopped = True
            _log.info("docs index: stopped after %d/%d files (the app is stopping); the next start indexes again",
                      self.done_files, len(self.files))
        except Exception as exc:  # noqa: BLE001 - reported through /health/ready and the log
            self.error = f"{type(exc).__name__}: {exc}"
            _log.exception("indexing %s failed", self.root)
        finally:
            self._finished.set()
