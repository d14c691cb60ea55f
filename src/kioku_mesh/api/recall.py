"""Session-start context pack: what an agent should know before it starts.

Memories are grouped by project, then by memory type (decisions and bugs
first: they change what an agent does), most important first, and packed
greedily into a character budget so the pack never floods a context window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.models import Observation
from ..store.search import SearchResult

TYPE_ORDER = ("decision", "bug", "config", "pattern", "note", "summary")


@dataclass
class RecallPack:
    text: str
    groups: dict[str, dict[str, list[Observation]]] = field(default_factory=dict)
    included: int = 0
    omitted: int = 0
    match: str = "browse"
    # When nothing is included: why, and what to do (shown instead of the pack).
    empty_note: str = ""


def _line(obs: Observation) -> str:
    summary = f" — {obs.summary}" if obs.summary and obs.summary != obs.subject else ""
    return f"- [{obs.observation_id[:8]}] (i{obs.importance}) {obs.subject}{summary}\n"


def _render(groups: dict[str, dict[str, list[Observation]]]) -> str:
    out = []
    for project, by_type in groups.items():
        out.append(f"## {project or '(no project)'}\n")
        for mtype in sorted(by_type, key=lambda t: TYPE_ORDER.index(t) if t in TYPE_ORDER else 99):
            out.append(f"### {mtype}\n")
            out.extend(_line(o) for o in by_type[mtype])
    return "".join(out)


def build_pack(result: SearchResult, *, max_chars: int) -> RecallPack:
    if max_chars < 200:
        from ..core.errors import ValidationError

        raise ValidationError("max_chars must be at least 200")
    candidates = [h.observation for h in result.hits]
    groups: dict[str, dict[str, list[Observation]]] = {}
    used = 0
    included = 0
    for obs in candidates:
        cost = len(_line(obs))
        if obs.project not in groups:
            cost += len(f"## {obs.project or '(no project)'}\n")
        if obs.memory_type not in groups.get(obs.project, {}):
            cost += len(f"### {obs.memory_type}\n")
        if used + cost > max_chars:
            continue  # a shorter one further down may still fit
        groups.setdefault(obs.project, {}).setdefault(obs.memory_type, []).append(obs)
        used += cost
        included += 1
    for by_type in groups.values():
        for items in by_type.values():
            items.sort(key=lambda o: (-o.importance, _neg(o.created_at)))
    omitted = max(0, result.total - included)
    return RecallPack(_render(groups), groups, included, omitted, result.match)


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)
