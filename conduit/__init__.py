"""Conduit: a small HTTP kernel (h11 + anyio) with pluggy hooks for ML and LLM serving."""

from conduit.hookspecs import hookimpl

__all__ = ["hookimpl"]
__version__ = "0.1.0"
