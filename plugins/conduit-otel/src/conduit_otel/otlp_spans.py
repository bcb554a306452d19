"""OTLP/protobuf encoding of finished spans, written straight to bytes.

The OTLP exporters encode a batch by building one protobuf object per span, attribute and
value (``opentelemetry.exporter.otlp.proto.common``'s ``encode_spans``) and serialising the
tree. That runs in the serving process, under its GIL, for every exported span, and is most
of what tracing every request costs (docs/benchmarks.md). :func:`encode_spans` writes the
same ``ExportTraceServiceRequest`` directly in the protobuf wire format, with the encoded
key/value pairs, resources and scopes that repeat from span to span kept in caches.

A collector receives the same message: every field the official encoder sets, with the same
values and the same presence rules (an attribute it cannot encode is logged and left out, as
there). tests/test_otlp_spans.py parses both encodings and compares them on spans of every
shape. :class:`LeanOTLPSpanExporter` is the OTLP/HTTP span exporter with this encoding.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from struct import Struct
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE

try:  # the official exporter's own helpers, so that its export is followed exactly
    from opentelemetry.exporter.otlp.proto.http import _common
except ImportError:  # pragma: no cover - a release without them: the official export runs
    _common = None  # type: ignore[assignment]

__all__ = ["LeanOTLPSpanExporter", "encode_spans"]

logger = logging.getLogger(__name__)

_FIXED64 = Struct("<Q").pack
_FIXED32 = Struct("<I").pack
_DOUBLE = Struct("<d").pack
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# SpanFlags: the context's is-remote bit is known (0x100), and set (0x200) for a remote parent.
_FLAGS_LOCAL = b"\x85\x01" + _FIXED32(0x100)  # field 16, fixed32
_FLAGS_REMOTE = b"\x85\x01" + _FIXED32(0x300)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


#: Varints of 0..16383 (one or two bytes), the lengths of nearly every field.
_SMALL = [bytes((n,)) if n < 128 else bytes(((n & 0x7F) | 0x80, n >> 7)) for n in range(16384)]


def _field(tag: bytes, body: bytes) -> bytes:
    """A length-delimited field: its tag, the body's length and the body."""
    n = len(body)
    return tag + (_SMALL[n] if n < 16384 else _varint(n)) + body


def _any_value(value: Any) -> bytes:
    """The body of an ``AnyValue`` (raises, as the official encoder does, on what it refuses)."""
    if value is None:
        return b""
    if value is True:
        return b"\x10\x01"
    if value is False:
        return b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode("utf-8"))
    if isinstance(value, bool):  # a bool subclass
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"Value out of range: {value}")
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any_value(v)) for v in value]))
    if isinstance(value, Mapping):
        pairs = b"".join([_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()])
        return _field(b"\x32", pairs)
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: str, value: Any) -> bytes:
    return _field(b"\x0a", key.encode("utf-8")) + _field(b"\x12", _any_value(value))


#: Encoded KeyValue bodies of scalar attributes, by (key, type, value): most repeat per span.
#: Not floats: 0.0 and -0.0 are equal keys with different encodings (and NaN is no key).
_KV_CACHE: dict[tuple[str, type, Any], bytes] = {}
_KV_CACHE_LIMIT = 8192
_SCALARS = (str, int, bool)


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """The repeated ``KeyValue`` field ``tag`` for ``attributes``; what cannot be encoded is
    logged and left out, as ``_encode_attributes`` does."""
    if not attributes:
        return b""
    parts = []
    cache = _KV_CACHE
    # The SDK's BoundedAttributes takes a lock per item read; a finished span's are frozen, so
    # its plain dict is read directly when it has one.
    items = getattr(attributes, "_dict", attributes).items()
    for key, value in items:
        kind = type(value)
        cacheable = kind in _SCALARS
        body = cache.get((key, kind, value)) if cacheable else None
        if body is None:
            try:
                body = _key_value(key, value)
            except Exception as error:  # the official encoder's rule: log it, leave it out
                logger.exception("Failed to encode key %s: %s", key, error)
                continue
            if cacheable:
                if len(cache) >= _KV_CACHE_LIMIT:
                    cache.clear()
                cache[(key, kind, value)] = body
        n = len(body)
        parts.append(tag + (_SMALL[n] if n < 16384 else _varint(n)) + body)
    return b"".join(parts)


