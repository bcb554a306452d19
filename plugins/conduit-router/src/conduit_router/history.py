"""A durable history of routing decisions and feedback: SQLite by default, PostgreSQL by URL.

``create_history("sqlite:///router.db")`` (or a plain path) uses the standard library's
sqlite3 in a worker thread; ``create_history("postgresql://...")`` uses psycopg 3's async
connection (``pip install "psycopg[binary]"``). Writes are buffered and flushed off the
request path (a background task per batch), so recording costs a decision nothing;
``await history.flush()`` waits for everything buffered to be written.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread

from conduit.framework.errors import ConfigurationError

__all__ = ["History", "PostgresHistory", "SQLiteHistory", "create_history"]

logger = logging.getLogger("conduit.router")

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


class History(abc.ABC):
    """Buffered writes of decision and feedback rows; back-ends implement ``_write`` and ``_query``."""

    def __init__(self, *, batch_size: int = 256) -> None:
        self._decisions: list[tuple[Any, ...]] = []
        self._feedback: list[tuple[Any, ...]] = []
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.written = 0
        self.errors = 0

    def record_decision(self, row: dict[str, Any]) -> None:
        self._decisions.append(tuple(row.get(c) for c in _DECISION_COLUMNS))
        self._schedule()

    def record_feedback(self, row: dict[str, Any]) -> None:
        self._feedback.append(tuple(row.get(c) for c in _FEEDBACK_COLUMNS))
        self._schedule()

    def _schedule(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # written by the next flush()
        self._task = loop.create_task(self.flush())

    async def flush(self) -> None:
        """Write everything buffered so far."""
        async with self._lock:
            while self._decisions or self._feedback:
                decisions, self._decisions = self._decisions[: self._batch_size], self._decisions[self._batch_size:]
                feedback, self._feedback = self._feedback[: self._batch_size], self._feedback[self._batch_size:]
                try:
                    await self._write(decisions, feedback)
                    self.written += len(decisions) + len(feedback)
                except Exception as exc:  # noqa: BLE001 - history must never break routing
                    self.errors += 1
                    logger.warning("router history: writing %d rows failed (%s: %s)",
                                   len(decisions) + len(feedback), type(exc).__name__, exc)

    @abc.abstractmethod
    async def _write(self, decisions: list[tuple[Any, ...]], feedback: list[tuple[Any, ...]]) -> None:
        """Insert the rows in one transaction."""

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
        await self.flush()


class SQLiteHistory(History):
    """History in a SQLite file (``":memory:"`` for a throw-away one); sqlite3 runs in a thread."""

    def __init__(self, path: str | Path, **options: Any) -> None:
        super().__init__(**options)
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db_lock = threading.Lock()
        with self._db_lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                self._conn.execute(statement.replace("DOUBLE PRECISION", "REAL"))

    def __repr__(self) -> str:
        return f"SQLiteHistory({Path(self.path).name!r})"

    def _write_sync(self, decisions: list[tuple[Any, ...]], feedback: list[tuple[Any, ...]]) -> None:
        with self._db_lock:
            self._conn.execute("BEGIN")
            try:
                if decisions:
                    self._conn.executemany(
                        f"INSERT OR REPLACE INTO router_decisions ({', '.join(_DECISION_COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(_DECISION_COLUMNS))})", decisions)
                if feedback:
                    self._conn.executemany(
                        f"INSERT INTO router_feedback ({', '.join(_FEEDBACK_COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(_FEEDBACK_COLUMNS))})", feedback)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    async def _write(self, decisions: list[tuple[Any, ...]], feedback: list[tuple[Any, ...]]) -> None:
        await anyio.to_thread.run_sync(self._write_sync, decisions, feedback)

    def _query_sync(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._db_lock:
            return list(self._conn.execute(sql, args).fetchall())

    async def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return await anyio.to_thread.run_sync(self._query_sync, sql, args)

    async def close(self) -> None:
        await super().close()
        with self._db_lock:
            self._conn.close()


class PostgresHistory(History):
    """History in PostgreSQL through psycopg 3's async connection (opened on first write)."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(**options)
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigurationError('PostgreSQL history needs psycopg 3; pip install "psycopg[binary]", or use a '
                                     "sqlite:/// URL for router_history") from None
        self.url = url
        self._conn: Any = None
        self._open_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return "PostgresHistory()"

    async def _connection(self) -> Any:
        async with self._open_lock:
            if self._conn is None or self._conn.closed:
                import psycopg

                self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=5)
                async with self._conn.cursor() as cur:
                    for statement in _SCHEMA:
                        await cur.execute(statement)
            return self._conn

    async def _write(self, decisions: list[tuple[Any, ...]], feedback: list[tuple[Any, ...]]) -> None:
        conn = await self._connection()
        async with conn.transaction():
            async with conn.cursor() as cur:
                if decisions:
                    cols = ", ".join(_DECISION_COLUMNS)
                    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _DECISION_COLUMNS[1:])
                    await cur.executemany(
                        f"INSERT INTO router_decisions ({cols}) VALUES ({', '.join(['%s'] * len(_DECISION_COLUMNS))}) "
                        f"ON CONFLICT (query_id) DO UPDATE SET {updates}", decisions)
                if feedback:
                    await cur.executemany(
                        f"INSERT INTO router_feedback ({', '.join(_FEEDBACK_COLUMNS)}) VALUES "
                        f"({', '.join(['%s'] * len(_FEEDBACK_COLUMNS))})", feedback)

    async def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = await self._connection()
        async with conn.cursor() as cur:
            await cur.execute(sql, args)
            return list(await cur.fetchall())

    async def close(self) -> None:
        await super().close()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def create_history(url: str | Path | None) -> History | None:
    """``None``/``"none"``: no history; ``sqlite:///path`` or a path: SQLite;
    ``postgresql://...``: PostgreSQL."""
    if url is None:
        return None
    text = str(url)
    if text.lower() in ("", "none", "off"):
        return None
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresHistory(text)
    if text.startswith("sqlite://"):
        rest = text[len("sqlite://"):]  # sqlite:///relative.db, sqlite:////absolute.db
        return SQLiteHistory(rest[1:] if rest.startswith("/") else rest or ":memory:")
    if "://" in text:
        raise ConfigurationError(f"router_history URL scheme {text.split('://')[0]!r} is not supported; use "
                                 "sqlite:///path/to/file.db or postgresql://user@host/db")
    return SQLiteHistory(text)
