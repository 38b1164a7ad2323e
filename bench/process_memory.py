"""The peak memory of the process a benchmark job runs in, as the kernel counts it.

The peak is the kernel's high-water mark of this process's RSS (VmHWM), DuckDB's threads
included: no sampling misses it. Not getrusage's ru_maxrss: that keeps, across the exec that
started this program, the RSS of the process forked to run it: a copy of the parent's.
"""

from __future__ import annotations


def peak_rss() -> int:
    """The high-water mark of this process's RSS since it started this program, in bytes."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
