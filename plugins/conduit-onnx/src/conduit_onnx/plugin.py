"""Hook implementations of the conduit-onnx plugin (entry point `conduit`: `onnx`)."""

from __future__ import annotations
