"""Hook implementations of the conduit-vector plugin (entry point `conduit`: `vector`)."""

from __future__ import annotations
