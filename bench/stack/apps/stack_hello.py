"""The hello endpoint of bench/http, bare or behind the seed's whole production stack.

Chosen by environment (bench/stack/run.py sets them):

- ``STACK_VARIANT``: ``bare`` (the endpoint alone) or ``stack`` (the middleware of the
  seed's "Complete Production Example", in its order).
- ``STACK_MONITORING``: ``1`` (the default: the built-in request-metrics middleware,
  /health/* and /metrics) or ``0`` (``Conduit(monitoring=False)``).
- ``CONDUIT_REDIS_URL``: set, the rate limiter counts in Redis; unset, in memory.
- ``STACK_PREFIX``: the rate limiter's key prefix (unique per run, so nothing is shared
  with other users of the Redis).
- ``STACK_SKIP``: comma-separated names of middleware to leave out (profiling aid).

The limit is far above what the load reaches, so every request is counted and allowed:
the table measures the cost of limiting, not of refusing.
"""

import os

from conduit import Conduit
from conduit.framework.edge_cases import request_size_limit, request_timeout
from conduit.framework.errors import error_handler
from conduit.framework.monitoring import logging_middleware
from conduit.framework.security import enable_cors, rate_limit, security_headers

variant = os.environ.get("STACK_VARIANT", "bare")
monitoring = os.environ.get("STACK_MONITORING", "1") == "1"

app = Conduit(plugins=[]) if monitoring else Conduit(plugins=[], monitoring=False)

STACK = {
    "security_headers": lambda: security_headers(),
    "cors": lambda: enable_cors(),
    "size_limit": lambda: request_size_limit(max_mb=50),
    "timeout": lambda: request_timeout(timeout_seconds=30.0),
    "logging": lambda: logging_middleware(),
    "rate_limit": lambda: rate_limit(
        max_requests=10**9, window_seconds=10, prefix=os.environ.get("STACK_PREFIX", "bench-stack")
    ),
    "error_handler": lambda: error_handler(),
}
if variant == "stack":
    skip = set(filter(None, os.environ.get("STACK_SKIP", "").split(",")))  # for profiling one piece at a time
    if skip - set(STACK):
        raise SystemExit(f"STACK_SKIP names unknown middleware: {sorted(skip - set(STACK))}; known: {list(STACK)}")
    for name, make in STACK.items():
        if name not in skip:
            app.use(make())
elif variant != "bare":
    raise SystemExit(f"STACK_VARIANT must be 'bare' or 'stack', not {variant!r}")


@app.get("/")
async def hello(request):
    return {"message": "Hello, World!"}
