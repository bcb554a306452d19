"""A durable history of routing decisions and feedback: SQLite by default, PostgreSQL by URL.

``create_history("sqlite:///router.db")`` (or a plain path) uses the standard library's
sqlite3; ``create_history("postgresql://...")`` uses psycopg 3 (``pip install
"psycopg[binary]"``). Recording a row only appends it to a buffer, so it costs a decision
nothing. A writer thread per history writes the buffer in batches: when the oldest row in it
is ``flush_interval`` seconds old, when ``batch_size`` rows are waiting, or when asked. Being a
thread, it keeps writing while the event loop is busy and never idles, so a process that dies
without warning (SIGKILL, OOM) loses at most the rows of the last ``flush_interval`` (plus the
write in progress). ``await history.flush()`` waits until everything recorded so far is
written; ``close()`` (the router's ``aclose()``, hence an app's graceful shutdown) writes
everything, and so does the interpreter's exit for a history nobody closed.

A failed write never reaches the caller: it is counted (``errors``), logged once until a write
succeeds again, and its rows are dropped, so an unreachable database cannot fill the memory.
"""

from __future__ import annotations

import abc
import asyncio
import atexit
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread

from conduit.framework.errors import ConfigurationError

__all__ = ["DEFAULT_FLUSH_INTERVAL", "History", "PostgresHistory", "SQLiteHistory", "create_history"]

logger = logging.getLogger("conduit.router")

DEFAULT_FLUSH_INTERVAL = 0.5
"""Seconds a recorded row may wait in the buffer before the writer thread writes it."""

_DECISION_COLUMNS = ("query_id", "ts", "user_id", "model", "confidence", "domain", "token_estimate",
                     "estimated_cost", "policy", "reasoning")
