"""Session-start context pack: what an agent should know before it starts.

Memories are grouped by project, then by memory type (decisions and bugs
first: they change what an agent does), most important first, and packed
greedily into a character budget so the pack never floods a context window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.models import Observation
from ..store.search import SearchResult

if TYPE_CHECKING:
    from .memory import Memory

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
    omitted_exact: bool = True  # False: `omitted` is a floor (recall's count_at_most)


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
    return RecallPack(_render(groups), groups, included, omitted, result.match,
                      omitted_exact=result.total_exact)


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def why_empty(mem: Memory, query: str, project: str | None, memory_types: Sequence[str]) -> str:
    """What to tell someone whose recall came back empty: what is true, what to do."""
    from .projects import project_counts

    counts = project_counts(mem)
    if not counts:
        return "no memories on this host yet: save one (kioku-mesh save / save_observation)"
    if project and project not in counts:
        known = ", ".join(sorted((p for p in counts if p), key=lambda p: -counts[p])[:8])
        return (f"no memories in project {project!r}; projects here: {known or '(none named)'}"
                " (check the spelling, or recall without a project)")
    what = " and ".join(filter(None, [f"project {project!r}" if project else "",
                                      "type " + ",".join(memory_types) if memory_types else "",
                                      f"query {query!r}" if query else ""]))
    return f"no memories match {what or 'these filters'}; widen the filters or search instead"
