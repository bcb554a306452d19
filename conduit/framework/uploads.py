"""Writing a request body to disk without holding it in memory (seed 000's ``StreamingUpload``).

Declare the route ``stream=True`` so the kernel does not read the body first; then
``handle_upload`` copies it chunk by chunk into a temporary file beside ``save_path`` and
renames it into place only when the whole body arrived, so a reader never sees half a
file and a failed upload leaves nothing behind::

    @app.post("/upload", stream=True)
    def upload(req, res):
        written = streaming.handle_upload(req, save_path)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from conduit.framework.errors import PayloadTooLargeError

__all__ = ["StreamingUpload"]


class StreamingUpload:
    """Stream request bodies to files; ``max_bytes`` refuses larger bodies with 413."""

    def __init__(self, chunk_size: int = 8192, *, max_bytes: int | None = None) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = chunk_size
        self.max_bytes = max_bytes

    @contextmanager
    def _sink(self, save_path: str | os.PathLike[str]) -> Iterator[_Sink]:
        """A file beside ``save_path`` that replaces it only if the block completes."""
        target = Path(save_path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield _Sink(fh, self.chunk_size, self.max_bytes)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def handle_upload(self, request: Any, save_path: str | os.PathLike[str]) -> int:
        """From a sync handler: write the body to ``save_path``; returns the byte count."""
        with self._sink(save_path) as sink:
            for chunk in request.stream():
                sink.write(chunk)
        return sink.written

    async def handle_upload_async(self, request: Any, save_path: str | os.PathLike[str]) -> int:
        """From an async handler: the same, reading chunks as they arrive.

        File writes happen on the event loop; they are small (``chunk_size``) and go to
        the page cache, so they do not stall other requests in practice.
        """
        with self._sink(save_path) as sink:
            async for chunk in request.stream():
                sink.write(chunk)
        return sink.written


class _Sink:
    __slots__ = ("chunk_size", "fh", "max_bytes", "written")

    def __init__(self, fh: BinaryIO, chunk_size: int, max_bytes: int | None) -> None:
        self.fh, self.chunk_size, self.max_bytes, self.written = fh, chunk_size, max_bytes, 0

    def write(self, chunk: bytes) -> None:
        self.written += len(chunk)
        if self.max_bytes is not None and self.written > self.max_bytes:
            raise PayloadTooLargeError(
                "Payload Too Large", f"the upload exceeds the limit of {self.max_bytes} bytes", code="upload_too_large"
            )
        for start in range(0, len(chunk), self.chunk_size):
            self.fh.write(chunk[start : start + self.chunk_size])
