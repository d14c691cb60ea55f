"""Answering `mem/**` queries like a Zenoh storage, for reference peers.

A reference peer backfills with get("mem/**/obs/**") and get("mem/**/tomb/**")
and treats every local row missing from the replies as shadowed, so the
answer must be complete: every observation and tombstone that matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..core.keyspace import key_for
from ..core.models import is_valid_id
from ..store.db import Store, row_to_observation
from ..store.replication import observation_wire, tombstone_wire


def matching_records(
    store: Store, selector: str, intersects: Callable[[str], bool]
) -> Iterator[tuple[str, str]]:
    """(key, JSON) of every stored record whose key intersects the selector."""
    if selector.startswith("msg/"):
        yield from _matching_messages(store, intersects)
        return
    leaf = selector.rsplit("/", 1)[-1]
    if is_valid_id(leaf):  # per-id form: look it up, do not scan
        for record in (observation_wire(store, leaf), tombstone_wire(store, leaf)):
            if record and intersects(record[0]):
                yield record
        return
    wants_obs = "obs" in selector or "*" in selector
    wants_tomb = "tomb" in selector or "*" in selector
    if wants_obs:
        for row in store.db.execute("SELECT * FROM observations ORDER BY seq").fetchall():
            obs = row_to_observation(row)
            key = key_for(obs)
            if intersects(key):
                yield key, obs.to_json()
    if wants_tomb:
        for (oid,) in store.db.execute("SELECT id FROM tombstones").fetchall():
            record = tombstone_wire(store, oid)
            if record and intersects(record[0]):
                yield record


def _matching_messages(store: Store, intersects: Callable[[str], bool]) -> Iterator[tuple[str, str]]:
    """Unexpired messages and their acks (reference agents poll their inbox with gets)."""
    import time

    from ..store.messages import ack_wire, message_wire

    rows = store.db.execute(
        "SELECT msg_id FROM messages WHERE expires_ts IS NULL OR expires_ts > ?", (time.time(),)
    ).fetchall()
    for (msg_id,) in rows:
        record = message_wire(store, msg_id)
        if record and intersects(record[0]):
            yield record
        for (session,) in store.db.execute(
                "SELECT recipient_session_id FROM acks WHERE msg_id = ?", (msg_id,)).fetchall():
            ack = ack_wire(store, msg_id, session)
            if ack and intersects(ack[0]):
                yield ack
