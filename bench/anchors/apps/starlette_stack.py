"""bench/http's Starlette hello app behind the seed's production stack, in Conduit's order.

Security headers, CORS, size limit (50 MB), timeout (30 s), request logging, rate limit,
error handler: the first is the outermost, as with ``app.use`` in
bench/stack/apps/stack_hello.py. The rate limiter is chosen by ``ANCHOR_LIMITER``:

- ``slowapi``: slowapi's ``Limiter`` (``strategy="moving-window"``, ``memory://``,
  ``headers_enabled=True``, ``default_limits``) through its pure-ASGI
  ``SlowAPIASGIMiddleware``;
- ``limits``: the hand-written :class:`asgi_stack.LimitsRateLimit` on the ``limits``
  library (moving window, memory storage).

The limit is the one stack_hello.py sets, 10**9 requests in 10 s: every request is counted
and allowed. Served by uvicorn with ``--log-level warning``, so the access log writes nothing.
"""

import logging
import os

from asgi_stack import AccessLog, ErrorHandler, LimitsRateLimit, SecurityHeaders, SizeLimit, Timeout
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route
from starlette_app import hello  # bench/http/apps, the server's working directory

MAX_REQUESTS = 10**9
WINDOW_SECONDS = 10

limiter_name = os.environ.get("ANCHOR_LIMITER", "limits")
logging.getLogger("anchors.access").setLevel(os.environ.get("ANCHOR_LOG_LEVEL", "WARNING").upper())

if limiter_name == "slowapi":
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.middleware import SlowAPIASGIMiddleware
    from slowapi.util import get_remote_address

    limiter = Limiter(
        key_func=get_remote_address,
        default_limits=[f"{MAX_REQUESTS} per {WINDOW_SECONDS} seconds"],
        strategy="moving-window",
        storage_uri="memory://",
        headers_enabled=True,
    )
    rate_limit = Middleware(SlowAPIASGIMiddleware)
elif limiter_name == "limits":
    limiter = None
    rate_limit = Middleware(LimitsRateLimit, max_requests=MAX_REQUESTS, window_seconds=WINDOW_SECONDS)
else:
    raise SystemExit(f"ANCHOR_LIMITER must be 'slowapi' or 'limits', not {limiter_name!r}")

app = Starlette(
    routes=[Route("/", hello)],
    middleware=[
        Middleware(SecurityHeaders),
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Content-Type", "Authorization"],
            max_age=600,
        ),
        Middleware(SizeLimit, max_bytes=50 * 1024 * 1024),
        Middleware(Timeout, seconds=30.0),
        Middleware(AccessLog),
        rate_limit,
        Middleware(ErrorHandler),
    ],
)
if limiter is not None:
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)
