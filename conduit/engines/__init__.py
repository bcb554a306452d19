"""Engines the kernel finds in plugins at call time (the seed's ``conduit.engines`` path).

``conduit.engines.router`` is the LLM router from the conduit-router plugin.
"""

__all__ = ["router"]
