"""Replicating project renames (core.projects) between nodes.

Renames are few and small, so they need no digest: a node publishes the
renames made on its host (`kioku/projects/{rename_id}`), applies the ones it
hears, answers queries with all it holds, and asks its peers for theirs on
every sync round (catch-up after any outage). Applying is idempotent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import zenoh

from ..core.errors import ValidationError
from ..core.projects import KEY_PREFIX, ProjectRename
from ..store.db import Store
from ..store.projects import all_renames, apply_renames, mark_published, unpublished

KEYS = f"{KEY_PREFIX}/**"
QUERY_TIMEOUT_S = 5.0


def _parse(key: str, payload: bytes) -> ProjectRename:
    rename = ProjectRename.from_wire(json.loads(payload))
    if key != rename.key:
        raise ValidationError(f"key {key!r} does not name rename {rename.rename_id}")
    return rename


def declare(session: zenoh.Session, store: Store, lock: threading.Lock,
            count: Callable[[str], None]) -> list[Any]:
    """Subscriber (live renames from peers) and queryable (all renames held here)."""

    def on_put(sample: zenoh.Sample) -> None:
        try:
            rename = _parse(str(sample.key_expr), sample.payload.to_bytes())
        except (ValueError, ValidationError):
            count("rejected.project_rename")
            return
        with lock:
            apply_renames(store, [rename], "peer")

    def on_query(query: zenoh.Query) -> None:
        with lock:
            renames = all_renames(store)
        for rename in renames:
            query.reply(rename.key, rename.to_json().encode())

    return [
        session.declare_subscriber(KEYS, on_put, allowed_origin=zenoh.Locality.REMOTE),
        session.declare_queryable(KEYS, on_query, complete=True,
                                  allowed_origin=zenoh.Locality.REMOTE),
    ]


def publish_pending(session: zenoh.Session, store: Store) -> int:
    """Put the renames made on this host that no peer has been told of yet."""
    pending = unpublished(store)
    for rename in pending:
        session.put(rename.key, rename.to_json().encode(),
                    congestion_control=zenoh.CongestionControl.BLOCK)
    if pending:
        mark_published(store, [r.rename_id for r in pending])
    return len(pending)


def pull(session: zenoh.Session, store: Store, count: Callable[[str], None]) -> int:
    """Ask every reachable node for its renames; store the ones not held yet."""
    got = []
    for reply in session.get(KEYS, timeout=QUERY_TIMEOUT_S):
        if reply.ok is None:
            continue
        try:
            got.append(_parse(str(reply.ok.key_expr), reply.ok.payload.to_bytes()))
        except (ValueError, ValidationError):
            count("rejected.project_rename")
    return apply_renames(store, got, "peer") if got else 0