_MISSING = object()


def _own(span: ReadableSpan, private: str, public: str) -> Any:
    """A span's attributes, events or links as the span holds them (``_attributes``, a
    BoundedAttributes or dict; ``_events`` / ``_links``, a BoundedList or tuple), else
    through its public property. The properties copy on every read (a MappingProxyType over
    the locked mapping, a tuple of a locked list); a finished span's are frozen."""
    own = getattr(span, private, _MISSING)
    return getattr(span, public) if own is _MISSING else own


def _flags(context: Any) -> bytes:
    return _FLAGS_REMOTE if context is not None and context.is_remote else _FLAGS_LOCAL


def _span(span: ReadableSpan) -> bytes:
    context = span.context
    parent = span.parent
    parts = [b"\x0a\x10" + context.trace_id.to_bytes(16, "big"), b"\x12\x08" + context.span_id.to_bytes(8, "big")]
    trace_state = context.trace_state
    if trace_state:
        parts.append(_field(b"\x1a", ",".join([f"{k}={v}" for k, v in trace_state.items()]).encode("utf-8")))
    if parent is not None:
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    if span.name:
        parts.append(_field(b"\x2a", span.name.encode("utf-8")))
    parts.append(b"\x30" + _SMALL[span.kind.value + 1])
    if span.start_time:
        parts.append(b"\x39" + _FIXED64(span.start_time))
    if span.end_time:
        parts.append(b"\x41" + _FIXED64(span.end_time))
    parts.append(_attributes(b"\x4a", _own(span, "_attributes", "attributes")))
    if span.dropped_attributes:
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    for event in _own(span, "_events", "events") or ():
        body = b"\x09" + _FIXED64(event.timestamp) if event.timestamp else b""
        if event.name:
            body += _field(b"\x12", event.name.encode("utf-8"))
        body += _attributes(b"\x1a", event.attributes)
        if event.dropped_attributes:
            body += b"\x20" + _varint(event.dropped_attributes)
        parts.append(_field(b"\x5a", body))
    if span.dropped_events:
        parts.append(b"\x60" + _varint(span.dropped_events))
    for link in _own(span, "_links", "links") or ():
        body = (b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big")
                + b"\x12\x08" + link.context.span_id.to_bytes(8, "big")
                + _attributes(b"\x22", link.attributes))
        if link.dropped_attributes:
            body += b"\x28" + _varint(link.dropped_attributes)
        parts.append(_field(b"\x6a", body + b"\x35" + _FIXED32(0x300 if link.context.is_remote else 0x100)))
    if span.dropped_links:
        parts.append(b"\x70" + _varint(span.dropped_links))
    status = span.status
    if status is not None:
        body = _field(b"\x12", status.description.encode("utf-8")) if status.description else b""
        code = status.status_code.value
        parts.append(_field(b"\x7a", body + b"\x18" + _SMALL[code] if code else body))
    parts.append(_flags(parent))
    return b"".join(parts)


#: Encoded Resource and InstrumentationScope messages, by object: a process has a handful.
_RESOURCES: dict[int, tuple[Any, bytes]] = {}
_SCOPES: dict[int, tuple[Any, bytes]] = {}


def _resource(resource: Any) -> bytes:
    entry = _RESOURCES.get(id(resource))
    if entry is None or entry[0] is not resource:
        entry = (resource, _field(b"\x0a", _attributes(b"\x0a", resource.attributes)))
        if len(_RESOURCES) > 64:
            _RESOURCES.clear()
        _RESOURCES[id(resource)] = entry
    return entry[1]


