"""In-process costs behind three design choices in the code (docs/architecture.md, "Design notes").

    python bench/micro.py            # prints a table; about ten seconds

1. Writing a response: h11's ``Connection.send`` (Response, Data, EndOfMessage) against the
   server's own writer (``H11Protocol.response_bytes``, conduit/server/writer.py), for the same
   small JSON response on a kept-alive HTTP/1.1 connection.
2. One histogram measurement: the OpenTelemetry SDK's ``Histogram.record`` with a request's
   attributes against conduit-otel's pre-aggregated cell (conduit_otel/aggregation.py).
3. The rate limiter's result: a NamedTuple (conduit/storage/base.py ``AcquireResult``) against a
   frozen dataclass with the same fields.

Each figure is the median over rounds of the mean time per call, in microseconds.
"""

from __future__ import annotations

import statistics
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass

REQUEST = b"GET /items/7 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
BODY = b'{"id": 7, "name": "widget", "price": 9.5}'


def _per_call(fn: Callable[[], float], rounds: int = 7) -> float:
    """Median over rounds of fn(), which returns the mean seconds per call it measured."""
    return statistics.median(fn() for _ in range(rounds)) * 1e6


def h11_send(n: int = 2000) -> float:
    import h11

    spent = 0.0
    headers = [("content-type", "application/json"), ("content-length", str(len(BODY))), ("x-request-id", "abc123")]
    for _ in range(n):
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(REQUEST)
        conn.next_event()
        conn.next_event()
        t0 = time.perf_counter()
        conn.send(h11.Response(status_code=200, headers=headers))
        conn.send(h11.Data(data=BODY))
        conn.send(h11.EndOfMessage())
        spent += time.perf_counter() - t0
    return spent / n


def conduit_writer(n: int = 2000) -> float:
    from conduit.http.response import HTTPResponse
    from conduit.server.protocol import H11Protocol

    spent = 0.0
    for _ in range(n):
        proto = H11Protocol()
        proto.feed(REQUEST)
        proto.next_head()
        response = HTTPResponse(200, BODY, {"content-type": "application/json", "x-request-id": "abc123"})
        t0 = time.perf_counter()
        proto.response_bytes(response)
        spent += time.perf_counter() - t0
    return spent / n


ATTRIBUTES = {"http.request.method": "GET", "url.scheme": "http", "http.route": "/items/{id}",
              "http.response.status_code": 200, "network.protocol.version": "1.1"}


def sdk_histogram(n: int = 20000) -> float:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    hist = provider.get_meter("bench").create_histogram("http.server.request.duration", unit="s")
    attributes = dict(ATTRIBUTES)
    return timeit.timeit(lambda: hist.record(0.0123, attributes), number=n) / n


def aggregated_histogram(n: int = 20000) -> float:
    from conduit_otel.aggregation import PreAggregatedHistogram

    hist = PreAggregatedHistogram("http.server.request.duration", unit="s", description="")
    cell = hist.cell(ATTRIBUTES)
    return timeit.timeit(lambda: hist.record(cell, 0.0123), number=n) / n


@dataclass(frozen=True)
class _Frozen:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset_after: float


def namedtuple_result(n: int = 200000) -> float:
    from conduit.storage.base import AcquireResult

    return timeit.timeit(lambda: AcquireResult(True, 10, 9, 0.0, 60.0), number=n) / n


def dataclass_result(n: int = 200000) -> float:
    return timeit.timeit(lambda: _Frozen(True, 10, 9, 0.0, 60.0), number=n) / n


def main() -> int:
    rows = [
        ("write one small response", "h11 Connection.send", h11_send, "conduit's writer", conduit_writer),
        ("record one histogram measurement", "OTel SDK Histogram.record", sdk_histogram,
         "conduit-otel pre-aggregated cell", aggregated_histogram),
        ("build the rate limiter's result", "frozen dataclass", dataclass_result, "NamedTuple", namedtuple_result),
    ]
    print(f"Python {sys.version.split()[0]}; µs per call, median of 7 rounds\n")
    print("| what | library way | µs | Conduit's way | µs |")
    print("|---|---|---:|---|---:|")
    for what, a_name, a, b_name, b in rows:
        print(f"| {what} | {a_name} | {_per_call(a):.2f} | {b_name} | {_per_call(b):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
