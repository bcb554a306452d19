"""Making error messages safe to show: no file paths, home directories or secrets.

``ErrorHandler().sanitize_error_message(text)`` (seed 003's name) replaces absolute file
paths with ``<path>`` and anything that looks like a credential with ``<redacted>``:
passwords in URLs, ``key=value`` pairs whose key names a secret, ``Bearer`` tokens, JWTs
and well-known token formats, and long hex or base64 runs. It errs on the side of
removing too much: an absolute URL path such as ``/v1/predict`` is redacted too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ErrorHandler", "safe_error_detail", "sanitize_error_message"]

_SECRET_KEYS = (
    r"api[_-]?key|apikey|access[_-]?key|secret[_-]?key|client[_-]?secret|secret|password|passwd|pwd"
    r"|token|access[_-]?token|refresh[_-]?token|auth[_-]?token|authorization|private[_-]?key|credentials?"
)

# (pattern, replacement) applied in order; secrets first so a token inside a path is not half-kept.
_RULES: list[tuple[re.Pattern[str], str]] = [
    # scheme://user:password@host -> scheme://<redacted>@host
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@"), r"\1<redacted>@"),
    # Authorization: Bearer abc / Basic abc
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 <redacted>"),
    # api_key=..., "password": "...", token: ...
    (re.compile(rf"(?i)(\b(?:{_SECRET_KEYS})\b[\"']?\s*[:=]\s*)([\"'])(?!<redacted>).*?\2"), r"\1\2<redacted>\2"),
    (
        re.compile(rf"(?i)(\b(?:{_SECRET_KEYS})\b[\"']?\s*[:=]\s*)(?![\"'<]|(?:bearer|basic)\s)[^\s,;&)}}\]]+"),
        r"\1<redacted>",
    ),
    # JSON Web Tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "<redacted>"),
    # provider token formats: OpenAI/Anthropic sk-..., GitHub, Slack, AWS access key ids, Hugging Face
    (
        re.compile(r"\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}"
                   r"|AKIA[0-9A-Z]{16}|hf_[A-Za-z0-9]{20,})"),
        "<redacted>",
    ),
    # Windows paths: C:\Users\bob\model.onnx
    (re.compile(r"\b[A-Za-z]:\\[^\s\"'<>|*?]*"), "<path>"),
    # home-relative paths: ~/models/x.onnx, ~bob/...
    (re.compile(r"(?<![\w/])~[\w.-]*/[^\s\"',;:)]*"), "<path>"),
    # absolute POSIX paths with two or more segments, or one segment with an extension
    (
        re.compile(r"(?<![\w.:/~<>-])/(?:[\w.@+-]+/)+[\w.@+-]*|(?<![\w.:/~<>-])/[\w@+-]+\.[A-Za-z0-9]{1,8}\b"),
        "<path>",
    ),
    # long hex (hashes, keys) and long base64-ish runs that mix letters and digits
    (re.compile(r"\b[0-9a-fA-F]{32,}\b"), "<redacted>"),
    (re.compile(r"(?<![\w/])(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Za-z])[A-Za-z0-9+/_-]{40,}={0,2}"), "<redacted>"),
]


class ErrorHandler:
    """Seed 003's error-message sanitiser; ``extra_patterns`` adds ``(regex, replacement)``
    rules applied after the built-in ones."""

    def __init__(self, extra_patterns: Iterable[tuple[str | re.Pattern[str], str]] = ()) -> None:
        self._rules = list(_RULES) + [
            (re.compile(p) if isinstance(p, str) else p, repl) for p, repl in extra_patterns
        ]

    def sanitize_error_message(self, message: object) -> str:
        """``message`` as text with paths and secrets replaced."""
        text = str(message)
        for pattern, replacement in self._rules:
            text = pattern.sub(replacement, text)
        return text

    def safe_error_detail(self, exc: BaseException) -> str:
        """``"ExceptionType: sanitised message"`` for logs and health reports."""
        message = self.sanitize_error_message(exc)
        return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


_default = ErrorHandler()


def sanitize_error_message(message: object) -> str:
    """:meth:`ErrorHandler.sanitize_error_message` with the built-in rules."""
    return _default.sanitize_error_message(message)


def safe_error_detail(exc: BaseException) -> str:
    """:meth:`ErrorHandler.safe_error_detail` with the built-in rules."""
    return _default.safe_error_detail(exc)
