"""The hello app with one piece of the built-in request metrics at a time (bench/http/metrics_ablation.py).

``CONDUIT_BENCH_PART`` picks the piece: ``bare`` (monitoring off), ``routes`` (the health and
metrics routes only), ``layer`` (a phased middleware that does nothing), ``clock`` (one that
reads the clock twice), ``record`` (one that records a fixed duration), ``full`` (monitoring on), ``stack`` (monitoring
on and the seed's whole production stack, as bench/stack/apps/stack_hello.py builds it).
"""

import os
import sys
import time
from pathlib import Path

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
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "stack" / "apps"))
    from stack_hello import STACK  # the seed's stack as bench/stack builds it, in its order

    for make in STACK.values():
        app.use(make())
