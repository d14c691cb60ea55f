"""One memory with everything a person asks about it: its state (deleted,
superseded, expired), the supersede chain both ways, its scope and where it
came from (this host, an import or a peer, and who wrote it where)."""

from __future__ import annotations

from typing import Any

from ..core.errors import NotFoundError
from .memory import Memory, MemoryView, scope_label

CHAIN_LIMIT = 50  # a chain longer than this is cut (it would be a loop or an attack)


def _link(mem: Memory, oid: str) -> dict[str, Any]:
    """A linked memory as the reader may see it: its subject, or that it is
    not here (not yet replicated, purged, or in a scope this reader cannot read)."""
    try:
        view = mem.get(oid, include_hidden=True)
    except NotFoundError:
        return {"id": oid, "subject": None, "present": False, "state": []}
    return {"id": view.observation.observation_id, "subject": view.observation.subject,
            "present": True, "state": view.state(12)}


def _walk(mem: Memory, start: MemoryView, forward: bool) -> list[dict[str, Any]]:
    """Newer versions (forward: what superseded it, and what superseded that)
    or older ones (what it superseded), nearest first."""
    seen = {start.observation.observation_id}
    out: list[dict[str, Any]] = []
    frontier = list(start.superseded_by if forward else start.observation.supersedes)
    while frontier and len(out) < CHAIN_LIMIT:
        oid = frontier.pop(0)
        if oid in seen:
            continue
        seen.add(oid)
        link = _link(mem, oid)
        out.append(link)
        if link["present"]:
            view = mem.get(oid, include_hidden=True)
            frontier.extend(view.superseded_by if forward else view.observation.supersedes)
    return out


def memory_page(mem: Memory, id_or_prefix: str) -> dict[str, Any]:
    view = mem.get(id_or_prefix, include_hidden=True)
    obs = view.observation
    row = mem.store.get_row(obs.observation_id)
    origin = str(row["origin"]) if row is not None else "local"
    return {
        "observation": obs.to_wire(),
        "state": view.state(12),
        "hidden": view.hidden,
        "tombstone": ({"reason": view.tombstone.reason, "deleted_at": view.tombstone.deleted_at}
                      if view.tombstone else None),
        "expired": view.expired,
        "scope": scope_label(obs.visibility, obs.scope_id),
        "origin": {"how": origin, "written_here": obs.pc_id == mem.identity.pc_id,
                   "pc_id": obs.pc_id, "agent_family": obs.agent_family,
                   "client_id": obs.client_id, "session_id": obs.session_id},
        "newer": _walk(mem, view, forward=True),
        "older": _walk(mem, view, forward=False),
        "ignored_supersedes": view.ignored_supersedes,
        "ignored_successors": view.ignored_successors,
    }
