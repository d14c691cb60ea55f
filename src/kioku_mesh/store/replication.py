"""What the mesh node needs from the store: the change feed, the digest,
id listings and item export for anti-entropy, and applying peers' items.

Everything here runs on the host's one SQLite file; nothing is cached in a
second place that could drift.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.keyspace import key_for, key_scope
from ..core.messages import Ack, Message, msg_scope
from ..core.models import Observation, Tombstone, scope_of
from .db import Store, held_scope, is_purged, row_to_observation
from .schema import obs_scope_sql

PUBLISHED_SEQ = "published_seq"


@dataclass
class Change:
    seq: int
    kind: str  # obs, tomb, purge
    id: str
    origin: str
    key: str | None


@dataclass
class PeerItems:
    """Validated items from a peer, applied in one transaction."""

    observations: list[Observation] = field(default_factory=list)
    tombstones: list[tuple[Tombstone, str | None]] = field(default_factory=list)  # (tomb, key)
    purges: list[str] = field(default_factory=list)
    purge_scopes: dict[str, str] = field(default_factory=dict)  # id -> scope, when known
    messages: list[Message] = field(default_factory=list)
    acks: list[tuple[Ack, str | None]] = field(default_factory=list)  # (ack, scope from key)

    def __len__(self) -> int:
        return (len(self.observations) + len(self.tombstones) + len(self.purges)
                + len(self.messages) + len(self.acks))


# ------------------------------------------------------------------ state


def get_state(store: Store, key: str, default: str | None = None) -> str | None:
    row = store.db.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_state(store: Store, values: dict[str, str]) -> None:
    with store.write() as db:
        db.executemany(
            "INSERT INTO sync_state(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )


# ------------------------------------------------------------ change feed


def pending_changes(store: Store, after: int, limit: int = 1000) -> tuple[list[Change], int]:
    """Changes after `after` that this host must publish (not those received
    from peers), and the last seq looked at, so the caller moves past peers'."""
    rows = store.db.execute(
        "SELECT seq, kind, id, origin, key FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    ).fetchall()
    last = rows[-1][0] if rows else after
    return [Change(*row) for row in rows if row[3] != "peer"], last


def last_change_seq(store: Store) -> int:
    row = store.db.execute("SELECT max(seq) FROM changes").fetchone()
    return int(row[0] or 0)


def backlog(store: Store) -> int:
    after = int(get_state(store, PUBLISHED_SEQ, "0") or 0)
    row = store.db.execute(
        "SELECT count(*) FROM changes WHERE seq > ? AND origin != 'peer'", (after,)
    ).fetchone()
    return int(row[0])


def prune_changes(store: Store, upto: int) -> None:
    with store.write() as db:
        db.execute("DELETE FROM changes WHERE seq <= ?", (upto,))


# ----------------------------------------------------------------- digest


def digest_buckets(store: Store, scope: str) -> dict[str, tuple[int, int]]:
    return {r[0]: (r[1], r[2]) for r in store.db.execute(
        "SELECT bucket, h, n FROM digest WHERE scope = ?", (scope,))}


def scopes_present(store: Store) -> list[str]:
    return [r[0] for r in store.db.execute(
        "SELECT DISTINCT scope FROM digest WHERE n > 0 ORDER BY scope")]


def ids_with_prefix(store: Store, scope: str, prefix: str) -> dict[str, str]:
    """id -> its states in this scope: 'o' observation, 't' tombstone, 'p' purged."""
    hi = prefix + "g"
    out: dict[str, str] = {}
    queries = (
        (f"SELECT id FROM observations o WHERE id >= ? AND id < ? AND {obs_scope_sql('o')} = ?", "o"),
        ("SELECT id FROM tombstones WHERE id >= ? AND id < ? AND scope = ?", "t"),
        ("SELECT id FROM purged WHERE id >= ? AND id < ? AND scope = ?", "p"),
        ("SELECT msg_id FROM messages WHERE msg_id >= ? AND msg_id < ? AND scope = ?", "m"),
        ("SELECT msg_id || ':' || recipient_session_id FROM acks "
         "WHERE msg_id >= ? AND msg_id < ? AND scope = ?", "a"),
    )
    for query, tag in queries:
        for (oid,) in store.db.execute(query, (prefix, hi, scope)):
            out[oid] = out.get(oid, "") + tag
    return out


# ------------------------------------------------------------ export/apply


def observation_wire(store: Store, oid: str, scope: str | None = None
                     ) -> tuple[str, str] | None:
    """(canonical key, JSON) of one observation (only if in `scope`, when given), or None."""
    row = store.get_row(oid)
    if row is None or (scope is not None and scope_of(row["visibility"], row["scope_id"]) != scope):
        return None
    obs = row_to_observation(row)
    return key_for(obs), obs.to_json()


def tombstone_wire(store: Store, oid: str, scope: str | None = None) -> tuple[str, str] | None:
    """(key, JSON) of one tombstone (in `scope`, else the memory's own scope's
    if there are several): the key mirrors its observation's."""
    row = store.db.execute(
        "SELECT t.id, t.reason, t.deleted_at, t.extras, t.key FROM tombstones t "
        "WHERE t.id = :id AND (:scope IS NULL OR t.scope = :scope) "
        "ORDER BY t.scope = :held DESC LIMIT 1",
        {"id": oid, "scope": scope, "held": held_scope(store.db, oid)},
    ).fetchone()
    if row is None:
        return None
    tomb = Tombstone(row[0], row[1], row[2], json.loads(row[3]) if row[3] else {})
    obs_row = store.get_row(oid)
    obs = row_to_observation(obs_row) if obs_row is not None else None
    own = obs is not None and (scope is None or scope_of(obs.visibility, obs.scope_id) == scope)
    key = key_for(obs, "tomb") if own else row[4]
    return (key, tomb.to_json()) if key else None


def export_items(store: Store, scope: str, ids: Iterable[str]) -> list[dict[str, Any]]:
    """Full records of these ids in `scope`, for a peer that lacks them; ids
    in other scopes are left out (the asker may not be entitled to them)."""
    out = []
    for oid in ids:
        if ":" in oid or store.db.execute(
                "SELECT 1 FROM messages WHERE msg_id = ? AND scope = ?", (oid, scope)).fetchone():
            item = _message_item(store, scope, oid)
            if item:
                out.append(item)
            continue
        if not ids_with_prefix(store, scope, oid):
            continue
        if is_purged(store.db, oid, scope):
            out.append({"id": oid, "purged": True})
            continue
        item: dict[str, Any] = {"id": oid}
        obs = observation_wire(store, oid, scope)
        if obs:
            item["obs_key"], item["obs"] = obs
        tomb = tombstone_wire(store, oid, scope)
        if tomb:
            item["tomb_key"], item["tomb"] = tomb
        if len(item) > 1:
            out.append(item)
    return out


def _message_item(store: Store, scope: str, ident: str) -> dict[str, Any] | None:
    from .messages import ack_wire, message_wire

    if ":" in ident:
        msg_id, _, session = ident.partition(":")
        record = ack_wire(store, msg_id, session)
        if record and msg_scope(record[0]) == scope:
            return {"id": ident, "ack_key": record[0], "ack": record[1]}
        return None
    record = message_wire(store, ident)
    return {"id": ident, "msg_key": record[0], "msg": record[1]} if record else None


def _held_elsewhere(db: Any, oid: str, scope: str | None) -> bool:
    """True when `oid` is held here in another scope than `scope` (a delete sent
    on, say, a mesh key must not hide or purge a user or team memory)."""
    held = held_scope(db, oid) if scope is not None else None
    return held is not None and held != scope


def apply_peer_items(store: Store, items: PeerItems) -> dict[str, int]:
    """Store what peers sent, in one transaction; purged ids stay purged.
    Tombstones and purges naming an id held in another scope than their key's
    are refused and counted as `scope_mismatch` (key present only then)."""
    counts = {"obs": 0, "tomb": 0, "purge": 0}
    if items.observations:
        counts["obs"] = store.add_observations(items.observations, origin="peer")
    now = time.time()
    refused = 0
    with store.write() as db:
        for tomb, key in items.tombstones:
            if _held_elsewhere(db, tomb.observation_id, key_scope(key)):
                refused += 1
                continue
            counts["tomb"] += store.insert_tombstone(db, tomb, "peer", now, key, key_scope(key))
        for oid in items.purges:
            if _held_elsewhere(db, oid, items.purge_scopes.get(oid)):
                refused += 1
                continue
            if is_purged(db, oid, held_scope(db, oid) or items.purge_scopes.get(oid) or "mesh"):
                continue
            counts["purge"] += 1
            store._purge_one(db, oid, "purged by a peer", now, "peer", items.purge_scopes.get(oid))
    if items.messages or items.acks:
        from .messages import add_ack, add_message

        counts["msg"] = sum(add_message(store, m, "peer") for m in items.messages)
        counts["ack"] = sum(add_ack(store, a, "peer", scope) for a, scope in items.acks)
    if refused:
        counts["scope_mismatch"] = refused
    return counts
