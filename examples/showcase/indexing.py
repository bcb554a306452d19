"""Index Conduit's own docs/ into the showcase's vector database, in a background thread.

Start-up stays quick: the server answers at once while conduit-vector's ``ingest_path``
(the code behind ``conduit vectors ingest``) chunks every ``.md`` file, embeds the chunks
with the offline MiniLM embedder and upserts them with ids ``<relative path>#<n>`` and
metadata ``{"source", "chunk", "title"}``. Until it is done, ``/health/ready`` fails its
``docs_index`` check with "indexing N/M files". ``CONDUIT_SHOWCASE_DOCS`` names another
folder to index (the tests use a small one).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

__all__ = ["DOCS_DIR", "DocsIndex"]

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
_log = logging.getLogger("conduit.showcase")


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
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self._finished.is_set() and self.error is None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="showcase-docs-index", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """True once indexing finished (successfully or not) within ``timeout``."""
        return self._finished.wait(timeout)

    def status(self) -> dict[str, Any]:
        state = "ready" if self.ready else ("failed" if self.error else "indexing")
        return {"state": state, "files": len(self.files), "indexed_files": self.done_files,
                "chunks": self.chunks, "seconds": self.seconds, "error": self.error}

    def health_check(self) -> tuple[bool, str]:
        """For ``/health/ready``: ok once the docs are searchable."""
        if self.ready:
            return True, f"{self.chunks} chunks from {len(self.files)} files indexed in {self.seconds}s"
        if self.error:
            return False, f"indexing failed: {self.error}"
        return False, f"indexing {self.done_files}/{len(self.files)} files"

    def _progress(self, done: int, total: int, source: str, chunks: int) -> None:
        self.done_files, self.chunks = done, chunks

    def _run(self) -> None:
        from conduit_vector.ingest import ingest_path

        try:
            report = ingest_path(self.db, self.root, progress=self._progress)
            self.done_files, self.chunks, self.seconds = report.files, report.chunks, round(report.seconds, 2)
        except Exception as exc:  # noqa: BLE001 - reported through /health/ready and the log
            self.error = f"{type(exc).__name__}: {exc}"
            _log.exception("indexing %s failed", self.root)
        finally:
            self._finished.set()
