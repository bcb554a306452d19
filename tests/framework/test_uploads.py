"""StreamingUpload writes bodies to disk chunk by chunk, atomically, within a size limit."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import httpx
import pytest

from conduit.app import Conduit
from conduit.framework.edge_cases import StreamingUpload
from conduit.testing import LiveServer, TestClient


def upload_app(target_dir: Path, **options) -> Conduit:
    app = Conduit(plugins=[], max_body_size=1024 * 1024 * 1024)
    streaming = StreamingUpload(chunk_size=8192, **options)

    @app.post("/upload/{name}", stream=True)
    def upload_file(req, res, name: str):
        written = streaming.handle_upload(req, target_dir / name)
        res.json({"status": "uploaded", "bytes": written})

    @app.post("/upload-async/{name}", stream=True)
    async def upload_async(request, name: str):
        return {"bytes": await streaming.handle_upload_async(request, target_dir / name)}

    return app


def test_sync_and_async_uploads_land_intact(tmp_path: Path) -> None:
    payload = os.urandom(300_000)
    with TestClient(upload_app(tmp_path)) as client:
        sync = client.post("/upload/a.bin", content=payload)
        async_ = client.post("/upload-async/b.bin", content=payload)
    assert sync.json() == {"status": "uploaded", "bytes": 300_000}
    assert async_.json() == {"bytes": 300_000}
    assert (tmp_path / "a.bin").read_bytes() == payload == (tmp_path / "b.bin").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.bin"]  # no temp files left


def test_an_upload_over_the_limit_is_413_and_leaves_no_file(tmp_path: Path) -> None:
    with TestClient(upload_app(tmp_path, max_bytes=10_000)) as client:
        r = client.post("/upload/big.bin", content=b"z" * 10_001)
    assert r.status_code == 413 and r.json()["code"] == "upload_too_large"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_large_chunked_upload_is_not_held_in_memory(tmp_path: Path) -> None:
    chunk = os.urandom(64 * 1024)
    total = 48 * 1024 * 1024

    def body():
        for _ in range(total // len(chunk)):
            yield chunk

    tracemalloc.start()
    try:
        with LiveServer(upload_app(tmp_path)) as server:
            r = httpx.post(f"{server.url}/upload/big.bin", content=body(), timeout=60)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.status_code == 200 and r.json()["bytes"] == total
    assert (tmp_path / "big.bin").stat().st_size == total
    assert hashlib.sha256((tmp_path / "big.bin").read_bytes()[: len(chunk)]).digest() == hashlib.sha256(chunk).digest()
    assert peak < 16 * 1024 * 1024  # a buffered 48 MiB body would show up here
