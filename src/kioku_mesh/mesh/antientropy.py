"""The pulling side of anti-entropy: one round against one peer, scope by scope.

Mixed into Node, whose session, counters and apply path it uses. The serving
side is mesh.protocol; the planning (digest walk, what to fetch) mesh.digest.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import zenoh

from ..core.keyspace import key_scope
from ..core.messages import msg_scope
from ..store.db import Store
from ..store.replication import PeerItems, digest_buckets, ids_with_prefix
from . import protocol
from .digest import differing_prefixes, needed
from .ingest import Action, Rejected, classify

QUERY_TIMEOUT_S = 10.0


class AntiEntropyPuller:
    session: zenoh.Session | None
    stop_event: threading.Event
    readable: list[str] | None

    def _count(self, name: str, n: int = 1) -> None: ...
    def _reject(self, exc: Rejected, key: str) -> None: ...
    def _apply(self, store: Store, items: PeerItems) -> int: ...
    @staticmethod
    def _add(items: PeerItems, action: Action) -> None: ...

    def _query(self, pc_id: str, scope: str, what: str, params: str = "",
               payload: bytes | None = None) -> tuple[Any, int]:
        assert self.session is not None
        selector = protocol.sync_key(pc_id, scope, what) + (f"?{params}" if params else "")
        for reply in self.session.get(selector, payload=payload, timeout=QUERY_TIMEOUT_S):
            if reply.ok is not None:
                raw = reply.ok.payload.to_bytes()
                return json.loads(raw), len(raw) + len(selector) + len(payload or b"")
            raise ValueError(f"peer refused {what}: {reply.err.payload.to_string()}")
        raise TimeoutError(f"no answer to {what} in {scope} from {pc_id[:8]}")

    def pull_from(self, store: Store, pc_id: str) -> tuple[int, int, int]:
        """One anti-entropy round, scope by scope: fetch what the peer has and
        we lack. Returns (records fetched, ids purged, bytes exchanged)."""
        exchanged = 0
        if self.readable is None:  # a hub: every scope the peer names
            remote_scopes, exchanged = self._query(pc_id, "mesh", "scopes")
            scopes = [s for s in remote_scopes if isinstance(s, str) and protocol.valid_scope(s)]
        else:  # a spoke: its own scopes, without asking which exist (docs/security.md)
            scopes = list(self.readable)
        fetched = purged = 0
        for scope in scopes:
            if self.stop_event.is_set():  # a big catch-up must not delay exit
                break
            try:
                f, p, size = self._pull_scope(store, pc_id, scope)
            except TimeoutError:
                if scope == "mesh":  # every peer answers mesh: the peer is gone
                    raise
                # Unanswered: the hub's access control does not let this scope
                # through between us (yet); the other scopes still sync.
                self._count("sync_scope_unanswered")
                continue
            fetched, purged, exchanged = fetched + f, purged + p, exchanged + size
        return fetched, purged, exchanged

    def _pull_scope(self, store: Store, pc_id: str, scope: str) -> tuple[int, int, int]:
        exchanged = 0

        def remote_children(prefix: str) -> dict[str, tuple[int, int]]:
            nonlocal exchanged
            data, size = self._query(pc_id, scope, "digest", f"prefix={prefix}")
            exchanged += size
            return {k: (int(v[0]), int(v[1])) for k, v in data.items()}

        prefixes = differing_prefixes(digest_buckets(store, scope), remote_children)
        fetch: list[str] = []
        purge: list[str] = []
        for prefix in prefixes:
            if self.stop_event.is_set():
                break
            remote_ids, size = self._query(pc_id, scope, "ids", f"prefix={prefix}")
            exchanged += size
            f, p = needed(remote_ids, ids_with_prefix(store, scope, prefix))
            fetch += f
            purge += p
        fetched = 0
        for start in range(0, len(fetch), protocol.MAX_ITEMS_PER_QUERY):
            if self.stop_event.is_set():
                break
            chunk = fetch[start:start + protocol.MAX_ITEMS_PER_QUERY]
            records, size = self._query(pc_id, scope, "items", payload=json.dumps(chunk).encode())
            exchanged += size
            items = PeerItems()
            for record in records:
                self._add_record(items, record, scope)
            fetched += self._apply(store, items)
        if purge:
            self._apply(store, PeerItems(purges=purge, purge_scopes=dict.fromkeys(purge, scope)))
        return fetched, len(purge), exchanged

    def _add_record(self, items: PeerItems, record: dict[str, Any], scope: str) -> None:
        """Validate one record a peer sent for `scope`: it must belong there, so
        a peer cannot slip another scope's memory into a scope it may write."""
        if not isinstance(record, dict):
            self._count("rejected.bad_shape")
            return
        if record.get("purged") and isinstance(record.get("id"), str):
            items.purges.append(record["id"])
            items.purge_scopes[record["id"]] = scope
            return
        for kind in ("obs", "tomb", "msg", "ack"):
            key, body = record.get(f"{kind}_key"), record.get(kind)
            if not (isinstance(key, str) and isinstance(body, str)):
                continue
            try:
                action = classify(key, False, body.encode())
                held = msg_scope(key) if kind in ("msg", "ack") else key_scope(key)
                if held != scope:
                    raise Rejected("scope_mismatch", f"{key[:80]} sent for {scope}")
                self._add(items, action)
            except Rejected as exc:
                self._reject(exc, key)

