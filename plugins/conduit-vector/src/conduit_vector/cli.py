"""``conduit vectors ingest|search|count``: the vector store from the command line.

- ``conduit vectors ingest PATH``: chunk and embed every ``.md``/``.txt`` file under PATH
  with the offline embedder, with a progress bar on stderr and a summary on stdout.
- ``conduit vectors search "TEXT"``: the nearest chunks of a text.
- ``conduit vectors count``: how many chunks the collection holds.

The store is the folder ``--path`` (default: the ``vector_path`` setting, else
``.conduit/vectors``) or the Chroma server ``--url`` (default: the ``vector_url`` setting);
the collection is ``--collection`` (default ``documents``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from conduit.framework.errors import ConfigurationError

__all__ = ["ARGUMENTS", "DEFAULT_COLLECTION", "DEFAULT_PATH", "ProgressBar", "run"]

DEFAULT_PATH = ".conduit/vectors"
DEFAULT_COLLECTION = "documents"

ARGUMENTS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("action",), {"choices": ["ingest", "search", "count"], "help": "what to do"}),
    (("target",), {"nargs": "?", "help": "ingest: a folder or file; search: the text to look for"}),
    (("--path",), {"default": None, "help": f"a local Chroma folder (default: vector_path setting, else {DEFAULT_PATH})"}),
    (("--url",), {"default": None, "help": "a Chroma server, http://HOST:PORT (default: vector_url setting)"}),
    (("--collection",), {"default": DEFAULT_COLLECTION, "help": f"collection name (default {DEFAULT_COLLECTION})"}),
    (("--chunk-size",), {"type": int, "default": 800, "help": "characters per chunk (default 800)"}),
    (("--overlap",), {"type": int, "default": None, "help": "characters shared by cut pieces (default chunk size / 8)"}),
    (("--top-k",), {"type": int, "default": 5, "help": "search: how many hits (default 5)"}),
    (("--quiet", "-q"), {"action": "store_true", "help": "no progress bar"}),
]


class ProgressBar:
    """A one-line progress bar on ``stream`` (redrawn in place on a terminal, one line per
    file otherwise)."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int, current: str, chunks: int) -> None:
        filled = self.width * done // total if total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[{bar}] {done}/{total} files, {chunks} chunks"
        if current:
            line += f"  {current}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + ("\n" if done == total and not current else ""))
        elif current or done == total:
            self.stream.write(line + "\n")
        self.stream.flush()


def _where(args: argparse.Namespace) -> tuple[str | None, str | None]:
    from conduit.config import load_settings

    if args.path and args.url:
        raise ConfigurationError("give --path or --url, not both")
    if args.path or args.url:
        return args.path, args.url
    settings = load_settings()
    url = settings.get("vector_url") or None
    return (None, url) if url else (settings.get("vector_path") or DEFAULT_PATH, None)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one ``conduit vectors`` action; the exit status."""
    from conduit.ml import get_embedder
    from conduit_vector.ingest import find_documents, ingest_path
    from conduit_vector.store import create_vector_db

    out = out or sys.stdout
    err = err or sys.stderr
    if args.action in ("ingest", "search") and not args.target:
        raise ConfigurationError(
            "conduit vectors ingest needs a PATH" if args.action == "ingest" else "conduit vectors search needs a TEXT"
        )
    if args.action == "ingest":
        find_documents(Path(args.target))  # a missing PATH fails before the model loads
    path, url = _where(args)
    embedder = get_embedder()
    where = f"collection {args.collection!r} at {url or path}"
    # exact=False: one command makes one search or one ingest, so reading every vector into
    # an exact copy at open would cost more than it saves.
    with create_vector_db(
        dimension=int(embedder.dimension), metric="cosine", collection=args.collection, path=path, url=url, embedder=embedder,
        exact=False,
    ) as db:
        if args.action == "count":
            out.write(f"{db.get_document_count()} documents in {where}\n")
            return 0
        if args.action == "search":
            for hit in db.search_text(args.target, top_k=args.top_k):
                text = " ".join((hit.document or "").split())
                out.write(f"{hit.score:.3f}  {hit.id}  {text[:100]}\n")
            return 0
        progress = None if args.quiet else ProgressBar(err)
        report = ingest_path(db, args.target, chunk_size=args.chunk_size, overlap=args.overlap, progress=progress)
        out.write(report.summary(where) + "\n")
        return 0 if report.files or not report.skipped else 1
