"""What a request's framing means, decided once for both parsers and the writer.

h11 and llhttp (httptools) each refuse some malformed input and let other input through;
:class:`RequestHead` refuses the rest, so a request is answered the same on both: the
``Host`` rules, transfer codings other than ``chunked``, ``Content-Length`` with
``Transfer-Encoding`` (RFC 9112 6.3), control characters in values, ``Connection`` read as a
token list, the HTTP version a request is answered in (:func:`spoken_version`), and the 413
for a body over the limit. Each protocol hands what the head asked (``keep_alive``,
``close``, ``expects_continue``) to the writer (:mod:`conduit.server.writer`), which frames
the response by h11's rules.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from conduit.errors import PayloadTooLargeError
from conduit.http.datastructures import Headers

__all__ = ["ProtocolError", "RequestHead", "asks_to_close", "body_too_large", "split_target", "spoken_version"]

# Control characters a field value must not hold (RFC 9110 5.5: HTAB is the one allowed).
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


class ProtocolError(Exception):
    """The peer broke HTTP; ``status`` is what to answer (if a response can still be sent)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestHead:
    """The parsed head of one request, ready to become an HTTPRequest."""

    __slots__ = (
        "close",
        "content_length",
        "expects_continue",
        "has_body",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "path",
        "query_string",
        "raw_path",
    )

    def __init__(self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], http_version: bytes,
                 *, values_checked: bool = False) -> None:
        """From the parser's parts; header names are lower-case, values stripped.

        Refuses what either parser lets through, so both decide alike: more or fewer than
        one ``Host`` on HTTP/1.1 (400), a transfer coding other than ``chunked`` (501), both
        ``Content-Length`` and ``Transfer-Encoding`` (400), and, unless the parser already
        refused them (``values_checked``: llhttp does), control characters in a value (400).
        """
        self.method = method.decode("ascii")
        self.raw_path, self.query_string = split_target(target)
        self.path = unquote(self.raw_path) if "%" in self.raw_path else self.raw_path
        self.headers = Headers(headers)
        self.http_version = http_version.decode("ascii")
        length = None
        chunked = False
        expect = False
        keep_alive = self.http_version == "1.1"
        close = keep = False
        hosts = 0
        for name, value in headers:
            if not values_checked and _CONTROL.search(value):
                raise ProtocolError(400, "a header value contains a control character")
            if name == b"content-length":
                length = int(value)
            elif name == b"host":
                hosts += 1
            elif name == b"transfer-encoding":
                if [c.strip() for c in value.lower().split(b",")] != [b"chunked"] or chunked:
                    raise ProtocolError(501, "Only Transfer-Encoding: chunked is supported")
                chunked = True
            elif name == b"expect" and value.lower() == b"100-continue":
                expect = True
            elif name == b"connection":
                # A token list (RFC 9110 7.6.1): "close" is a token, not a substring of one.
                tokens = [t.strip() for t in value.lower().split(b",")]
                close = close or b"close" in tokens
                keep = keep or b"keep-alive" in tokens
        if hosts > 1 or (hosts == 0 and self.http_version == "1.1"):
            raise ProtocolError(400, "Missing mandatory Host: header" if not hosts else "Found multiple Host: headers")
        if chunked and length is not None:
            # RFC 9112 6.3: a message with both may be an attempt at request smuggling; the
            # server MUST close the connection after answering it. It is answered 400.
            raise ProtocolError(400, "a request must not carry both Content-Length and Transfer-Encoding")
        if close:
            keep_alive = False
        elif keep:
            keep_alive = True
        self.content_length = length
        self.has_body = chunked or bool(length)
        self.expects_continue = expect
        self.keep_alive = keep_alive
        self.close = close  # the client sent a "close" Connection token


def spoken_version(version: str) -> str:
    """The HTTP version a request is answered in: ``1.0`` or ``1.1``.

    A later 1.x minor version is answered as 1.1 (RFC 9110 2.5); a well-formed version with
    another major one is 505; anything else (HTTP/0.9, garbage) is 400.
    """
    if version in ("1.1", "1.0"):
        return version
    major, dot, minor = version.partition(".")
    if dot and major.isdigit() and minor.isdigit() and len(major) == len(minor) == 1:
        if major == "1":
            return "1.1"
        if major != "0":
            raise ProtocolError(505, f"HTTP/{version} is not spoken here; use HTTP/1.1")
    raise ProtocolError(400, "malformed HTTP version")


def split_target(target: bytes) -> tuple[str, str]:
    """Split a request target into the (still percent-encoded) path and query string."""
    text = target.decode("latin-1")
    if text.startswith(("http://", "https://")):  # absolute-form (proxies)
        slash = text.find("/", text.find("//") + 2)
        text = text[slash:] if slash != -1 else "/"
    elif text == "*":
        return "*", ""
    path, _, query = text.partition("?")
    return path or "/", query


def body_too_large(limit: int, declared: int | None = None) -> PayloadTooLargeError:
    """The 413 for a body over ``limit``: declared by Content-Length, or found while reading."""
    if declared is not None:
        detail = f"the body is {declared} bytes; the limit is {limit} bytes"
    else:
        detail = f"the body exceeds the limit of {limit} bytes"
    return PayloadTooLargeError("Payload Too Large", detail, code="body_too_large")


def asks_to_close(headers: Any) -> bool:
    """Whether request headers (lower-case byte pairs) carry a ``close`` Connection token."""
    for name, value in headers:
        if name == b"connection" and b"close" in [t.strip() for t in value.lower().split(b",")]:
            return True
    return False
