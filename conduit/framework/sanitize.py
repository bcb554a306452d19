"""Seed 003's error sanitising, under its import path here: see :mod:`conduit.http.sanitize`
(it lives with the responses it makes safe, so that ``conduit.http`` needs nothing above it)."""

from __future__ import annotations

from conduit.http.sanitize import ErrorHandler, safe_error_detail, sanitize_error_message

__all__ = ["ErrorHandler", "safe_error_detail", "sanitize_error_message"]
