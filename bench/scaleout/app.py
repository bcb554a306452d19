"""The scale-out app: every shared service behind one small app (bench/scaleout/run.py).

Configured by the environment, as a deployment would be (docs/deployment.md):
``CONDUIT_REDIS_URL`` (rate limits and router posteriors), ``CONDUIT_VECTOR_URL`` (a Chroma
server), ``OTEL_*`` (conduit-otel to an OTLP receiver), ``SCALEOUT_PREFIX`` (this run's
rate-limit keys) and ``SCALEOUT_LIMIT`` (how many requests ``/limited`` admits per run).

- ``GET /`` hello; ``GET /vec`` a nearest-neighbour search in the Chroma server;
  ``/v1/*`` the router plugin's service (``POST /v1/route``, ``/v1/feedback``, ``GET /v1/stats``);
- every request passes a global limiter counting in Redis (limit far above the load, so
  each request costs a Redis round trip and is admitted);
- ``GET /limited`` has its own limiter, ``SCALEOUT_LIMIT`` requests per 10 minutes: across
  both workers it must admit exactly that many;
- ``GET /pid`` says which worker answered.
"""

import os
import random

from conduit import Conduit
from conduit.framework.security import rate_limit
from conduit.ml import create_vector_db

PREFIX = os.environ.get("SCALEOUT_PREFIX", "scaleout")
LIMIT = int(os.environ.get("SCALEOUT_LIMIT", "50"))
DIM = 16

app = Conduit()
app.use(rate_limit(max_requests=10**9, window_seconds=60, prefix=f"{PREFIX}:all", exempt_paths=["/pid"]))
_db = None


def _vectors():
    global _db
    if _db is None:
        _db = create_vector_db(DIM, metric="cosine", url=os.environ["CONDUIT_VECTOR_URL"], collection="scaleout")
    return _db


@app.get("/")
async def hello(request):
    return {"message": "Hello, World!"}


@app.get("/pid")
async def pid(request):
    return {"pid": os.getpid()}


@app.get("/limited")
@rate_limit(max_requests=LIMIT, window_seconds=600, prefix=f"{PREFIX}:limited")
async def limited(request):
    return {"admitted": True, "pid": os.getpid()}


@app.get("/vec")
def vec(request):
    rng = random.Random()
    hits = _vectors().search([rng.random() for _ in range(DIM)], top_k=3)
    return {"hits": [h.id for h in hits]}
