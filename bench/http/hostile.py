"""Hostile and malformed HTTP/1.1, side by side: Conduit on both parsers and uvicorn on both (issue 22).

    python bench/http/hostile.py                     # a few minutes; rewrites its section of docs/benchmarks.md
    python bench/http/hostile.py --no-write          # print the table only
    python bench/http/hostile.py --before 5d4ebd3^   # add columns for Conduit at an older commit

Each server runs in a process of its own on a free port of 127.0.0.1, with its default
settings, serving the routes of bench/http/apps/hostile_app.py (GET /, POST /echo, GET /big,
GET /stream without end): `conduit run hostile_app:app --http h11|httptools` and
`uvicorn hostile_app:asgi --http h11|httptools` (a pure ASGI app). ``--before REV`` also
serves Conduit from ``git archive REV conduit`` (PYTHONPATH), to show what a fix changed.

Every case is raw bytes on a socket, and each cell says what came back: the status of each
answer, whether the connection was closed and whether the answer said so, how long it took,
and for the memory cases the server process's RSS (VmRSS in /proc/<pid>/status). The memory
cases run first, one server at a time with nothing else running; the other cases then run
against all servers at once.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import free_port, write_section  # noqa: E402

START, END = "<!-- bench/http/hostile.py: start -->", "<!-- bench/http/hostile.py: end -->"
LINGER = 2.5  # seconds after the last answer before a connection counts as kept open (keep-alive is 5 s)
CAP = 30.0  # longest wait for an answer in the slow cases
STREAM_CAP = 40.0  # longest wait for a server to drop a client that stopped reading (write_timeout is 30 s)
FLOOD = 2000
MiB = 1024 * 1024
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"


# --- servers ---------------------------------------------------------------------------------------


@dataclass
class Server:
    key: str
    label: str
    argv: list[str]  # "{port}" is replaced
    env: dict[str, str] = field(default_factory=dict)
    conduit: bool = True
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def conduit_server(http: str, label: str, pythonpath: str | None = None) -> Server:
    exe = Path(sys.executable).with_name("conduit")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from conduit.cli import main; sys.exit(main())"]
    env = {"PYTHONPATH": pythonpath} if pythonpath else {}
    return Server(f"conduit-{http}" + ("-before" if pythonpath else ""), label,
                  cmd + ["run", "hostile_app:app", "--host", "127.0.0.1", "--port", "{port}", "--http", http],
                  {**env, "CONDUIT_LOG_LEVEL": "warning"})


def uvicorn_server(http: str) -> Server:
    argv = [sys.executable, "-m", "uvicorn", "hostile_app:asgi", "--host", "127.0.0.1", "--port", "{port}",
            "--http", http, "--no-access-log", "--log-level", "warning"]
    return Server(f"uvicorn-{http}", f"uvicorn {http}", argv, conduit=False)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def start(server: Server, logs: Path) -> None:
    server.port = free_port()
    server.log = logs / f"{server.key}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDUIT_") and k != "PYTHONPATH"}
    env.update(server.env)
    argv = [a.replace("{port}", str(server.port)) for a in server.argv]
    with server.log.open("wb") as log:
        server.proc = subprocess.Popen(argv, cwd=APPS, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.key} exited with {server.proc.returncode}: {server.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                if sock.recv(4096).startswith(b"HTTP/1.1 200"):
                    break
        except OSError:
            time.sleep(0.1)
    else:
        raise RuntimeError(f"{server.key} did not answer within 30 s")
    if _children(server.pid):  # RSS is read from the one process we started: it must be the one serving
        raise RuntimeError(f"{server.key} spawned child processes {_children(server.pid)}; RSS would miss them")


def stop(server: Server) -> None:
    proc = server.proc
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class PeakRSS:
    """The highest RSS of ``pid`` while the block runs (sampled every 10 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, RuntimeError):
                return

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def growth(self) -> str:
        return f"peak +{self.peak - self.before:.0f} MB"


