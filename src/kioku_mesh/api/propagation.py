"""What a delete or a purge does beyond this host: said before it is done
(the dashboard's confirmation), in the words of ADR 0016."""

from __future__ import annotations

from typing import Any

from ..core.errors import ValidationError
from .memory import Memory, scope_label

ACTIONS = ("delete", "purge")


def consequences(mem: Memory, id_or_prefix: str, action: str) -> dict[str, Any]:
    """{"id", "subject", "scope", "action", "here", "elsewhere", "reversible"}
    for deleting or purging one memory, from this host's mode and the memory's scope."""
    if action not in ACTIONS:
        raise ValidationError(f"invalid action {action!r}: choose delete or purge")
    view = mem.get(id_or_prefix, include_hidden=True)
    obs = view.observation
    scope = scope_label(obs.visibility, obs.scope_id)
    readers = {"mesh": "every host on the mesh"}.get(
        obs.visibility, f"every host that can read the scope {scope}")
    if mem.settings.mode == "local":
        elsewhere = ("this host is in local mode: nothing is sent now; if it joins a mesh "
                     f"later, the {'deletion' if action == 'delete' else 'erasure'} goes to "
                     f"{readers} then")
    elif action == "delete":
        elsewhere = (f"the deletion replicates to {readers}; each hides the memory, hosts "
                     "offline now hide it when they reconnect")
    else:
        elsewhere = (f"the erasure replicates to {readers}; each erases its copy, hosts "
                     "offline now erase it when they reconnect")
    if action == "delete":
        here = ("hidden from search and recall here at once (a tombstone); the text stays in "
                "the store until gc, and search can still show it with 'deleted' included")
    else:
        here = ("erased from this host's store at once, with its deletion record; it cannot be "
                "restored or re-imported")
    return {"id": obs.observation_id, "subject": obs.subject, "scope": scope, "action": action,
            "already_deleted": view.tombstone is not None, "here": here,
            "elsewhere": elsewhere, "reversible": False}
