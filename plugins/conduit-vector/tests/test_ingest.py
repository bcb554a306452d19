"""Chunking, folder ingestion and the `conduit vectors` command (real MiniLM, real Chroma)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduit.cli import main
from conduit.framework.errors import ConfigurationError
from conduit_vector.cli import ProgressBar
from conduit_vector.ingest import chunk_text, find_documents, ingest_path, title_of
from conduit_vector.store import create_vector_db


def test_short_paragraphs_are_packed_into_one_chunk() -> None:
    assert chunk_text("# Title\n\nFirst paragraph.\n\n\nSecond one.", chunk_size=100) == ["# Title\n\nFirst paragraph.\n\nSecond one."]


def test_paragraphs_are_not_split_when_they_fit_and_long_ones_are_cut_with_overlap() -> None:
    long = " ".join(f"word{i:03d}" for i in range(60))  # 479 characters
    chunks = chunk_text(f"intro paragraph\n\n{long}\n\noutro", chunk_size=200, overlap=40)
    assert chunks[0] == "intro paragraph" and chunks[-1] == "outro"
    middle = chunks[1:-1]
    assert all(len(c) <= 200 for c in middle) and len(middle) == 3
    assert middle[0].split()[-5:] == middle[1].split()[:5]  # 40 characters of overlap = 5 words of 7 + 1
    assert {w for c in middle for w in c.split()} == set(long.split())


words = st.text(alphabet="abcdefgh", min_size=1, max_size=12)
paragraphs = st.lists(words, min_size=1, max_size=40).map(" ".join)


@given(st.lists(paragraphs, min_size=1, max_size=8), st.integers(min_value=50, max_value=300))
def test_chunks_keep_every_word_in_order_and_respect_the_size(paras: list[str], size: int) -> None:
    chunks = chunk_text("\n\n".join(paras), chunk_size=size, overlap=0)
    assert " ".join(" ".join(chunks).split()) == " ".join(" ".join(paras).split())
    assert all(len(c) <= size for c in chunks)


def test_bad_chunk_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="chunk_size must be >= 50"):
        chunk_text("x", chunk_size=10)


def test_titles_and_document_discovery(tmp_path: Path) -> None:
    assert title_of("text\n## Setting up ##\nmore", Path("a.md")) == "Setting up"
    assert title_of("no heading", Path("notes.txt")) == "notes"
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b.md", "sub/a.TXT", "c.py", ".hidden/x.md"):
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in find_documents(tmp_path)] == ["b.md", "sub/a.TXT"]
    with pytest.raises(ConfigurationError, match="is neither a file nor a folder"):
        find_documents(tmp_path / "missing")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "guide").mkdir(parents=True)
    (root / "cats.md").write_text("# Cats\n\nCats sleep most of the day and purr when content.\n\nThey hunt at dusk.\n")
    (root / "guide" / "baking.txt").write_text("Bread rises when yeast ferments the sugars in the dough.\n\nBake it hot.")
    (root / "binary.md").write_bytes(b"\xff\xfe\x00bad")
    (root / "empty.txt").write_text("   \n")
    return root


def test_ingest_path_chunks_embeds_and_reports(vector_pm: Any, minilm: Any, corpus: Path) -> None:
    bar = io.StringIO()
    with create_vector_db(dimension=384, embedder=minilm) as db:
        report = ingest_path(db, corpus, chunk_size=60, overlap=0, progress=ProgressBar(bar))
        assert (report.files, report.chunks) == (2, 4)
        assert report.skipped == [("binary.md", "not UTF-8 text"), ("empty.txt", "empty")]
        assert sorted(db.list_ids()) == ["cats.md#0", "cats.md#1", "guide/baking.txt#0", "guide/baking.txt#1"]
        assert db.get_document("cats.md#0").metadata == {"source": "cats.md", "chunk": 0, "title": "Cats"}
        assert db.search_text("kitten napping", top_k=1)[0].metadata["source"] == "cats.md"
        (corpus / "cats.md").write_text("# Cats\n\nShort now.")
        again = ingest_path(db, corpus / "cats.md", chunk_size=60, overlap=0)
        assert (again.files, again.chunks, again.removed) == (1, 1, 1)
        assert sorted(db.list_ids(where={"source": "cats.md"})) == ["cats.md#0"]
    lines = bar.getvalue().splitlines()
    assert lines[0].startswith("[------------------------------] 0/4 files, 0 chunks  binary.md")
    assert lines[-1] == "[##############################] 4/4 files, 4 chunks"


def test_conduit_vectors_ingest_search_and_count(vector_pm: Any, minilm: Any, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    assert main(["vectors", "ingest", str(corpus), "--path", str(store), "--chunk-size", "60", "--overlap", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"Ingested 2 files (4 chunks, ") and f"into collection 'documents' at {store}" in captured.out
    assert "Skipped 2 files: binary.md (not UTF-8 text); empty.txt (empty)" in captured.out
    assert "4/4 files, 4 chunks" in captured.err
    assert main(["vectors", "count", "--path", str(store)]) == 0
    assert capsys.readouterr().out == f"4 documents in collection 'documents' at {store}\n"
    assert main(["vectors", "search", "why does dough rise", "--path", str(store), "--top-k", "1"]) == 0
    out = capsys.readouterr().out
    assert out.split()[1] == "guide/baking.txt#0" and "yeast ferments" in out


def test_conduit_vectors_errors_are_one_line(vector_pm: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vectors", "ingest", "--path", str(tmp_path / "s")]) == 1
    assert capsys.readouterr().err == "error: conduit vectors ingest needs a PATH\n"
    assert main(["vectors", "ingest", str(tmp_path / "nothing-here"), "--path", str(tmp_path / "s"), "-q"]) == 1
    assert "is neither a file nor a folder" in capsys.readouterr().err
