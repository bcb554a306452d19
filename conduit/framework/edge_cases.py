"""Production edge cases, at the seed's import path::

    from conduit.framework.edge_cases import (
        request_size_limit, request_timeout, connection_limit, create_connection_pool,
        create_memory_monitor, create_graceful_shutdown_handler, StreamingUpload,
    )

The pieces live in :mod:`conduit.framework.limits`, :mod:`conduit.framework.memory_guard`,
:mod:`conduit.framework.shutdown` and :mod:`conduit.framework.uploads`.
"""

from __future__ import annotations

from conduit.framework.limits import (
    ConnectionLimit,
    ConnectionPool,
    RequestSizeLimit,
    RequestTimeout,
    connection_limit,
    create_connection_pool,
    request_size_limit,
    request_timeout,
)
from conduit.framework.memory_guard import MemoryMonitor, create_memory_monitor
from conduit.framework.shutdown import GracefulShutdownHandler, create_graceful_shutdown_handler
from conduit.framework.uploads import StreamingUpload

__all__ = [
    "ConnectionLimit",
    "ConnectionPool",
    "GracefulShutdownHandler",
    "MemoryMonitor",
    "RequestSizeLimit",
    "RequestTimeout",
    "StreamingUpload",
    "connection_limit",
    "create_connection_pool",
    "create_graceful_shutdown_handler",
    "create_memory_monitor",
    "request_size_limit",
    "request_timeout",
]