def server_holds(server_port: int, client_port: int) -> bool:
    """Whether the server's end of our connection is still ESTABLISHED (/proc/net/tcp). A
    server that aborted it has no entry left; one that closed it with output unsent is in
    FIN_WAIT1, the kernel's business and no longer the server's."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, state = parts[1], parts[2], parts[3]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return state == "01"
    return False


# --- reading answers -------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    at: float  # seconds after the case started


def _parse(data: bytes | bytearray, eof: bool = False) -> tuple[list[tuple[int, dict[bytes, bytes], bytes]], int]:
    """The complete responses at the start of ``data``, and how many bytes they took."""
    out: list[tuple[int, dict[bytes, bytes], bytes]] = []
    pos = 0
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return out, pos
        lines = bytes(data[pos:end]).split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if 100 <= status < 200:
            pos = start
            continue
        if status in (204, 304):
            body, pos = b"", start
        elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body_parts, at = [], start
            while True:
                line_end = data.find(b"\r\n", at)
                if line_end < 0:
                    return out, pos
                size = int(bytes(data[at:line_end]).split(b";")[0], 16)
                if size == 0:
                    trailer_end = data.find(b"\r\n\r\n", line_end)
                    if data[line_end:line_end + 4] == b"\r\n\r\n":
                        trailer_end = line_end
                    if trailer_end < 0:
                        return out, pos
                    at = trailer_end + 4
                    break
                if len(data) < line_end + 2 + size + 2:
                    return out, pos
                body_parts.append(bytes(data[line_end + 2:line_end + 2 + size]))
                at = line_end + 2 + size + 2
            body, pos = b"".join(body_parts), at
        elif b"content-length" in headers:
            length = int(headers[b"content-length"])
            if len(data) < start + length:
                return out, pos
            body, pos = bytes(data[start:start + length]), start + length
        elif eof:  # close-delimited
            body, pos = bytes(data[start:]), len(data)
        else:
            return out, pos
        out.append((status, headers, body))


@dataclass
class Outcome:
    answers: list[Answer]
    closed_at: float | None  # seconds after the case started when the server closed
    waited: float
    note: str = ""


class Client:
    """One raw connection and what came back on it; times are seconds since it was opened."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.t0 = self.last = time.monotonic()
        self.buf = bytearray()
        self.answers: list[Answer] = []
        self.closed_at: float | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def send(self, data: bytes) -> bool:
        """False once the server has closed, reset, or not taken the bytes for 20 s."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def read_for(self, seconds: float) -> None:
        """Read what arrives within ``seconds`` (less if the server closes)."""
        until = time.monotonic() + seconds
        self.sock.settimeout(0.05)
        while self.closed_at is None and time.monotonic() < until:
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                self.closed_at = self.elapsed()
                done, used = _parse(self.buf, eof=True)
            else:
                self.buf += data
                self.last = time.monotonic()
                done, used = _parse(self.buf)
            self.answers += [Answer(s, h, b, self.elapsed()) for s, h, b in done]
            del self.buf[:used]

    def observe(self, wait: float, linger: float = LINGER) -> Outcome:
        """Read until the server closes, ``linger`` seconds pass without a byte after an
        answer, or ``wait`` seconds have passed since the connection opened; then close."""
        while (self.closed_at is None and self.elapsed() < wait
               and not (self.answers and time.monotonic() - self.last > linger)):
            self.read_for(0.1)
        self.sock.close()
        return Outcome(self.answers, self.closed_at, self.elapsed())


def describe(o: Outcome) -> str:
    """'400, closed', '200+404 (smuggled answered), kept open', '408 after 10 s, closed' ..."""
    if not o.answers:
        if o.closed_at is not None:
            return f"no answer, closed after {o.closed_at:.0f} s"
        return f"no answer, open after {o.waited:.0f} s"
    text = "+".join(str(a.status) for a in o.answers)
    first = o.answers[0].at
    if first >= 1.5:
        text += f" after {first:.0f} s"
    last = o.answers[-1]
    announced = b"close" in [t.strip().lower() for t in last.headers.get(b"connection", b"").split(b",")]
    if o.closed_at is None:
        text += ", kept open" + (" (said close)" if announced else "")
    else:
        text += ", closed" if announced else ", closed unannounced"
        late = o.closed_at - last.at
        if late >= 0.5:
            text += f" {late:.1f} s later"
    return text + o.note


# --- the cases -------------------------------------------------------------------------------------


def _framing(request: bytes, wait: float = 10.0) -> Callable[[Server], list[str]]:
    def case(server: Server) -> list[str]:
        client = Client(server.port)
        client.send(request)
        outcome = client.observe(wait)
        if len(outcome.answers) > 1 and SMUGGLED in request:
            outcome.note = " (smuggled answered)"
        return [describe(outcome)]

    return case


def _chunked(path: bytes = b"/echo") -> bytes:
    return b"POST " + path + b" HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"


def malformed_chunk(server: Server) -> list[str]:
    client = Client(server.port)
    client.send(_chunked() + b"5x\r\nhello\r\n0\r\n\r\n")
    outcome = client.observe(10)
    if any(b"5x" in a.body or b"bytearray" in a.body for a in outcome.answers):
        outcome.note = " (echoes request bytes)"
    return [describe(outcome)]


def oversized_chunked_body(server: Server) -> list[str]:
    """17 MiB in 64 KiB chunks: past Conduit's max_body_size (16 MiB); uvicorn has no limit."""
    client = Client(server.port)
    client.send(_chunked())
    piece = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    if all(client.send(piece) for _ in range(17 * 16)):
        client.send(b"0\r\n\r\n")
    outcome = client.observe(CAP)
    if outcome.answers and outcome.answers[0].status == 200:
        outcome.note = f" ({len(outcome.answers[0].body) // MiB} MiB echoed)"
    return [describe(outcome)]


