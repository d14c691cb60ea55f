"""Who saved what, when: saves per day by agent family and by project, the
store's size and this process's search latency (the dashboard's charts)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.errors import ValidationError
from . import latency
from .memory import Memory

MAX_DAYS = 366


def saves_per_day(mem: Memory, days: int = 30, *, now: float | None = None) -> dict[str, Any]:
    """Saves on each UTC day of the last `days` (today included), per agent
    family and per project: {"days": [...], "by_agent": {name: [n per day]},
    "by_project": {...}, "total": n}. Memories from peers count on the day
    they were written, not received."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"days must be a whole number from 1 to {MAX_DAYS}, not {days!r}")
    today = datetime.fromtimestamp(time.time() if now is None else now, UTC).date()
    first = today - timedelta(days=days - 1)
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    index = {d: i for i, d in enumerate(labels)}
    start = datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()
    rows = mem.store.db.execute(
        "SELECT date(created_ts, 'unixepoch') AS day, agent_family, project, count(*) "
        "FROM observations WHERE created_ts >= ? GROUP BY day, agent_family, project",
        (start,),
    ).fetchall()
    by_agent: dict[str, list[int]] = {}
    by_project: dict[str, list[int]] = {}
    total = 0
    for day, agent, project, n in rows:
        i = index.get(day)
        if i is None:  # written "in the future" by a host whose clock is ahead
            continue
        by_agent.setdefault(agent or "-", [0] * days)[i] += n
        by_project.setdefault(project or "-", [0] * days)[i] += n
        total += n
    return {"days": labels, "by_agent": _busiest_first(by_agent),
            "by_project": _busiest_first(by_project), "total": total}


def _busiest_first(series: dict[str, list[int]]) -> dict[str, list[int]]:
    return dict(sorted(series.items(), key=lambda kv: (-sum(kv[1]), kv[0])))


def store_size(mem: Memory) -> dict[str, int]:
    """Bytes of the store file and its write-ahead log."""
    path = mem.settings.db_path
    sizes = {}
    for name, p in (("db_bytes", str(path)), ("wal_bytes", f"{path}-wal")):
        try:
            sizes[name] = os.path.getsize(p)
        except OSError:
            sizes[name] = 0
    return sizes


def activity(mem: Memory, days: int = 30) -> dict[str, Any]:
    memories = mem.store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
    return {"saves": saves_per_day(mem, days), "store": {**store_size(mem), "memories": memories},
            "search_latency_ms": latency.percentiles()}
