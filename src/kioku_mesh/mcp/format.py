"""Compact, token-efficient renderings of results for agents."""

from __future__ import annotations

from typing import Any

from ..core.models import Observation
from ..core.timeutil import age

DEFAULT_MAX_BYTES = 4000


def hit_summary(obs: Observation, now: float) -> dict[str, Any]:
    return {
        "id": obs.observation_id,
        "subject": obs.subject,
        "summary": obs.summary,
        "memory_type": obs.memory_type,
        "importance": obs.importance,
        "project": obs.project,
        "age": age(obs.created_at, now),
    }


def hit_line(hit: dict[str, Any]) -> str:
    summary = f" — {hit['summary']}" if hit["summary"] and hit["summary"] != hit["subject"] else ""
    project = hit["project"] or "-"
    line = (f"{hit['id'][:12]} {hit['memory_type']} i{hit['importance']} {project} {hit['age']}: "
            f"{hit['subject']}{summary}")
    return line + (f"\n    why: {hit['why']}" if "why" in hit else "")


def capped_lines(items: list[dict[str, Any]], max_bytes: int) -> tuple[list[str], int]:
    """Lines for as many items as fit in max_bytes (at least one, truncated)."""
    lines: list[str] = []
    used = 0
    for item in items:
        line = hit_line(item)
        size = len(line.encode("utf-8")) + 1
        if used + size > max_bytes:
            if not lines:
                lines.append(line.encode("utf-8")[: max(0, max_bytes - 4)].decode("utf-8", "ignore")
                             + "…")
            break
        lines.append(line)
        used += size
    return lines, len(lines)
