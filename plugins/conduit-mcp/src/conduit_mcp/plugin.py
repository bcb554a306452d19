"""Hook implementations of the conduit-mcp plugin (entry point `conduit`: `mcp`)."""

from __future__ import annotations
