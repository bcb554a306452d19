"""Hook implementations of the conduit-otel plugin (entry point `conduit`: `otel`)."""

from __future__ import annotations
