"""The seed's "Complete Production Example", running as written.

Four adaptations, each marked "Adapted" below (docs/production/example.md says why):

1. ``load_model("model.pkl")`` loads a real model: a scikit-learn classifier trained on
   the iris data bundled with scikit-learn (4 features in, a class index 0-2 out), built
   into a cache directory the first time this module is imported (about a second, no
   network; see examples/models/iris.py).
2. ``/predict`` lets the errors that already carry a status (422 for features of the wrong
   shape, 503 queue full, 504 timed out) through, where the seed's catch-all turned every
   exception into a 500.
3. ``/predict`` checks that the four measurements lie between 0 and 100 cm.
4. ``Conduit(extra_plugins=[iris])``: the model's module declares its cache setting
   (``CONDUIT_EXAMPLES_CACHE``), which Conduit would otherwise report as an unknown setting.

Run it:  python examples/production.py                         (port 8080, as in the seed)
   or:   conduit run examples.production:app --port 8000

    curl -X POST localhost:8080/predict -d '{"features": [5.1, 3.5, 1.4, 0.2]}'
"""

from conduit import Conduit
from conduit.ml import InferenceEngine, load_model, create_vector_db
from conduit.ml.resilience import ResilientMLModel
from conduit.framework.errors import error_handler, abort
from conduit.framework.monitoring import (
    logging_middleware, create_health_endpoint,
    create_metrics_endpoint, _metrics, _health_check
)
from conduit.framework.security import (
    rate_limit, enable_cors, security_headers, InputValidator
)
from conduit.framework.edge_cases import (
    request_size_limit, request_timeout,
    create_graceful_shutdown_handler
)

# Adapted (2): the base class of every error that carries its own HTTP status.
from conduit.framework.errors import HTTPError

# Adapted (1): the seed's "model.pkl" is built here (cached) instead of shipped in git.
try:
    from examples.models import iris  # conduit run examples.production:app
except ModuleNotFoundError:  # python examples/production.py: examples/ is the script's folder
    from models import iris

MODEL_PATH = iris.ensure_model()

# Create app
app = Conduit(extra_plugins=[iris])  # Adapted (4): iris declares CONDUIT_EXAMPLES_CACHE

# Middleware stack (order matters!)
app.use(security_headers())
app.use(enable_cors())
app.use(request_size_limit(max_mb=50))
app.use(request_timeout(timeout_seconds=30.0))
app.use(logging_middleware())
app.use(rate_limit(max_requests=1000, window_seconds=60))
app.use(error_handler())

# Load ML model with resilience
base_model = load_model(MODEL_PATH)  # Adapted (1): the seed's load_model("model.pkl")
model = ResilientMLModel(
    model=base_model,
    use_circuit_breaker=True,
    use_retry=True
)
engine = InferenceEngine(model=model)
validator = InputValidator()

# Setup graceful shutdown
shutdown = create_graceful_shutdown_handler()
shutdown.register_cleanup(lambda: print("Cleanup complete"))
shutdown.setup_signal_handlers()

# Health checks
_health_check.register_check("model",
    lambda: (True, "Model loaded") if model else (False, "Model not loaded")
)

# Routes
@app.get("/")
def home(req, res):
    res.json({"service": "Production API", "version": "1.0.0"})

@app.get("/health")
def health(req, res):
    return create_health_endpoint()(req, res)

@app.get("/metrics")
def metrics(req, res):
    return create_metrics_endpoint()(req, res)

# Adapted: the seed's route declares nothing; these declarations give /openapi.json the
# body and the answers (400 missing features, 422 wrong shape, 503/504 overload/timeout).
# Iris measurements are centimetres: a value outside 0-100 is a client's mistake (a 400 naming
# it), not a number to feed the model (a huge one overflows its arithmetic).
IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
IRIS_RANGES = {name: (0.0, 100.0) for name in IRIS_FEATURES}
PREDICT_BODY = {
    "type": "object",
    "required": ["features"],
    "properties": {"features": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 100},
                                "minItems": 4, "maxItems": 4,
                                "description": "sepal length, sepal width, petal length, petal width (cm)"}},
}


@app.post(
    "/predict",
    body=PREDICT_BODY,
    responses={400: "Validation failed", 422: "Invalid input shape", 503: "Overloaded", 504: "Timed out"},
)
def predict(req, res):
    data = req.json()

    # Validate
    errors = validator.validate_required(data, ["features"])
    features = data.get("features") if isinstance(data, dict) else None
    if not errors and isinstance(features, list) and len(features) == len(IRIS_FEATURES):
        errors = validator.validate_ranges(dict(zip(IRIS_FEATURES, features)), IRIS_RANGES)  # adapted
    if errors:
        abort(400, "Validation failed", "; ".join(errors))

    # Predict
    import time
    start = time.time()

    try:
        result = engine.predict(data["features"])
        duration = time.time() - start

        _metrics.increment_counter("predictions.success", 1)
        _metrics.observe_histogram("prediction.duration", duration)

        res.json({
            "prediction": result,
            "duration_ms": duration * 1000
        })
    except HTTPError:
        # Adapted (2): a 422 (features of the wrong shape), 503 or 504 keeps its status;
        # the seed's catch-all below would have answered 500 for the client's mistake.
        _metrics.increment_counter("predictions.failed", 1)
        raise
    except Exception as e:
        _metrics.increment_counter("predictions.failed", 1)
        abort(500, "Prediction failed", str(e))

# Run
if __name__ == "__main__":
    app.run(port=8080)
