"""conduit-otel: OpenTelemetry traces and metrics for Conduit."""

__all__: list[str] = []