def _scope(scope: Any) -> bytes:
    entry = _SCOPES.get(id(scope))
    if entry is None or entry[0] is not scope:
        body = b""
        if scope is not None:
            if scope.name:
                body += _field(b"\x0a", scope.name.encode("utf-8"))
            if scope.version:
                body += _field(b"\x12", scope.version.encode("utf-8"))
            body += _attributes(b"\x1a", scope.attributes)
        entry = (scope, _field(b"\x0a", body))
        if len(_SCOPES) > 256:
            _SCOPES.clear()
        _SCOPES[id(scope)] = entry
    return entry[1]


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialised ``ExportTraceServiceRequest`` for ``spans``, grouped by resource and then
    by instrumentation scope in the order first seen, as the official encoder groups them."""
    groups: dict[Any, dict[Any, list[bytes]]] = {}
    by_identity: dict[int, dict[Any, list[bytes]]] = {}  # Resource hashes by JSON-dumping itself
    for span in spans:
        scope = span.instrumentation_scope or None
        encoded = _span(span)
        resource = span.resource
        scopes = by_identity.get(id(resource))
        if scopes is None:  # a resource object not seen in this batch: equal ones share a group
            scopes = groups.get(resource)
            if scopes is None:
                scopes = groups[resource] = {}
            by_identity[id(resource)] = scopes
        bucket = scopes.get(scope)
        if bucket is None:
            scopes[scope] = [encoded]
        else:
            bucket.append(encoded)
    out = []
    for resource, scopes in groups.items():
        body = [_resource(resource)]
        for scope, encoded_spans in scopes.items():
            scope_body = _scope(scope) + b"".join([_field(b"\x12", s) for s in encoded_spans])
            if scope is not None and scope.schema_url:
                scope_body += _field(b"\x1a", scope.schema_url.encode("utf-8"))
            body.append(_field(b"\x12", scope_body))
        if resource.schema_url:
            body.append(_field(b"\x1a", resource.schema_url.encode("utf-8")))
        out.append(_field(b"\x0a", b"".join(body)))
    return b"".join(out)


class LeanOTLPSpanExporter(OTLPSpanExporter):
    """``OTLPSpanExporter`` (OTLP over HTTP/protobuf) that encodes with :func:`encode_spans`.

    Everything else is the official exporter's: endpoint, headers, compression, timeouts,
    retries, the request size limit and its self-metrics, all read from the same arguments
    and ``OTEL_EXPORTER_OTLP_*`` variables. Should a later release rename the internals this
    relies on, it exports through the official path instead."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lean = _common is not None and all(
            hasattr(self, name) for name in ("_shutdown", "_metrics", "_client", "_max_request_size"))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """The official ``export`` line for line, with :func:`encode_spans` as the encoder."""
        if not self._lean:  # pragma: no cover - a release with other internals
            return super().export(spans)
        if self._shutdown:
            logger.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = encode_spans(spans)
            except Exception as error:  # noqa: BLE001 - as the official exporter: log it, fail the batch
                logger.error("Failed to encode span batch: %s", error)
                result.error = error
                return SpanExportResult.FAILURE
            if _common._is_request_too_large(data, self._max_request_size):
                logger.warning("Dropping span batch: serialized size %d bytes exceeds max_request_size %d bytes.",
                               len(data), self._max_request_size)
                result.error = _common.RequestPayloadTooLargeError(
                    f"Serialized span request size {len(data)} bytes exceeds max_request_size "
                    f"{self._max_request_size} bytes.")
                return SpanExportResult.FAILURE
            sent = self._client.export(data)
            if not sent.success:
                result.error = sent.error
                result.error_attrs = ({HTTP_RESPONSE_STATUS_CODE: sent.status_code}
                                      if sent.status_code is not None else None)
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