_FEEDBACK_COLUMNS = ("query_id", "ts", "model", "source", "kind", "reward", "latency_ms", "cost")

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS router_decisions (
        query_id TEXT PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, user_id TEXT, model TEXT NOT NULL,
        confidence DOUBLE PRECISION, domain TEXT, token_estimate INTEGER, estimated_cost DOUBLE PRECISION,
        policy TEXT, reasoning TEXT)""",
    """CREATE TABLE IF NOT EXISTS router_feedback (
        query_id TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL, model TEXT NOT NULL, source TEXT NOT NULL,
        kind TEXT NOT NULL, reward DOUBLE PRECISION, latency_ms DOUBLE PRECISION, cost DOUBLE PRECISION)""",
    "CREATE INDEX IF NOT EXISTS router_feedback_query ON router_feedback (query_id)",
]
# PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent one (two connections,
# or two workers, can both try to create the type): the schema is created under this advisory lock.
_SCHEMA_LOCK = 0x636F6E6475697468  # "conduith"

# Live histories, for the interpreter's exit (write what nobody flushed) and for a fork (the
# child has no writer thread, and its locks may have been held by one).
_LIVE: weakref.WeakSet[History] = weakref.WeakSet()
_INHERITED: list[Any] = []  # a forked child's copies of its parent's connections: never used, never closed
_EXIT_TIMEOUT = 10.0  # seconds the interpreter's exit waits for each history's last write
_IDLE_EXIT = 30.0  # seconds a writer thread with nothing to write waits before it ends


class History(abc.ABC):
    """Buffered writes of decision and feedback rows by a writer thread (see the module docstring);
    back-ends implement ``_write_sync`` (called in that thread) and ``_query``."""

    def __init__(self, *, batch_size: int = 256, flush_interval: float = DEFAULT_FLUSH_INTERVAL) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size!r}")
        if not flush_interval > 0:
            raise ValueError(f"flush_interval must be > 0 seconds; got {flush_interval!r}")
        self.batch_size = batch_size
        self.flush_interval = float(flush_interval)
        self.written = 0  # rows written
        self.errors = 0  # failed writes (of one batch each)
        self._failing = False
        self._reset_writer()
        _LIVE.add(self)

    def _reset_writer(self) -> None:
        self._cond = threading.Condition()
        self._decisions: list[tuple[Any, ...]] = []
        self._feedback: list[tuple[Any, ...]] = []
        self._due = 0.0  # monotonic time by which the oldest buffered row is to be written
        self._recorded = 0  # rows recorded, ever
        self._done = 0  # rows written or given up on, ever (in recording order)
        self._wanted = False  # a flush() is waiting
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # --- recording (the request path) ----------------------------------------------------------

    def record_decision(self, row: dict[str, Any]) -> None:
        self._record(True, tuple(row.get(c) for c in _DECISION_COLUMNS))

    def record_feedback(self, row: dict[str, Any]) -> None:
        self._record(False, tuple(row.get(c) for c in _FEEDBACK_COLUMNS))

    def _record(self, decision: bool, row: tuple[Any, ...]) -> None:
        with self._cond:  # the buffers are chosen under the lock: the writer swaps them for new ones
            (self._decisions if decision else self._feedback).append(row)
            self._recorded += 1
            buffered = len(self._decisions) + len(self._feedback)
            if buffered == 1:
                self._due = time.monotonic() + self.flush_interval
            if self._thread is None:
                self._start_writer()
            elif buffered == 1 or buffered >= self.batch_size:
                self._cond.notify_all()

    def _start_writer(self) -> None:  # with self._cond held
        thread = threading.Thread(target=self._run, name=f"{type(self).__name__} writer", daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # at interpreter shutdown: the exit handler writes the rows
            logger.debug("router history: no writer thread (%s)", exc)
            return
        self._thread = thread

    # --- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                idle_until = time.monotonic() + _IDLE_EXIT
                while True:
                    buffered = len(self._decisions) + len(self._feedback)
                    now = time.monotonic()
                    if not buffered and (self._stopping or now >= idle_until):
                        # Stopped, or idle for a while: a history nobody closes holds no thread.
                        self._thread, self._stopping = None, False
                        self._cond.notify_all()
                        return
                    if buffered and (self._stopping or self._wanted or buffered >= self.batch_size
                                     or now >= self._due):
                        break
                    self._cond.wait(max(0.0, (self._due if buffered else idle_until) - now))
                decisions, feedback, upto = self._take()
            self._write_batches(decisions, feedback)
            self._finished(upto)

    def _take(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:  # with self._cond held
        decisions, self._decisions = self._decisions, []
        feedback, self._feedback = self._feedback, []
        self._wanted = False
        return decisions, feedback, self._recorded

    def _finished(self, upto: int) -> None:
        """Rows up to number ``upto`` are written (or given up on): wake who waits for them."""
        with self._cond:
            self._done = upto
            ready = [w for w in self._waiters if w[0] <= upto]
            self._waiters = [w for w in self._waiters if w[0] > upto]
            self._cond.notify_all()
        for _, loop, future in ready:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # the loop that waited is closed
                pass

    def _write_batches(self, decisions: list[tuple[Any, ...]], feedback: list[tuple[Any, ...]]) -> None:
        size = self.batch_size
        for start in range(0, max(len(decisions), len(feedback)), size):
            some_decisions, some_feedback = decisions[start:start + size], feedback[start:start + size]
            count = len(some_decisions) + len(some_feedback)
            try:
                self._write_sync(some_decisions, some_feedback)
            except Exception as exc:  # noqa: BLE001 - history must never break routing
                self.errors += 1
                if not self._failing:
                    self._failing = True
                    logger.warning("router history: writing %d rows to %r failed (%s: %s); their rows are dropped "
                                   "and further failures are logged at debug level until a write succeeds",
                                   count, self, type(exc).__name__, exc)
                else:
                    logger.debug("router history: writing %d rows failed (%s: %s)", count, type(exc).__name__, exc)
            else:
                self.written += count
                if self._failing:
                    self._failing = False
                    logger.info("router history: writing to %r works again (%d failed writes so far)",
                                self, self.errors)

    @abc.abstractmethod
    def _write_sync(self, decisions: Sequence[tuple[Any, ...]], feedback: Sequence[tuple[Any, ...]]) -> None:
        """Insert the rows in one transaction (in the writer thread)."""

    # --- the caller's side ---------------------------------------------------------------------

    async def flush(self) -> None:
        """Wait until every row recorded so far is written (or its write has failed)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._done >= self._recorded:
                return
            self._waiters.append((self._recorded, loop, future))
            self._wanted = True
            if self._thread is None:
                self._start_writer()
            else:
                self._cond.notify_all()
        await future

    def _drain(self, timeout: float | None = None) -> bool:
        """Write everything and stop the writer thread (blocking); False if ``timeout`` ran out."""
        with self._cond:
            if self._thread is None:  # only when no thread could be started: write here
                decisions, feedback, upto = self._take()
            else:
                self._stopping = True
                self._cond.notify_all()
                deadline = None if timeout is None else time.monotonic() + timeout
                while self._thread is not None:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left)
                return True
        self._write_batches(decisions, feedback)
        self._finished(upto)
        return True

    def _forget_connections(self) -> None:
        """In a forked child: drop the parent's connections unused (reopened on first use)."""

    @abc.abstractmethod
    async def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Run a SELECT and return its rows."""

    async def decisions(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest decisions, newest first."""
        await self.flush()
        rows = await self._query(f"SELECT {', '.join(_DECISION_COLUMNS)} FROM router_decisions ORDER BY ts DESC "
                                 f"LIMIT {int(limit)}", ())
        return [dict(zip(_DECISION_COLUMNS, r)) for r in rows]

    async def feedback_for(self, query_id: str) -> list[dict[str, Any]]:
        """Every feedback row recorded for ``query_id``, oldest first."""
        await self.flush()
        marker = "%s" if isinstance(self, PostgresHistory) else "?"
        rows = await self._query(f"SELECT {', '.join(_FEEDBACK_COLUMNS)} FROM router_feedback WHERE query_id = "
                                 f"{marker} ORDER BY ts", (query_id,))
        return [dict(zip(_FEEDBACK_COLUMNS, r)) for r in rows]

    async def ping(self) -> None:
        """Raise when the database does not answer (readiness checks call this)."""
        await self._query("SELECT 1", ())

    async def close(self) -> None:
        """Write everything recorded and stop the writer thread; a later row starts it again."""
        await self.flush()
        await anyio.to_thread.run_sync(self._drain, abandon_on_cancel=True)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # a cancelled flush() leaves a cancelled future
        future.set_result(None)