def _stalled_chunk(size: bytes) -> Callable[[Server], list[str]]:
    """A chunk size line, three bytes of its data, then nothing."""
    def case(server: Server) -> list[str]:
        client = Client(server.port)
        client.send(_chunked() + size + b"\r\nabc")
        return [describe(client.observe(CAP))]

    return case


def trickled_body(server: Server) -> list[str]:
    """Content-Length 100, one byte a second."""
    client = Client(server.port)
    client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
    while client.elapsed() < CAP and not client.answers and client.closed_at is None:
        if not client.send(b"x"):
            break
        client.read_for(1.0)
    if not client.answers and client.closed_at is None:
        client.sock.close()
        return [f"no answer, open after {CAP:.0f} s"]
    return [describe(client.observe(client.elapsed() + LINGER + 0.5))]


def stopped_reader(server: Server) -> list[str]:
    """GET /stream, read the head, then never read again: when does the server let go?"""
    client = Client(server.port)
    client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += client.sock.recv(65536)
    stopped = client.elapsed()
    mine = client.sock.getsockname()[1]
    while client.elapsed() - stopped < STREAM_CAP:
        if not server_holds(server.port, mine):
            client.sock.close()
            return [f"{head.split()[1].decode()}, then closed {client.elapsed() - stopped:.0f} s after the client stopped"]
        time.sleep(0.2)
    client.sock.close()
    return [f"{head.split()[1].decode()}, still open after {STREAM_CAP:.0f} s"]


