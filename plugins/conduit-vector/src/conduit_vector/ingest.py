"""Ingesting a folder of ``.md`` / ``.txt`` documents: chunk, embed, upsert.

Each file is split into chunks of about ``chunk_size`` characters on paragraph
boundaries (a paragraph longer than that is cut on word boundaries, consecutive pieces
sharing up to ``overlap`` characters, an eighth of ``chunk_size`` by default). A chunk's id is
``<path relative to the root>#<n>`` and
its metadata ``{"source": <relative path>, "chunk": n, "title": <first heading or file
name>}``; its text is stored with its vector. Ingesting again replaces a file's chunks
and deletes the ones it no longer has, so re-running after an edit is safe.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from conduit.framework.errors import ConfigurationError
from conduit_vector.store import VectorDB

__all__ = ["SUFFIXES", "IngestReport", "chunk_text", "find_documents", "ingest_path", "title_of"]

SUFFIXES = (".md", ".txt")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)

Progress = Callable[[int, int, str, int], None]  # (files done, files total, current file, chunks so far)


@dataclass
class IngestReport:
    """What one ingestion did."""

    files: int = 0
    chunks: int = 0
    characters: int = 0
    removed: int = 0
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, where: str) -> str:
        text = (
            f"Ingested {self.files} file{'s' if self.files != 1 else ''} ({self.chunks} chunks, "
            f"{self.characters:,} characters) into {where} in {self.seconds:.1f}s"
        )
        if self.removed:
            text += f"; removed {self.removed} stale chunk{'s' if self.removed != 1 else ''}"
        if self.skipped:
            shown = "; ".join(f"{path} ({reason})" for path, reason in self.skipped[:10])
            more = f" and {len(self.skipped) - 10} more" if len(self.skipped) > 10 else ""
            text += f"\nSkipped {len(self.skipped)} file{'s' if len(self.skipped) != 1 else ''}: {shown}{more}"
        return text


def _windows(paragraph: str, size: int, overlap: int) -> list[str]:
    words = paragraph.split()
    pieces: list[str] = []
    start = 0
    while start < len(words):
        length, end = 0, start
        while end < len(words) and (end == start or length + 1 + len(words[end]) <= size):
            length += len(words[end]) + (1 if end > start else 0)
            end += 1
        pieces.append(" ".join(words[start:end]))
        if end >= len(words):
            break
        back, kept = end, 0
        while back > start + 1 and kept + len(words[back - 1]) + 1 <= overlap:
            kept += len(words[back - 1]) + 1
            back -= 1
        start = back
    return pieces


def chunk_text(text: str, chunk_size: int = 800, overlap: int | None = None) -> list[str]:
    """Chunks of at most ``chunk_size`` characters (a single longer word excepted), split on
    blank lines first; ``overlap`` defaults to an eighth of ``chunk_size``."""
    if overlap is None:
        overlap = chunk_size // 8
    if chunk_size < 50 or not 0 <= overlap < chunk_size // 2:
        raise ConfigurationError(
            f"chunk_size must be >= 50 and overlap between 0 and chunk_size/2; got {chunk_size} and {overlap}"
        )
    chunks: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) > chunk_size:
            if current:
                chunks.append(current)
                current = ""
            chunks.extend(_windows(paragraph, chunk_size, overlap))
        elif current and len(current) + 2 + len(paragraph) > chunk_size:
            chunks.append(current)
            current = paragraph
        else:
            current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        chunks.append(current)
    return chunks


def title_of(text: str, path: Path) -> str:
    """The first Markdown heading, else the file name without its suffix."""
    match = _HEADING.search(text)
    return match.group(1).strip() if match else path.stem


def find_documents(root: Path, suffixes: Iterable[str] = SUFFIXES) -> list[Path]:
    """``root`` itself when it is a file, else every file under it with one of ``suffixes``
    (hidden folders skipped), sorted."""
    wanted = tuple(s.lower() for s in suffixes)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ConfigurationError(f"{str(root)!r} is neither a file nor a folder; pass a folder of .md/.txt documents")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in wanted
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def ingest_path(
    db: VectorDB,
    root: str | Path,
    *,
    chunk_size: int = 800,
    overlap: int | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest one file or every ``.md``/``.txt`` file under a folder into ``db``."""
    started = time.perf_counter()
    root = Path(root)
    files = find_documents(root)
    base = root.parent if root.is_file() else root
    report = IngestReport()
    for done, path in enumerate(files):
        source = path.relative_to(base).as_posix()
        if progress is not None:
            progress(done, len(files), source, report.chunks)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            report.skipped.append((source, "not UTF-8 text"))
            continue
        except OSError as exc:
            report.skipped.append((source, exc.strerror or "unreadable"))
            continue
        pieces = chunk_text(text, chunk_size, overlap)
        if not pieces:
            report.skipped.append((source, "empty"))
            continue
        title = title_of(text, path)
        rows = [
            {"id": f"{source}#{n}", "text": piece, "metadata": {"source": source, "chunk": n, "title": title}}
            for n, piece in enumerate(pieces)
        ]
        for start in range(0, len(rows), batch_size):
            db.upsert_texts(rows[start : start + batch_size])
        kept = {row["id"] for row in rows}
        stale = [doc_id for doc_id in db.list_ids(where={"source": source}) if doc_id not in kept]
        report.removed += db.delete_documents(stale) if stale else 0
        report.files += 1
        report.chunks += len(rows)
        report.characters += len(text)
    if progress is not None:
        progress(len(files), len(files), "", report.chunks)
    report.seconds = time.perf_counter() - started
    return report