@atexit.register
def _write_at_exit() -> None:
    for history in list(_LIVE):
        try:
            if not history._drain(_EXIT_TIMEOUT):
                logger.warning("router history: %r could not write its last rows within %.0f s of exit",
                               history, _EXIT_TIMEOUT)
        except Exception:
            logger.exception("router history: writing %r at exit failed", history)


def _after_fork_in_child() -> None:
    for history in list(_LIVE):
        history._reset_writer()  # no thread survives a fork; the parent's rows are the parent's to write
        history._forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class SQLiteHistory(History):
    """History in a SQLite file (``":memory:"`` for a throw-away one). One connection, used by
    the writer thread and by reads (in a worker thread), one at a time."""

    def __init__(self, path: str | Path, **options: Any) -> None:
        super().__init__(**options)
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        with self._db_lock:
            self._connection()

    def __repr__(self) -> str:
        return f"SQLiteHistory({Path(self.path).name!r})"

    def _connection(self) -> sqlite3.Connection:  # with self._db_lock held
        if self._conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                conn.execute(statement.replace("DOUBLE PRECISION", "REAL"))
            self._conn = conn
        return self._conn

    def _write_sync(self, decisions: Sequence[tuple[Any, ...]], feedback: Sequence[tuple[Any, ...]]) -> None:
        with self._db_lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                if decisions:
                    conn.executemany(
                        f"INSERT OR REPLACE INTO router_decisions ({', '.join(_DECISION_COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(_DECISION_COLUMNS))})", decisions)
                if feedback:
                    conn.executemany(
                        f"INSERT INTO router_feedback ({', '.join(_FEEDBACK_COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(_FEEDBACK_COLUMNS))})", feedback)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _forget_connections(self) -> None:
        _INHERITED.append(self._conn)
        self._conn, self._db_lock = None, threading.Lock()

    def _query_sync(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._db_lock:
            return list(self._connection().execute(sql, args).fetchall())

    async def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return await anyio.to_thread.run_sync(self._query_sync, sql, args)

    async def close(self) -> None:
        await super().close()
        with self._db_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class PostgresHistory(History):
    """History in PostgreSQL through psycopg 3: the writer thread has a connection of its own;
    reads use an async connection (each opened on first use, and again after a failure)."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(**options)
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigurationError('PostgreSQL history needs psycopg 3; pip install "psycopg[binary]", or use a '
                                     "sqlite:/// URL for router_history") from None
        self.url = url
        self._conn: Any = None  # async, for reads
        self._open_lock = asyncio.Lock()
        self._writer_conn: Any = None  # sync, used by the writer thread only

    def __repr__(self) -> str:
        return "PostgresHistory()"

    async def _connection(self) -> Any:
        async with self._open_lock:
            if self._conn is None or self._conn.closed:
                import psycopg

                self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=5)
                async with self._conn.transaction():
                    await self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    for statement in _SCHEMA:
                        await self._conn.execute(statement)
            return self._conn

    def _writer_connection(self) -> Any:
        if self._writer_conn is None or self._writer_conn.closed:
            import psycopg

            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    for statement in _SCHEMA:
                        conn.execute(statement)
            except BaseException:
                conn.close()
                raise
            self._writer_conn = conn
        return self._writer_conn

    def _write_sync(self, decisions: Sequence[tuple[Any, ...]], feedback: Sequence[tuple[Any, ...]]) -> None:
        conn = self._writer_connection()
        try:
            with conn.transaction(), conn.cursor() as cur:
                if decisions:
                    cols = ", ".join(_DECISION_COLUMNS)
                    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _DECISION_COLUMNS[1:])
                    cur.executemany(
                        f"INSERT INTO router_decisions ({cols}) VALUES ({', '.join(['%s'] * len(_DECISION_COLUMNS))}) "
                        f"ON CONFLICT (query_id) DO UPDATE SET {updates}", decisions)
                if feedback:
                    cur.executemany(
                        f"INSERT INTO router_feedback ({', '.join(_FEEDBACK_COLUMNS)}) VALUES "
                        f"({', '.join(['%s'] * len(_FEEDBACK_COLUMNS))})", feedback)
        except BaseException:
            if conn.broken:  # reconnect for the next batch
                conn.close()
            raise

    def _forget_connections(self) -> None:
        _INHERITED.extend((self._conn, self._writer_conn))
        self._conn = self._writer_conn = None
        self._open_lock = asyncio.Lock()

    def _close_writer_connection(self) -> None:
        conn, self._writer_conn = self._writer_conn, None
        if conn is not None:
            conn.close()

    async def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = await self._connection()
        async with conn.cursor() as cur:
            await cur.execute(sql, args)
            return list(await cur.fetchall())

    async def close(self) -> None:
        await super().close()
        # The writer thread has stopped, so its connection is free to close here.
        await anyio.to_thread.run_sync(self._close_writer_connection)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def create_history(url: str | Path | None, *, flush_interval: float = DEFAULT_FLUSH_INTERVAL,
                   batch_size: int = 256) -> History | None:
    """``None``/``"none"``: no history; ``sqlite:///path`` or a path: SQLite;
    ``postgresql://...``: PostgreSQL. ``flush_interval``: the most seconds a recorded row
    waits before it is written (what a crash can lose); ``batch_size``: rows per write."""
    if url is None:
        return None
    text = str(url)
    if text.lower() in ("", "none", "off"):
        return None
    options = {"flush_interval": flush_interval, "batch_size": batch_size}
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresHistory(text, **options)
    if text.startswith("sqlite://"):
        rest = text[len("sqlite://"):]  # sqlite:///relative.db, sqlite:////absolute.db
        return SQLiteHistory(rest[1:] if rest.startswith("/") else rest or ":memory:", **options)
    if "://" in text:
        raise ConfigurationError(f"router_history URL scheme {text.split('://')[0]!r} is not supported; use "
                                 "sqlite:///path/to/file.db or postgresql://user@host/db")
    return SQLiteHistory(text, **options)
