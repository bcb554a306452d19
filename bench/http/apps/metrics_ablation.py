"""The hello app with one piece of the built-in request metrics at a time (bench/http/metrics_ablation.py).

``CONDUIT_BENCH_PART`` picks the piece: ``bare`` (monitoring off), ``routes`` (the health and
metrics routes only), ``layer`` (a phased middleware that does nothing), ``clock`` (one that
reads the clock twice), ``record`` (one that records a fixed duration), ``full`` (monitoring on), ``stack`` (monitoring
on and the seed's whole production stack, as bench/stack/apps/stack_hello.py builds it).
"""

import os
import time

from conduit import Conduit
from conduit.framework.monitoring import add_health_routes, add_metrics_routes, kernel_metrics
from conduit.http.middleware import PhasedMiddleware

PART = os.environ.get("CONDUIT_BENCH_PART", "bare")
app = Conduit(plugins=[], monitoring=PART in ("full", "stack"))


@app.get("/")
async def hello(request):
    return {"message": "Hello, World!"}


class Layer(PhasedMiddleware):
    pass


class Clock(PhasedMiddleware):
    def before(self, request):
        return time.perf_counter()

    def after(self, request, response, start):
        time.perf_counter() - start


class Record(PhasedMiddleware):
    metrics = kernel_metrics()

    def after(self, request, response, context):
        self.metrics.record_request(0.001, method=request.method, route=request.route.path,
                                    status=response.status_code)


if PART == "routes":
    add_health_routes(app)
    add_metrics_routes(app)
elif PART in ("layer", "clock", "record"):
    app.use({"layer": Layer, "clock": Clock, "record": Record}[PART]())
elif PART == "stack":
    from conduit.framework.edge_cases import request_size_limit, request_timeout
    from conduit.framework.errors import error_handler
    from conduit.framework.monitoring import logging_middleware
    from conduit.framework.security import enable_cors, rate_limit, security_headers

    for mw in (security_headers(), enable_cors(), request_size_limit(max_mb=50), request_timeout(30.0),
               logging_middleware(), rate_limit(max_requests=10**9, window_seconds=10), error_handler()):
        app.use(mw)
