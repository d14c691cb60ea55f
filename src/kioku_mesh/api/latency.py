"""Search latency of this process, kept for the dashboard's percentiles.

A bounded window of the last searches' server times (no disk, no growth): the
dashboard shows what its own users waited for, not a benchmark.
"""

from __future__ import annotations

import threading
from collections import deque

WINDOW = 1000
_times: deque[float] = deque(maxlen=WINDOW)
_lock = threading.Lock()


def record(ms: float) -> None:
    with _lock:
        _times.append(ms)


def percentiles(points: tuple[int, ...] = (50, 90, 99)) -> dict[str, object]:
    """{"count": n, "p50": ms, ...} over the window (nearest rank); None when empty."""
    with _lock:
        values = sorted(_times)
    out: dict[str, object] = {"count": len(values)}
    for p in points:
        if not values:
            out[f"p{p}"] = None
            continue
        rank = max(1, -(-p * len(values) // 100))  # ceil(p% of n), at least the first
        out[f"p{p}"] = round(values[rank - 1], 3)
    return out
