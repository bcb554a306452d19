"""Running a server: sockets, the event loop, signals, graceful drain, worker processes.

``Server(app, ...)`` serves one app on one socket inside an anyio event loop (uvloop when
installed). ``serve_forever`` is what ``app.run()`` and ``conduit run`` call: it binds the
socket, forks ``workers`` processes that share it when asked, and stops on SIGINT/SIGTERM:
stop accepting, let in-flight requests finish up to ``shutdown_timeout``, run shutdown
hooks, exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from typing import Any

import anyio

from conduit.server.protocol import H11Protocol
from conduit.server.transport import ConnectionLimits, HTTPConnection, ServerState

__all__ = ["Server", "bind_socket", "http_protocol", "print_banner", "serve_forever", "use_uvloop"]

logger = logging.getLogger("conduit.server")


def use_uvloop(choice: str = "auto") -> bool:
    """Whether to run on uvloop: ``auto`` means when it is installed."""
    if choice == "asyncio" or sys.platform == "win32":
        return False
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if choice == "uvloop":
            from conduit._install import install_hint
            from conduit.errors import ConfigurationError

            raise ConfigurationError(
                f"loop='uvloop' but uvloop is not installed; install it with {install_hint('speed')}"
            ) from None
        return False
    return True


def http_protocol(choice: str = "auto") -> type:
    """The protocol class for ``http``: ``auto`` means httptools when installed, else h11."""
    if choice == "h11":
        return H11Protocol
    try:
        import httptools  # noqa: F401
    except ImportError:
        if choice == "httptools":
            from conduit._install import install_hint
            from conduit.errors import ConfigurationError

            raise ConfigurationError(
                f"http='httptools' but httptools is not installed; install it with {install_hint('speed')}"
            ) from None
        return H11Protocol
    from conduit.server.httptools_protocol import HttpToolsProtocol

    return HttpToolsProtocol


def bind_socket(host: str, port: int, backlog: int = 2048, *, reuse_port: bool = False,
                listen: bool = True) -> socket.socket:
    """A listening TCP socket (IPv6 when ``host`` contains ':').

    ``reuse_port`` sets ``SO_REUSEPORT`` (Linux: sockets bound to one port by the same user
    form a group, and the kernel spreads new connections over its listening members by a
    hash of their addresses); ``listen=False`` only binds, which reserves the port (and
    resolves port 0) without taking connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from conduit.errors import ConfigurationError

        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another port or host") from None
    if listen:
        sock.listen(backlog)
    sock.setblocking(False)
    return sock


# Where SO_REUSEPORT balances connections over the listening sockets of a group (Linux 3.9+;
# on macOS and the BSDs the option exists but does not balance).
REUSE_PORT_BALANCES = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


