"""Messages, acks and local sessions in the host store."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from ..core.messages import Ack, Message
from ..core.timeutil import parse_ts, pid_alive
from .db import Store


@dataclass
class StoredMessage:
    message: Message
    acks: list[Ack]
    expired: bool
    # Delivery as this host knows it: "received" (came from a peer), "queued"
    # (written here, the node has not published it yet) or "sent" (published).
    delivery: str = "sent"


def add_message(store: Store, msg: Message, origin: str) -> bool:
    """Store a message once (idempotent on msg_id); an expired one is not stored."""
    expires = msg.expires_ts()
    now = time.time()
    if expires is not None and expires <= now:
        return False
    created = parse_ts(msg.created_at) or now
    with store.write() as db:
        cur = db.execute(
            "INSERT INTO messages(msg_id, scope, recipient_kind, recipient_id, sender_agent_id, "
            "sender_session_id, created_ts, expires_ts, requires_ack, payload, origin, received_ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(msg_id) DO NOTHING",
            (msg.msg_id, msg.scope, msg.recipient_kind, msg.recipient_id, msg.sender_agent_id,
             msg.sender_session_id, created, expires, int(msg.requires_ack), msg.to_json(),
             origin, now),
        )
        return cur.rowcount > 0


def add_ack(store: Store, ack: Ack, origin: str, scope: str | None = None) -> bool:
    """Record an ack (idempotent), in its message's scope. Acks go with their
    message (docs/adr/0009): one whose message is not stored here or has expired
    is not stored, or acks of purged messages would come back from peers that
    still hold them and never go. (An ack that outran its message is fetched
    again by anti-entropy once the message is here.) `scope`, from the ack's
    key, must be the message's (ADR 0013): an ack sent on another scope's key
    would let someone who may not write that scope mark its messages read."""
    with store.write() as db:
        row = db.execute("SELECT scope, expires_ts FROM messages WHERE msg_id = ?",
                         (ack.msg_id,)).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return False
        if scope is not None and scope != row[0]:
            return False
        cur = db.execute(
            "INSERT INTO acks(msg_id, recipient_session_id, recipient_agent_id, status, acked_at, "
            "acked_ts, scope, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(msg_id, recipient_session_id) DO NOTHING",
            (ack.msg_id, ack.recipient_session_id, ack.recipient_agent_id, ack.status,
             ack.acked_at, parse_ts(ack.acked_at) or time.time(), row[0], origin),
        )
        return cur.rowcount > 0


def acks_for(store: Store, msg_id: str) -> list[Ack]:
    return [Ack(r[0], r[1], r[2], r[3], r[4]) for r in store.db.execute(
        "SELECT msg_id, recipient_session_id, acked_at, status, recipient_agent_id FROM acks "
        "WHERE msg_id = ? ORDER BY acked_ts", (msg_id,))]


def _load(store: Store, rows: list) -> list[StoredMessage]:
    now = time.time()
    state = store.db.execute("SELECT value FROM sync_state WHERE key = 'published_seq'").fetchone()
    published = int(state[0]) if state else 0
    return [StoredMessage(Message.from_wire(json.loads(r["payload"])), acks_for(store, r["msg_id"]),
                          r["expires_ts"] is not None and r["expires_ts"] <= now,
                          _delivery(store, r, published)) for r in rows]


def _delivery(store: Store, row: Any, published: int) -> str:
    if row["origin"] == "peer":
        return "received"
    pending = store.db.execute(
        "SELECT 1 FROM changes WHERE kind = 'msg' AND id = ? AND seq > ?",
        (row["msg_id"], published)).fetchone()
    return "queued" if pending else "sent"


def inbox(store: Store, session_id: str, agent_id: str, *, unread_only: bool, scopes: list[str],
          since: float | None = None, limit: int = 50) -> list[StoredMessage]:
    """Messages to this session or to its agent, oldest first; expired ones never.

    Unread: a session message not acked by that session; an agent message not
    acked by any session of the agent (docs/adr/0009)."""
    marks = ",".join("?" * len(scopes))
    sql = (
        "SELECT * FROM messages m WHERE ((recipient_kind = 'session' AND recipient_id = ?) "
        "OR (recipient_kind = 'agent' AND recipient_id = ?)) "
        f"AND scope IN ({marks}) AND (expires_ts IS NULL OR expires_ts > ?) "
    )
    params: list[object] = [session_id, agent_id, *scopes, time.time()]
    if since is not None:
        sql += "AND created_ts >= ? "
        params.append(since)
    if unread_only:
        sql += ("AND NOT EXISTS (SELECT 1 FROM acks a WHERE a.msg_id = m.msg_id AND "
                "(m.recipient_kind = 'agent' OR a.recipient_session_id = ?)) ")
        params.append(session_id)
    sql += "ORDER BY created_ts LIMIT ?"
    params.append(limit)
    return _load(store, store.db.execute(sql, params).fetchall())


def sent_by(store: Store, session_id: str, agent_id: str, limit: int = 50) -> list[StoredMessage]:
    rows = store.db.execute(
        "SELECT * FROM messages WHERE sender_session_id = ? OR sender_agent_id = ? "
        "ORDER BY created_ts DESC LIMIT ?", (session_id, agent_id, limit)).fetchall()
    return _load(store, rows)


def message_wire(store: Store, msg_id: str) -> tuple[str, str] | None:
    """(inbox key, JSON) of a stored message."""
    row = store.db.execute("SELECT payload FROM messages WHERE msg_id = ?", (msg_id,)).fetchone()
    if row is None:
        return None
    msg = Message.from_wire(json.loads(row[0]))
    return msg.inbox_key(), row[0]


def ack_wire(store: Store, msg_id: str, session_id: str) -> tuple[str, str] | None:
    row = store.db.execute(
        "SELECT msg_id, recipient_session_id, acked_at, status, recipient_agent_id, scope "
        "FROM acks WHERE msg_id = ? AND recipient_session_id = ?", (msg_id, session_id)).fetchone()
    if row is None:
        return None
    ack = Ack(row[0], row[1], row[2], row[3], row[4])
    return ack.ack_key(row[5]), json.dumps(ack.to_wire(), ensure_ascii=False)


def get_message(store: Store, msg_id: str) -> StoredMessage | None:
    rows = store.db.execute("SELECT * FROM messages WHERE msg_id = ?", (msg_id,)).fetchall()
    found = _load(store, rows)
    return found[0] if found else None


def next_sender_seq(store: Store, session_id: str) -> int:
    row = store.db.execute(
        "SELECT count(*) FROM messages WHERE sender_session_id = ?", (session_id,)).fetchone()
    return int(row[0]) + 1


def purge_expired(store: Store) -> int:
    """Physically drop expired messages and their acks (every host does the same)."""
    now = time.time()
    with store.write() as db:
        db.execute("DELETE FROM acks WHERE msg_id IN (SELECT msg_id FROM messages "
                   "WHERE expires_ts IS NOT NULL AND expires_ts <= ?)", (now,))
        cur = db.execute("DELETE FROM messages WHERE expires_ts IS NOT NULL AND expires_ts <= ?",
                         (now,))
        return cur.rowcount


# ------------------------------------------------------------- presence


def register_session(store: Store, session_id: str, agent_id: str, agent_family: str) -> None:
    with store.write() as db:
        db.execute("INSERT OR REPLACE INTO sessions(session_id, agent_id, agent_family, pid, "
                   "started_ts) VALUES (?, ?, ?, ?, ?)",
                   (session_id, agent_id, agent_family, os.getpid(), time.time()))


def unregister_session(store: Store, session_id: str) -> None:
    with store.write() as db:
        db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))


def live_sessions(store: Store) -> list[dict[str, object]]:
    """Sessions whose MCP server process is still alive on this host."""
    out = []
    for row in store.db.execute("SELECT * FROM sessions ORDER BY started_ts"):
        if pid_alive(row["pid"]):
            out.append({k: row[k] for k in row.keys()})
    return out
