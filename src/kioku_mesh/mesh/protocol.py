"""Our own sync protocol keys (beside the reference's `mem/**` and `msg/**`).

kioku/node/{role}/{pc_id}                 liveliness token: this node is online
kioku/sync/{pc_id}/mesh/scopes            the scopes this node holds or reads (JSON)
kioku/sync/{pc_id}/{scope}/digest?prefix=P   digest children of prefix P (JSON)
kioku/sync/{pc_id}/{scope}/ids?prefix=P      ids with prefix P and their states (JSON)
kioku/sync/{pc_id}/{scope}/items             payload: JSON list of ids -> records (JSON)

{scope} is `mesh`, `user/<id>` or `team/<id>`, so the hub's access control
can allow each scope's sync keys only to those who may read that scope.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.models import SLUG_RE
from ..store.db import Store
from ..store.replication import digest_buckets, export_items, ids_with_prefix, scopes_present
from .digest import children

NODE_PREFIX = "kioku/node"
SYNC_PREFIX = "kioku/sync"
MAX_ITEMS_PER_QUERY = 500


def liveliness_key(role: str, pc_id: str) -> str:
    return f"{NODE_PREFIX}/{role}/{pc_id}"


def parse_liveliness(key: str) -> tuple[str, str] | None:
    parts = key.split("/")
    if len(parts) == 4 and parts[:2] == ["kioku", "node"]:
        return parts[2], parts[3]
    return None


def _prefix(params: dict[str, str]) -> str:
    prefix = params.get("prefix", "")
    if len(prefix) > 32 or any(c not in "0123456789abcdef" for c in prefix):
        raise ValueError("bad prefix")
    return prefix


def sync_key(pc_id: str, scope: str, what: str) -> str:
    return f"{SYNC_PREFIX}/{pc_id}/{scope}/{what}"


def parse_sync_key(key: str) -> tuple[str, str]:
    """(scope, what) of a sync query key; ValueError when malformed."""
    parts = key.split("/")
    if len(parts) < 5 or parts[:2] != ["kioku", "sync"]:
        raise ValueError("not a sync key")
    scope = "/".join(parts[3:-1])
    if not valid_scope(scope):
        raise ValueError(f"bad scope {scope!r}")
    return scope, parts[-1]


def valid_scope(scope: str) -> bool:
    if scope == "mesh":
        return True
    kind, _, name = scope.partition("/")
    return kind in ("user", "team") and bool(SLUG_RE.match(name))


def listed_scopes(store: Store, readable: list[str] | None, secured: bool) -> list[str]:
    """What `mesh/scopes` names, to anyone who asks (the asker is not known): a
    spoke, its own scopes (the hub pulls from it); a secured hub, only mesh:
    spokes sync their own scopes without asking, and the full list would tell
    every enrolled peer which users hold private memories and which teams
    exist; an open hub, all (scopes are only a convention there)."""
    if readable is None and secured:
        return ["mesh"]
    held = set(scopes_present(store)) | set(readable or [])
    return sorted(held if readable is None else held & set(readable) | {"mesh"})


def answer(store: Store, scope: str, what: str, params: dict[str, str], payload: bytes | None,
           readable: list[str] | None, secured: bool = False) -> bytes:
    """The reply to one sync query, computed from the store."""
    data: Any
    if what == "scopes":
        data = listed_scopes(store, readable, secured)
    elif what == "digest":
        prefix = _prefix(params)
        data = {k: list(v) for k, v in children(digest_buckets(store, scope), prefix).items()}
    elif what == "ids":
        data = ids_with_prefix(store, scope, _prefix(params))
    elif what == "items":
        ids = json.loads(payload or b"[]")
        if not isinstance(ids, list) or len(ids) > MAX_ITEMS_PER_QUERY:
            raise ValueError("bad id list")
        data = export_items(store, scope, [i for i in ids if isinstance(i, str)])
    else:
        raise ValueError(f"unknown sync query {what!r}")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
