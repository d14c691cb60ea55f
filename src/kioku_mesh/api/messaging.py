"""Agent-to-agent messaging on the host store: send, inbox, ack, status, who.

Acks (docs/adr/0009-message-acks.md): a session message is read when that
session acks it; an agent message is read for every session of the agent as
soon as one of them acks it, and the sender sees which session did.
"""

from __future__ import annotations

import time

from ..core.errors import NotFoundError, ValidationError
from ..core.keyspace import check_chunk
from ..core.messages import DEFAULT_TTL_S, MAX_BODY_BYTES, Ack, Message
from ..core.models import check_text, new_id
from ..core.timeutil import format_ts, now_wire
from ..store import messages as store_msgs
from ..store.messages import StoredMessage
from .memory import Memory


class Messenger:
    def __init__(self, memory: Memory) -> None:
        self.mem = memory

    @property
    def agent_id(self) -> str:
        return self.mem.identity.client_id

    @property
    def session_id(self) -> str:
        return self.mem.identity.session_id

    def scopes(self) -> list[str]:
        """Message scopes this session may read: mesh, its user's, its teams'."""
        return self.mem.settings.readable_scopes()

    def resolve_scope(self, scope: str | None) -> str:
        name = (scope or "mesh").strip().lower()
        if name == "mesh":
            return "mesh"
        ident = self.mem.identity
        if name == "user":
            if not ident.user_id:
                raise ValidationError("user scope needs a user_id (KIOKU_MESH_USER_ID or config)")
            return f"user/{ident.user_id}"
        if name == "team":
            if not ident.team_id:
                raise ValidationError("team scope needs a team_id (KIOKU_MESH_TEAM_ID or config)")
            return f"team/{ident.team_id}"
        raise ValidationError(f"invalid scope {scope!r}: choose mesh, team or user")

    def send(
        self,
        body: str,
        *,
        to_session: str | None = None,
        to_agent: str | None = None,
        scope: str | None = None,
        content_type: str = "text/plain",
        correlation_id: str | None = None,
        requires_ack: bool = False,
        ttl_sec: int | None = None,
    ) -> Message:
        if bool(to_session) == bool(to_agent):
            raise ValidationError("give exactly one recipient: a session id or an agent id")
        kind, rid = ("session", to_session) if to_session else ("agent", to_agent)
        assert rid is not None
        check_chunk(f"recipient {kind} id", rid)
        if not isinstance(body, str) or not body.strip():
            raise ValidationError("message body must not be empty")
        check_text("body", body)
        size = len(body.encode("utf-8"))
        if size > MAX_BODY_BYTES:
            raise ValidationError(f"message body is {size} bytes, over the limit of {MAX_BODY_BYTES}")
        ttl = DEFAULT_TTL_S if ttl_sec is None else ttl_sec
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise ValidationError("ttl must be a positive whole number of seconds")
        if correlation_id is not None:
            check_text("correlation_id", correlation_id)
        now = time.time()
        try:
            expires_at = format_ts(now + ttl)
        except (OverflowError, ValueError, OSError):  # past year 9999 / time_t
            raise ValidationError(f"ttl {ttl} is too large") from None
        msg = Message(
            msg_id=new_id(),
            scope=self.resolve_scope(scope),
            sender_agent_id=self.agent_id,
            sender_session_id=self.session_id,
            recipient_kind=kind,
            recipient_id=rid,
            body=body,
            created_at=format_ts(now),
            expires_at=expires_at,
            ttl_sec=ttl,
            content_type=content_type or "text/plain",
            requires_ack=requires_ack,
            correlation_id=correlation_id or None,
            sender_seq=store_msgs.next_sender_seq(self.mem.store, self.session_id),
        )
        store_msgs.add_message(self.mem.store, msg, "local")
        return msg

    def inbox(self, *, unread_only: bool = True, scope: str | None = None,
              since: float | None = None, limit: int = 50) -> list[StoredMessage]:
        scopes = self.scopes() if scope is None else [self.resolve_scope(scope)]
        return store_msgs.inbox(self.mem.store, self.session_id, self.agent_id,
                                unread_only=unread_only, scopes=scopes, since=since, limit=limit)

    def _resolve(self, text: str) -> StoredMessage:
        prefix = text.strip().lower()
        if len(prefix) < 8 or len(prefix) > 32 or any(c not in "0123456789abcdef" for c in prefix):
            raise ValidationError(f"invalid message id {text!r}: give 8 to 32 hex characters")
        rows = self.mem.store.db.execute(
            "SELECT msg_id FROM messages WHERE msg_id >= ? AND msg_id < ? LIMIT 2",
            (prefix, prefix + "g")).fetchall()
        if len(rows) != 1:
            raise NotFoundError(f"no message with id {text!r}" if not rows
                                else f"message id prefix {text!r} is ambiguous: give more")
        found = store_msgs.get_message(self.mem.store, rows[0][0])
        if found is None:
            raise NotFoundError(f"no message with id {text!r}")
        return found

    def ack(self, msg_id: str) -> Ack:
        stored = self._resolve(msg_id)
        msg = stored.message
        mine = ((msg.recipient_kind == "session" and msg.recipient_id == self.session_id)
                or (msg.recipient_kind == "agent" and msg.recipient_id == self.agent_id))
        if not mine or msg.scope not in self.scopes():
            raise ValidationError(f"message {msg.msg_id[:12]} is not addressed to this session "
                                  f"or its agent ({self.agent_id})")
        if stored.expired:
            raise ValidationError(f"message {msg.msg_id[:12]} has expired")
        ack = Ack(msg.msg_id, self.session_id, now_wire(), recipient_agent_id=self.agent_id)
        store_msgs.add_ack(self.mem.store, ack, "local")
        return ack

    def status(self, msg_id: str | None = None, limit: int = 20) -> list[StoredMessage]:
        """What this session (or its agent) sent, with the acks received."""
        if msg_id:
            found = self._resolve(msg_id)
            if found.message.scope not in self.scopes():  # another user's or team's
                raise NotFoundError(f"no message with id {msg_id!r}")
            return [found]
        return store_msgs.sent_by(self.mem.store, self.session_id, self.agent_id, limit)

    def queued_note(self) -> str:
        """What "queued" (not yet handed to the mesh) means on this host right now."""
        from ..mesh.status import read_status

        node = read_status(self.mem.settings.state_dir)
        if node and node["running"]:
            return "queued here; the running node sends it shortly"
        if self.mem.settings.mode == "local":
            return ("kept on this host (local mode: agents here see it; to reach other hosts "
                    "set up the mesh, see `kioku-mesh init --help`)")
        return "queued here: the mesh node is not running (start it: kioku-mesh node run)"

    def who(self) -> list[dict[str, object]]:
        """Sessions online: those running here, then those the node sees elsewhere."""
        from ..mesh.status import read_status

        here = [{**s, "host": "local"} for s in store_msgs.live_sessions(self.mem.store)]
        node = read_status(self.mem.settings.state_dir)
        seen = {s["session_id"] for s in here}
        remote = [{**p, "host": "mesh"} for p in (node or {}).get("presence") or []
                  if node and node["running"] and p.get("session_id") not in seen]
        return here + remote

    def purge_expired(self) -> int:
        return store_msgs.purge_expired(self.mem.store)