class Server:
    """One app served on one listening socket."""

    def __init__(
        self, app: Any, sock: socket.socket, *, install_signal_handlers: bool = True, http: str | None = None
    ) -> None:
        self.app = app
        self.sock = sock
        self.install_signal_handlers = install_signal_handlers
        # Worker processes listen to SIGTERM only: the parent is their one source of signals.
        self.signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
        settings = app.settings
        self.protocol = http_protocol(http or settings.http)
        self.limits = ConnectionLimits(
            max_header_size=settings.max_header_size,
            max_body_size=settings.max_body_size,
            header_timeout=settings.header_timeout,
            keepalive_timeout=settings.keepalive_timeout,
            write_timeout=settings.write_timeout,
            body_min_rate=settings.body_min_rate,
            max_connections=settings.max_connections,
            max_requests=settings.max_requests_per_connection,
        )
        self.shutdown_timeout: float = settings.shutdown_timeout
        self.backlog: int = settings.backlog
        self.started = threading.Event()
        self._stop: anyio.Event | None = None
        self._force: anyio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.state: ServerState | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def request_stop(self) -> None:
        """Ask a running server to shut down gracefully (thread-safe; no-op once stopped)."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = anyio.Event()
        self._force = anyio.Event()
        # The app's plugin manager is current for everything this serving task starts:
        # connections, their request tasks, worker threads (facades and span() reach it).
        from conduit.plugins import activate

        activate(self.app.plugin_manager)
        await self.app.startup()
        state = self.state = ServerState(self.app, self.limits, protocol=self.protocol)
        # create_server listens again with its own backlog (100 unless told), replacing the
        # socket's; it also accepts up to that many connections per wake-up.
        server = await self._loop.create_server(lambda: HTTPConnection(state), sock=self.sock, backlog=self.backlog)
        self.started.set()
        async with anyio.create_task_group() as tg:
            if self.install_signal_handlers and threading.current_thread() is threading.main_thread():
                tg.start_soon(self._watch_signals)  # keeps listening during the drain
            try:
                await self._stop.wait()
            finally:
                with anyio.CancelScope(shield=True):
                    await self._drain(server, state)
                    await self.app.shutdown()
                tg.cancel_scope.cancel()

    async def _watch_signals(self) -> None:
        """First signal: graceful shutdown. A second one: stop waiting for in-flight requests."""
        assert self._stop is not None and self._force is not None
        with anyio.open_signal_receiver(*map(signal.Signals, self.signals)) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                if not self._stop.is_set():
                    logger.info("received %s; shutting down gracefully (send it again to force)", name)
                    self._stop.set()
                else:
                    logger.warning("received %s again; cancelling in-flight requests", name)
                    self._force.set()

    async def _drain(self, server: asyncio.AbstractServer, state: ServerState) -> None:
        """Stop accepting; close idle connections; wait for in-flight ones up to the deadline."""
        state.shutting_down = True
        server.close()
        for conn in list(state.connections):
            conn.close_if_idle()
        pending = [t for t in state.tasks if not t.done()]
        if pending:
            assert self._force is not None
            forced = asyncio.ensure_future(self._force.wait())
            deadline = asyncio.get_running_loop().time() + self.shutdown_timeout
            still = set(pending)
            while still and not self._force.is_set():
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                await asyncio.wait([*still, forced], timeout=left, return_when=asyncio.FIRST_COMPLETED)
                still = {t for t in still if not t.done()}
            forced.cancel()
            if still:
                why = "on a second signal" if self._force.is_set() else f"after {self.shutdown_timeout:.1f}s"
                logger.warning("%d request(s) still running %s; cancelling them", len(still), why)
                for task in still:
                    task.cancel()
                await asyncio.wait(still, timeout=1.0)
        for conn in list(state.connections):
            if conn.transport is not None:
                conn.transport.close()
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=1.0)
        except Exception:  # noqa: BLE001, S110 - closing anyway: a slow or failed wait changes nothing
            pass

    def run(self, loop: str = "auto") -> None:
        """Run :meth:`serve` in a new event loop until stopped (blocks)."""
        anyio.run(self.serve, backend="asyncio", backend_options={"use_uvloop": use_uvloop(loop)})


def print_banner(app: Any, host: str, port: int, workers: int) -> None:
    line = "=" * 70
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    count = len(app.router.routes)
    print(line)
    print("Conduit Framework")
    print(line)
    print()
    print(f"Server running at http://{host}:{port}" + (f"  (open http://{shown}:{port})" if shown != host else ""))
    if workers > 1:
        print(f"Workers: {workers} processes sharing the port")
    print()
    print("Registered routes:")
    print(f"  {count} route(s) registered")
    print()
    print("Press Ctrl+C to stop", flush=True)


def serve_forever(
    app: Any,
    *,
    host: str,
    port: int,
    workers: int = 1,
    http: str = "auto",
    loop: str = "auto",
    banner: bool = True,
) -> None:
    """Bind, optionally fork workers, serve until SIGINT/SIGTERM."""
    logging.basicConfig(level=str(app.settings.log_level).upper(), format="%(levelname)s %(name)s: %(message)s")
    app.prepare()
    from conduit.framework.validation import ConfigValidator

    report = ConfigValidator(settings=app.settings).validate_all_config()
    for warning in report["warnings"]:
        logger.warning("configuration: %s", warning)
    if report["errors"]:
        from conduit.errors import ConfigurationError

        raise ConfigurationError("invalid configuration:\n  - " + "\n  - ".join(report["errors"]))
    from conduit.framework.auth import exposure_warnings

    for warning in exposure_warnings(app, host):
        logger.warning("%s", warning)
    # Workers each listen on a socket of their own in one SO_REUSEPORT group where the kernel
    # balances it: one shared socket lets whichever worker wakes first accept a whole burst
    # (asyncio accepts up to `backlog` connections per wake-up), and keep-alive clients then stay
    # on that worker. The parent only binds, to reserve the port and report it.
    own_sockets = workers > 1 and REUSE_PORT_BALANCES
    sock = bind_socket(host, port, app.settings.backlog, reuse_port=own_sockets, listen=not own_sockets)
    actual_port = sock.getsockname()[1]
    if banner:
        print_banner(app, host, actual_port, workers)
    if workers <= 1:
        try:
            Server(app, sock, http=http).run(loop)
        finally:
            sock.close()
        return
    try:
        _run_workers(app, sock, workers, http, loop, own=(host, actual_port) if own_sockets else None)
    finally:
        sock.close()


# A worker that exits within this many seconds of being started failed at start-up; after
# RESTART_LIMIT of those in a row the parent stops instead of restarting in a loop.
EARLY_EXIT_SECONDS = 5.0
RESTART_LIMIT = 3


def _run_workers(app: Any, sock: socket.socket, workers: int, http: str, loop: str,
                 own: tuple[str, int] | None = None) -> None:
    """Fork ``workers`` children and supervise them until SIGINT/SIGTERM, which is forwarded
    to each as one SIGTERM. Each child serves ``sock``, or with ``own`` (host, port) a socket
    of its own in ``sock``'s SO_REUSEPORT group. A worker that exits while the parent is not
    stopping (killed, crashed) is replaced; ``RESTART_LIMIT`` workers in a row exiting within
    ``EARLY_EXIT_SECONDS`` of their start (an app that cannot start) stop them all, exit 1."""
    children: dict[int, float] = {}  # pid -> when it was started
    stopping = False
    # Every worker writes its request metrics here; the one that takes a scrape of /metrics
    # answers for all (conduit.framework.metrics_share). Removed when the server stops.
    metrics_dir = tempfile.mkdtemp(prefix="conduit-metrics-")

    def stop_all() -> None:
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def forward(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        stop_all()

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                # Ctrl+C reaches the whole process group; only the parent acts on it and
                # forwards one SIGTERM, so a worker sees one signal and drains gracefully.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                if own is not None:
                    sock.close()
                    listener = bind_socket(own[0], own[1], app.settings.backlog, reuse_port=True)
                else:
                    listener = sock
                _share_metrics(metrics_dir)
                worker = Server(app, listener, http=http)
                worker.signals = (signal.SIGTERM,)
                worker.run(loop)
            except BaseException:
                logger.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = time.monotonic()
        if stopping:  # a signal came while forking: this one must stop too
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)  # before forking: no window where Ctrl+C kills the parent
    signal.signal(signal.SIGTERM, forward)
    for _ in range(workers):
        spawn()
    # The shared socket stays open in the parent (it never accepts on it) for replacements.

    status = 0
    early = 0
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, None)
        if started is None:
            continue
        exit_code = os.waitstatus_to_exitcode(code)
        if stopping:
            status = status or (1 if exit_code else 0)
            continue
        how = f"exit code {exit_code}" if exit_code >= 0 else f"signal {signal.Signals(-exit_code).name}"
        if time.monotonic() - started < EARLY_EXIT_SECONDS:
            early += 1
        else:
            early = 0
        if early >= RESTART_LIMIT:
            logger.error("worker %d exited (%s); %d workers in a row exited within %.0f s of starting: "
                         "stopping (the app cannot start; see the errors above)",
                         pid, how, early, EARLY_EXIT_SECONDS)
            stopping = True
            status = 1
            stop_all()
            continue
        logger.error("worker %d exited (%s); starting a replacement", pid, how)
        if early:
            time.sleep(0.5 * early)  # a worker that failed at start-up: do not spin
        if not stopping:
            spawn()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    if status:
        raise SystemExit(status)


def _share_metrics(folder: str) -> None:
    """In a freshly forked worker: write the kernel's request metrics to ``folder`` once a
    second, and let its /metrics answer from every worker's (see metrics_share)."""
    from conduit.framework.metrics_share import SharedMetrics
    from conduit.framework.monitoring import kernel_metrics

    registry = kernel_metrics()
    registry.share = SharedMetrics(registry, folder)
    registry.share.start()
