"""Our own sync protocol keys (beside the reference's `mem/**` and `msg/**`).

kioku/node/{role}/{pc_id}        liveliness token: this node is online
kioku/sync/{pc_id}/digest?prefix=P   digest children of prefix P (JSON)
kioku/sync/{pc_id}/ids?prefix=P      ids with prefix P and their states (JSON)
kioku/sync/{pc_id}/items             payload: JSON list of ids -> records (JSON)
"""

from __future__ import annotations

import json
from typing import Any

from ..store.db import Store
from ..store.replication import digest_buckets, export_items, ids_with_prefix
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


def answer(store: Store, what: str, params: dict[str, str], payload: bytes | None) -> bytes:
    """The reply to one sync query, computed from the store."""
    if what == "digest":
        prefix = _prefix(params)
        data: Any = {k: list(v) for k, v in children(digest_buckets(store), prefix).items()}
    elif what == "ids":
        data = ids_with_prefix(store, _prefix(params))
    elif what == "items":
        ids = json.loads(payload or b"[]")
        if not isinstance(ids, list) or len(ids) > MAX_ITEMS_PER_QUERY:
            raise ValueError("bad id list")
        data = export_items(store, [i for i in ids if isinstance(i, str)])
    else:
        raise ValueError(f"unknown sync query {what!r}")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