def huge_trailer(server: Server) -> list[str]:
    """One trailer field of 32 MB, sent in 64 KiB pieces."""
    with PeakRSS(server.pid) as peak:
        client = Client(server.port)
        client.send(_chunked() + b"4\r\nabcd\r\n0\r\nX-Huge: ")
        piece = b"h" * 65536
        if all(client.send(piece) for _ in range(32 * MiB // len(piece))):
            client.send(b"\r\n\r\n")
        outcome = client.observe(60)
    return [f"{describe(outcome)}; {peak.growth()}"]


def many_trailers(server: Server) -> list[str]:
    """500,000 trailer fields of about 30 bytes (15 MB), sent 5,000 at a time."""
    with PeakRSS(server.pid) as peak:
        client = Client(server.port)
        client.send(_chunked() + b"4\r\nabcd\r\n0\r\n")
        for first in range(0, 500_000, 5000):
            if not client.send(b"".join(b"X-T-%d: %s\r\n" % (i, b"v" * 20) for i in range(first, first + 5000))):
                break
        else:
            client.send(b"\r\n")
        outcome = client.observe(60)
    return [f"{describe(outcome)}; {peak.growth()}"]


def pipelined_flood(server: Server) -> list[str]:
    """2,000 pipelined GET /big (64 KiB answers, 128 MB in all), and never a byte read."""
    idle = rss_mb(server.pid)
    with PeakRSS(server.pid) as peak:
        client = Client(server.port)
        mine = client.sock.getsockname()[1]
        client.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n" * FLOOD)
        marks: dict[int, float] = {}
        closed = None
        while client.elapsed() < STREAM_CAP:
            for mark in (5, 15):
                if mark not in marks and client.elapsed() >= mark:
                    marks[mark] = rss_mb(server.pid)
            if closed is None and not server_holds(server.port, mine):
                closed = client.elapsed()
            if closed is not None and len(marks) == 2:
                break
            time.sleep(0.05)
        client.sock.close()

    def grew(value: float) -> str:
        return f"{value:.0f} MB ({value - idle:+.0f})"

    connection = f"closed after {closed:.0f} s" if closed is not None else f"open after {STREAM_CAP:.0f} s"
    return [f"{idle:.0f} MB", grew(marks[5]), grew(marks[15]), grew(peak.peak), connection]


@dataclass
class Case:
    rows: list[str]
    run: Callable[[Server], list[str]]
    memory: bool = False


CASES = [
    Case(["flood: 2,000 pipelined GET /big, never read: RSS idle", "flood: RSS after 5 s", "flood: RSS after 15 s",
          "flood: RSS peak", "flood: connection"], pipelined_flood, memory=True),
    Case(["one 32 MB trailer field"], huge_trailer, memory=True),
    Case(["500,000 small trailer fields (15 MB)"], many_trailers, memory=True),
    Case(["CL.TE: Content-Length 4, Transfer-Encoding: chunked, request hidden after the body"],
         _framing(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"4\r\nabcd\r\n0\r\n\r\n" + SMUGGLED)),
    Case(["TE.CL: the same, Transfer-Encoding first"],
         _framing(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
                  b"4\r\nabcd\r\n0\r\n\r\n" + SMUGGLED)),
    Case(["Content-Length 100, longer than the chunked body"],
         _framing(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"4\r\nabcd\r\n0\r\n\r\n" + SMUGGLED)),
    Case(["Content-Length with a folded Transfer-Encoding line"],
         _framing(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                  b"4\r\nabcd\r\n0\r\n\r\n" + SMUGGLED)),
    Case(["Connection: x-close-notify, then a pipelined GET"],
         _framing(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: x-close-notify\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")),
    Case(["malformed chunk size (5x)"], malformed_chunk),
    Case(["chunked body of 17 MiB (past Conduit's 16 MiB max_body_size)"], oversized_chunked_body),
    Case(["early 404 (POST /nowhere), chunked body unfinished"], _framing(_chunked(b"/nowhere") + b"4\r\nabcd\r\n")),
    Case(["GET / HTTP/1.2"], _framing(b"GET / HTTP/1.2\r\nHost: t\r\n\r\n")),
    Case(["GET / HTTP/2.0"], _framing(b"GET / HTTP/2.0\r\nHost: t\r\n\r\n")),
    Case(["GET / HTTP/1.10"], _framing(b"GET / HTTP/1.10\r\nHost: t\r\n\r\n")),
    Case(["request line with trailing garbage (HTTP/1.1 x)"], _framing(b"GET / HTTP/1.1 x\r\nHost: t\r\n\r\n")),
    Case(["control character (0x01) in a header value"], _framing(b"GET / HTTP/1.1\r\nHost: t\r\nX-Note: a\x01b\r\n\r\n")),
    Case(["chunk size of 20 hex digits, 3 bytes of data, then nothing"], _stalled_chunk(b"F" * 20)),
    Case(["chunk size 32 MiB (past 16 MiB), 3 bytes of data, then nothing"], _stalled_chunk(b"2000000")),
    Case(["body at 1 byte/s (Content-Length 100)"], trickled_body),
    Case(["client reads the head of GET /stream, then stops reading"], stopped_reader),
]


# --- running ---------------------------------------------------------------------------------------


def run(servers: list[Server]) -> dict[str, dict[str, str]]:
    """{row: {server key: cell}}: the memory cases one server at a time, then the rest at once."""
    table: dict[str, dict[str, str]] = {row: {} for case in CASES for row in case.rows}

    def record(case: Case, server: Server) -> None:
        try:
            cells = case.run(server)
        except Exception as exc:  # noqa: BLE001 - a case that breaks is a cell, not a lost run
            cells = [f"error: {type(exc).__name__}: {exc}"] * len(case.rows)
        for row, cell in zip(case.rows, cells):
            table[row][server.key] = cell
        print(f"  {server.key}: {case.rows[0][:60]} -> {cells[0]}", flush=True)

    for case in (c for c in CASES if c.memory):
        for server in servers:
            record(case, server)
            time.sleep(1)  # let it settle before the next server's idle reading
    with ThreadPoolExecutor(max_workers=len(CASES) * len(servers)) as pool:
        for future in [pool.submit(record, case, server) for case in CASES if not case.memory for server in servers]:
            future.result()
    for server in servers:
        alive = server.proc is not None and server.proc.poll() is None
        log = server.log.read_text(errors="replace") if server.log else ""
        tracebacks = log.count("Traceback")
        lines = log.splitlines()
        for i, line in enumerate(lines):  # say what each traceback was, here and not in the doc
            if line.startswith("Traceback"):
                last = next((x for x in lines[i + 1:] if x and not x.startswith((" ", "Traceback"))), "?")
                print(f"  {server.key} logged a traceback: {last}", flush=True)
        table.setdefault("server process at the end", {})[server.key] = (
            ("running" if alive else f"exited ({server.proc.returncode if server.proc else '?'})")
            + f", {tracebacks} traceback{'s' if tracebacks != 1 else ''} logged")
    return table


def markdown(servers: list[Server], table: dict[str, dict[str, str]]) -> str:
    lines = ["| case | " + " | ".join(s.label for s in servers) + " |", "|---" * (len(servers) + 1) + "|"]
    for row, cells in table.items():
        lines.append(f"| {row} | " + " | ".join(cells.get(s.key, "") for s in servers) + " |")
    return "\n".join(lines)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def section(command: str, servers: list[Server], table: dict[str, dict[str, str]], seconds: float,
            before: str | None) -> str:
    head = _git("rev-parse", "--short", "HEAD")
    if _git("status", "--porcelain", "conduit"):
        head += " with uncommitted changes in conduit/"
    versions = ", ".join(f"{n} {_version(n)}" for n in ("h11", "httptools", "uvicorn", "uvloop"))
    compared = (f"\n\nThe *before* columns serve Conduit from `git archive {before} conduit`, the code before\n"
                "issue 22's fixes, with the same app and settings." if before else "")
    return f"""{START}
## HTTP: hostile and malformed input, side by side (issue 22)

Produced by `{command}` on {datetime.date.today().isoformat()} ({seconds / 60:.1f} minutes), at
{head}. Python {platform.python_version()}, {versions};
{os.cpu_count()} CPUs shared by the client and the servers.

Each server runs alone in its process with **its default settings** (the event loop is
uvloop for all of them, each server's `auto`), serving bench/http/apps/hostile_app.py:
`conduit run hostile_app:app --http h11|httptools` and `uvicorn hostile_app:asgi --http h11|httptools`,
a pure ASGI app. Conduit's defaults: `max_header_size` 16 KiB, `max_body_size` 16 MiB,
`header_timeout` 10 s, `body_min_rate` 1024 bytes/s, `keepalive_timeout` 5 s, `write_timeout`
30 s ([configuration.md](configuration.md)). uvicorn's: no body limit, no body or write
deadline, keep-alive 5 s, h11's 16 KiB limit on an incomplete event.{compared}

How to read a cell:

- `400`, `200+404`: the status of each answer, in order; `(smuggled answered)`: the request hidden
  after the body got an answer of its own;
- `closed`: the server closed the connection right after its answer and the answer said
  `Connection: close`; `closed unannounced`: it closed without saying so; `1.0 s later`: it
  closed that long after the answer; `kept open`: still open {LINGER} s after the answer;
- `after 10 s`: the answer came that long after the connection opened;
- memory: the server process's RSS (VmRSS), sampled every 10 ms; `peak +N MB` is the highest
  RSS during the case minus the RSS just before it. The memory cases ran first, one server at
  a time with nothing else running; the other cases then ran against all servers at once.
- the slow cases wait at most {CAP:.0f} s for an answer; the flood and the stopped reader at most
  {STREAM_CAP:.0f} s for the server to drop the connection (its end of it no longer
  ESTABLISHED in /proc/net/tcp).

{markdown(servers, table)}
{END}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print the table; leave docs/benchmarks.md alone")
    parser.add_argument("--before", metavar="REV", help="also serve Conduit as of this git revision (two more columns)")
    parser.add_argument("--only", nargs="+", metavar="KEY", help="servers to run (conduit-h11, uvicorn-httptools ...)")
    args = parser.parse_args()
    started = time.monotonic()
    servers = [conduit_server("h11", "Conduit h11"), conduit_server("httptools", "Conduit httptools"),
               uvicorn_server("h11"), uvicorn_server("httptools")]
    with tempfile.TemporaryDirectory(prefix="conduit-hostile-") as tmp:
        if args.before:
            short = _git("rev-parse", "--short", args.before)
            old = Path(tmp) / "before"
            old.mkdir()
            archive = subprocess.run(["git", "archive", args.before, "conduit"], cwd=ROOT, capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
            servers += [conduit_server(http, f"Conduit {http}, before ({short})", str(old)) for http in ("h11", "httptools")]
        if args.only:
            servers = [s for s in servers if s.key in args.only]
        try:
            for server in servers:
                start(server, Path(tmp))
                print(f"{server.key}: pid {server.pid}, port {server.port}, {rss_mb(server.pid):.0f} MB", flush=True)
            table = run(servers)
        finally:
            for server in servers:
                stop(server)
    seconds = time.monotonic() - started
    print()
    print(markdown(servers, table))
    print(f"\n{seconds:.0f} s")
    if not args.no_write:
        command = "python bench/http/hostile.py" + (f" --before {args.before}" if args.before else "")
        if args.only:
            command += " --only " + " ".join(args.only)
        write_section(section(command, servers, table, seconds, args.before), START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
