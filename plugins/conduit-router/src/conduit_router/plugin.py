"""Hook implementations of the conduit-router plugin (entry point `conduit`: `router`)."""

from __future__ import annotations
