"""conduit-onnx: ONNX Runtime inference for Conduit: GPU when present, CPU otherwise, micro-batching, streaming."""

__all__: list[str] = []
