"""How much history a crash can lose: every acknowledged row is written within the flush
interval even while the event loop never idles (SIGKILL loses at most that window), and a
graceful shutdown (SIGTERM) writes everything."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
from conduit_router.history import DEFAULT_FLUSH_INTERVAL, PostgresHistory, SQLiteHistory

from conduit.testing import free_port, wait_until_serving

WORKER = Path(__file__).with_name("history_worker.py")
# Room for the write itself and for a loaded machine, past the flush interval.
MARGIN = 1.0


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return str(request.getfixturevalue("postgres_url"))


def stored(url: str) -> tuple[set[str], set[str]]:
    """The query ids in the decisions and in the feedback tables (empty when they don't exist)."""
    sql = ("SELECT query_id FROM router_decisions", "SELECT query_id FROM router_feedback")
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        try:
            return tuple({r[0] for r in conn.execute(q)} for q in sql)  # type: ignore[return-value]
        except sqlite3.OperationalError:  # no such table
            return set(), set()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        try:
            return tuple({r[0] for r in conn.execute(q)} for q in sql)  # type: ignore[return-value]
        except psycopg.errors.UndefinedTable:
            return set(), set()


def acknowledged(lines: str) -> list[tuple[str, float]]:
    """``(query_id, time)`` of each complete line the worker printed."""
    rows = []
    for line in lines.splitlines(keepends=True):
        if line.endswith("\n") and len(line.split()) == 2:
            query_id, ts = line.split()
            rows.append((query_id, float(ts)))
    return rows


@pytest.mark.slow
def test_sigkill_of_a_busy_router_loses_at_most_the_flush_interval(history_url: str) -> None:
    """A router whose event loop never idles, killed after a few seconds of routing and
    feedback: every row acknowledged more than the flush interval before the kill is stored."""
    assert DEFAULT_FLUSH_INTERVAL <= 1.0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(WORKER), history_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    rows: list[tuple[str, float]] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # until the worker has been acknowledging for 3 s
            rows += acknowledged(line)
            if rows and rows[-1][1] - rows[0][1] >= 3.0:
                break
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
        rows += acknowledged(rest)  # printed before the kill: acknowledged too
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err
    due = {query_id for query_id, ts in rows if ts < killed_at - DEFAULT_FLUSH_INTERVAL - MARGIN}
    assert due, f"the worker acknowledged nothing early enough ({len(rows)} rows): {err}"
    decisions, feedback = stored(history_url)
    lost_decisions, lost_feedback = due - decisions, due - feedback
    assert not lost_decisions and not lost_feedback, (
        f"{len(lost_decisions)} decision(s) and {len(lost_feedback)} feedback row(s) of {len(due)} acknowledged "
        f"more than {DEFAULT_FLUSH_INTERVAL + MARGIN:.1f} s before SIGKILL are missing ({len(rows)} acknowledged, "
        f"{len(decisions)} decisions stored)")


_SERVER = textwrap.dedent(
    """
    import sys
    from conduit import Conduit

    # A flush interval longer than the test: only the shutdown can write these rows.
    app = Conduit(plugins=["router"], router_history=sys.argv[2], router_embedder="hash",
                  router_history_flush_interval=600.0)
    app.run(host="127.0.0.1", port=int(sys.argv[1]), banner=False)
    """
)


@pytest.mark.slow
def test_sigterm_writes_every_buffered_row_before_the_app_exits(history_url: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CONDUIT_DISABLED_PLUGINS"}
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(port), history_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{base}/health/live", process=proc)
        ids = []
        with httpx.Client(base_url=base, timeout=30) as client:
            for i in range(40):
                answer = client.post("/v1/route", json={"text": f"question {i}: what is {i} + {i}?"})
                assert answer.status_code == 200, answer.text
                query_id = answer.json()["query_id"]
                assert client.post("/v1/feedback", json={"query_id": query_id, "rating": 4}).status_code == 200
                ids.append(query_id)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    decisions, feedback = stored(history_url)
    assert set(ids) <= decisions, err
    assert set(ids) <= feedback, err


def row(query_id: str) -> dict[str, object]:
    return {"query_id": query_id, "ts": time.time(), "model": "small", "policy": "thompson"}


@pytest.mark.anyio
async def test_rows_are_written_within_the_interval_while_the_event_loop_is_blocked(tmp_path: Path) -> None:
    """Fewer rows than a batch, then the loop's thread spins without awaiting: the writer
    thread writes them once the interval is up."""
    history = SQLiteHistory(tmp_path / "h.db", flush_interval=0.2)
    try:
        for i in range(3):
            history.record_decision(row(f"q{i}"))
            history.record_feedback({**row(f"q{i}"), "source": "explicit", "kind": "rating", "reward": 1.0})
        reader = sqlite3.connect(tmp_path / "h.db")
        deadline = time.monotonic() + 30
        found = 0
        while found < 3 and time.monotonic() < deadline:  # no await: the event loop never runs
            found = reader.execute("SELECT count(*) FROM router_decisions").fetchone()[0]
        assert found == 3
        while history.written < 6 and time.monotonic() < deadline:
            pass
        assert reader.execute("SELECT count(*) FROM router_feedback").fetchone()[0] == 3
        reader.close()
        assert history.written == 6 and history.errors == 0
    finally:
        await history.close()


@pytest.mark.anyio
async def test_a_failing_database_is_counted_and_logged_once_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("psycopg")
    history = PostgresHistory("postgresql://postgres@127.0.0.1:1/test", flush_interval=0.05)  # nothing listens
    with caplog.at_level("DEBUG", logger="conduit.router"):
        history.record_decision(row("a"))
        await history.flush()
        history.record_decision(row("b"))
        await history.flush()
    assert history.errors == 2 and history.written == 0
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "router history: writing 1 rows" in warnings[0].getMessage()
    await history.close()


@pytest.mark.anyio
async def test_a_closed_history_writes_again_when_used_again(tmp_path: Path) -> None:
    history = SQLiteHistory(tmp_path / "h.db")
    history.record_decision(row("before"))
    await history.close()
    history.record_decision(row("after"))
    assert {r["query_id"] for r in await history.decisions()} == {"before", "after"}
    await history.close()


def test_the_flush_interval_setting_reaches_the_apps_history(tmp_path: Path) -> None:
    from conduit_router.service import build_router

    from conduit import Conduit

    app = Conduit(plugins=["router"], router_history=f"sqlite:///{tmp_path / 'h.db'}", router_embedder="hash",
                  router_history_flush_interval=0.25)
    router = build_router(app.settings)
    assert router.history is not None and router.history.flush_interval == 0.25
    default = build_router(Conduit(plugins=["router"], router_history=f"sqlite:///{tmp_path / 'd.db'}",
                                   router_embedder="hash").settings)
    assert default.history is not None and default.history.flush_interval == DEFAULT_FLUSH_INTERVAL


def test_a_history_nobody_closes_is_written_when_the_interpreter_exits(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from conduit_router.history import SQLiteHistory

        history = SQLiteHistory(sys.argv[1], flush_interval=600.0)
        for i in range(10):
            history.record_decision({"query_id": f"q{i}", "ts": time.time(), "model": "small"})
        """
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "h.db")], check=True, timeout=60)
    assert stored(f"sqlite:///{tmp_path / 'h.db'}")[0] == {f"q{i}" for i in range(10)}


@pytest.mark.anyio
async def test_no_row_is_lost_while_the_writer_swaps_buffers_under_concurrent_recording(tmp_path: Path) -> None:
    """Rows recorded from the event loop and from other threads while tiny batches are written
    continuously: every one reaches the database."""
    import anyio

    history = SQLiteHistory(tmp_path / "h.db", batch_size=7, flush_interval=0.001)

    def from_a_thread(name: str) -> None:
        for i in range(3000):
            history.record_decision(row(f"{name}-{i}"))

    threads = [threading.Thread(target=from_a_thread, args=(f"t{k}",)) for k in range(2)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often: more chances to interleave badly
    try:
        for thread in threads:
            thread.start()
        for i in range(3000):
            history.record_feedback({**row(f"loop-{i}"), "source": "implicit", "kind": "retry"})
            if i % 50 == 0:
                await anyio.sleep(0)
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    await history.close()
    assert history.errors == 0 and history.written == 9000
    decisions, feedback = stored(f"sqlite:///{tmp_path / 'h.db'}")
    assert len(decisions) == 6000 and len(feedback) == 3000
