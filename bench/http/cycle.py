"""CPU cost of the pieces of one request, in-process (no sockets), for docs/benchmarks.md.

Each figure is the median over ``--repeat`` runs of ``--requests`` keep-alive GET cycles,
in process CPU time (so other load on the machine inflates it less than wall time):

- h11 both ways: h11 parses the request and writes the response (Response, Data,
  EndOfMessage through ``h11.Connection.send``), as the kernel did first;
- H11Protocol / HttpToolsProtocol: the kernel's protocol states (parse, RequestHead, write);
- app.handle: routing, middleware and the handler, with and without the built-in
  request-metrics middleware.

    python bench/http/cycle.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any, Callable

import h11

os.environ.setdefault("CONDUIT_PLUGINS", "")

from conduit import Conduit, HTTPResponse  # noqa: E402
from conduit.http.request import HTTPRequest  # noqa: E402
from conduit.server.protocol import H11Protocol  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"


def _response() -> HTTPResponse:
    return HTTPResponse(200).json({"message": "Hello, World!"})


def h11_both_ways(n: int) -> float:
    conn = h11.Connection(h11.SERVER)
    start = time.process_time()
    for _ in range(n):
        conn.receive_data(REQUEST)
        conn.next_event()
        conn.next_event()
        response = _response()
        headers = [(b"server", b"conduit"), (b"date", b"Tue, 24 Nov 2026 00:00:00 GMT")]
        headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.raw_items()]
        headers.append((b"content-length", str(len(response.body)).encode()))
        conn.send(h11.Response(status_code=200, headers=headers, reason=b"OK"))
        conn.send(h11.Data(data=response.body))
        conn.send(h11.EndOfMessage())
        conn.start_next_cycle()
    return (time.process_time() - start) / n


def protocol_cycle(cls: type) -> Callable[[int], float]:
    def run(n: int) -> float:
        p = cls()
        start = time.process_time()
        for _ in range(n):
            p.feed(REQUEST)
            p.next_head()
            p.response_bytes(_response())
            p.finish_body()
            p.start_next_cycle()
        return (time.process_time() - start) / n

    return run


def app_handle(**settings: Any) -> Callable[[int], float]:
    app = Conduit(plugins=[], **settings)

    @app.get("/")
    async def hello(request: HTTPRequest) -> dict[str, str]:
        return {"message": "Hello, World!"}

    app.prepare()
    p = H11Protocol()
    p.feed(REQUEST)
    head = p.next_head()

    async def loop(n: int) -> float:
        start = time.process_time()
        for _ in range(n):
            request = HTTPRequest(head.method, head.path, head.query_string, head.headers, body=b"", raw_path=head.raw_path)
            await app.handle(request)
        return (time.process_time() - start) / n

    return lambda n: asyncio.run(loop(n))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases: list[tuple[str, Callable[[int], float]]] = [("h11 both ways", h11_both_ways)]
    cases.append(("H11Protocol", protocol_cycle(H11Protocol)))
    try:
        from conduit.server.httptools_protocol import HttpToolsProtocol
    except ImportError:
        pass
    else:
        cases.append(("HttpToolsProtocol", protocol_cycle(HttpToolsProtocol)))
    cases.append(("app.handle (default: request metrics on)", app_handle()))
    cases.append(("app.handle (monitoring=False)", app_handle(monitoring=False)))
    results: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(args.repeat):  # interleaved, like the HTTP benchmark
        for name, fn in cases:
            results[name].append(fn(args.requests) * 1e6)
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
