"""This process's memory use, read from /proc on Linux and from ``resource`` elsewhere."""

from __future__ import annotations

import sys
from dataclasses import dataclass

__all__ = ["MemoryUsage", "memory_usage"]

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MemoryUsage:
    """Resident memory now and at its peak since the process started, in MB (MiB)."""

    current_mb: float
    peak_mb: float


def _from_proc() -> MemoryUsage | None:
    try:
        with open("/proc/self/status", "rb") as fh:
            text = fh.read()
    except OSError:
        return None
    fields: dict[bytes, float] = {}
    for line in text.splitlines():
        if line.startswith((b"VmRSS:", b"VmHWM:")):
            key, _, rest = line.partition(b":")
            fields[key] = float(rest.split()[0]) / 1024  # the kernel reports kB
    if b"VmRSS" not in fields:
        return None
    current = fields[b"VmRSS"]
    return MemoryUsage(current, max(current, fields.get(b"VmHWM", current)))


def _from_resource() -> MemoryUsage:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / _MB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB elsewhere
    return MemoryUsage(peak_mb, peak_mb)  # no portable "current" without /proc: report the peak


def memory_usage() -> MemoryUsage:
    """Resident set size now and at its peak (current equals peak where /proc is absent)."""
    return _from_proc() or _from_resource()
