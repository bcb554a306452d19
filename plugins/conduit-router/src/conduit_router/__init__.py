"""conduit-router: an LLM router for Conduit that learns by contextual Thompson sampling
which model to use for each query.

::

    from conduit_router import Router, Query
    router = Router()
    decision = await router.route(Query(text="What is 2+2?"))
    await router.feedback(decision.query_id, rating=5)

The seed's import paths work too: ``from conduit.engines.router import Router`` and
``from conduit.core.models import Query``.
"""

from conduit_router.bandit import BanditConfig
from conduit_router.catalogue import DEFAULT_MODELS, load_catalogue
from conduit_router.errors import (
    AllModelsFailedError,
    FeedbackConflictError,
    NoEligibleModelError,
    UnknownQueryError,
)
from conduit_router.features import QueryAnalyzer
from conduit_router.models import (
    DOMAINS,
    Alternative,
    Completion,
    FeedbackResult,
    ModelSpec,
    Objective,
    Query,
    QueryConstraints,
    QueryFeatures,
    RoutingDecision,
    Usage,
)
from conduit_router.router import Router

__all__ = [
    "DEFAULT_MODELS",
    "DOMAINS",
    "AllModelsFailedError",
    "Alternative",
    "BanditConfig",
    "Completion",
    "FeedbackConflictError",
    "FeedbackResult",
    "ModelSpec",
    "NoEligibleModelError",
    "Objective",
    "Query",
    "QueryAnalyzer",
    "QueryConstraints",
    "QueryFeatures",
    "Router",
    "RoutingDecision",
    "UnknownQueryError",
    "Usage",
    "load_catalogue",
]
