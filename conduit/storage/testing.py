"""Helpers for tests that need a real Redis (the kernel's, and plugins' such as the router).

``ensure_redis()`` answers the URL of a Redis on 127.0.0.1:6379, starting
``redis-server`` there (no persistence) when nothing answers. ``RedisProcess`` runs a
private, throw-away server on a free port, for tests that stop, pause and restart Redis.
Nothing here ever flushes a database: tests use a unique key prefix and
:meth:`StateStore.clear`.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator

__all__ = [
    "RedisNotAvailable",
    "RedisProcess",
    "ensure_redis",
    "free_port",
    "private_redis",
    "redis_answers",
    "redis_url",
    "unique_prefix",
]


class RedisNotAvailable(RuntimeError):
    """No Redis answers and none could be started (``redis-server`` is not installed)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_prefix(label: str = "test") -> str:
    """A key prefix no other test run uses."""
    return f"{label}:{uuid.uuid4().hex}:"


def redis_answers(host: str = "127.0.0.1", port: int = 6379, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisNotAvailable(
            "no Redis answers on 127.0.0.1 and redis-server is not installed; "
            "install Redis (apt-get install redis-server) or start one on port 6379"
        )
    return binary


def ensure_redis(port: int = 6379, timeout: float = 10.0) -> str:
    """The URL of a Redis on 127.0.0.1:``port``, started (daemonized) if none answers."""
    if not redis_answers(port=port):
        subprocess.run(
            [_server_binary(), "--daemonize", "yes", "--port", str(port), "--save", ""],
            check=True,
            capture_output=True,
        )
        if not _wait_until(lambda: redis_answers(port=port), timeout):
            raise RedisNotAvailable(f"redis-server was started on port {port} but did not answer")
    return f"redis://127.0.0.1:{port}/0"


class RedisProcess:
    """A private redis-server on a free port, in the foreground of this process.

    ``with RedisProcess() as server: server.url``; ``stop()`` and ``start()`` let a test
    take it away and bring it back on the same port.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="conduit-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self._proc = subprocess.Popen(
            [_server_binary(), "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", self._dir.name, "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not _wait_until(lambda: redis_answers(port=self.port), timeout):
            self.stop()
            raise RedisNotAvailable(f"a private redis-server on port {self.port} did not answer")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)  # a paused server would not hear the SIGTERM
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def pause(self) -> None:
        """Stop the server without closing its sockets (SIGSTOP): a Redis that has stalled.
        Commands sent meanwhile wait, and are answered after :meth:`resume`."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> RedisProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._dir.cleanup()


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed by test suites
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def redis_url() -> str:
        """A pytest fixture: the URL of a real Redis (started if needed), or a skip saying why.

        Use it from a conftest: ``from conduit.storage.testing import redis_url``.
        """
        try:
            return ensure_redis()
        except RedisNotAvailable as exc:
            pytest.skip(str(exc))

    @pytest.fixture
    def private_redis() -> Iterator[RedisProcess]:
        """A pytest fixture: a throw-away redis-server on a free port (stop and start it
        at will), or a skip saying why there is none."""
        try:
            with RedisProcess() as server:
                yield server
        except RedisNotAvailable as exc:
            pytest.skip(str(exc))
