"""Agent-to-agent messages and acks, in the wire format (wire-format.md).

A message is one put on the recipient's inbox key; an ack is one put on the
ack key. As with memories: tolerant reading, strict writing, unknown fields
kept and written back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ValidationError
from .models import SLUG_RE, is_valid_id
from .timeutil import parse_ts

DEFAULT_TTL_S = 7 * 86400
MAX_BODY_BYTES = 64 * 1024
RECIPIENT_KINDS = ("session", "agent")


def msg_key_scope(key: str) -> tuple[str, list[str]] | None:
    """(scope, the segments after it) of a `msg/...` key, or None."""
    parts = key.split("/")
    if len(parts) > 1 and parts[0] == "msg" and parts[1] == "mesh":
        return "mesh", parts[2:]
    if len(parts) > 2 and parts[0] == "msg" and parts[1] in ("user", "team"):
        return f"{parts[1]}/{parts[2]}", parts[3:]
    return None


def msg_scope(key: str) -> str | None:
    found = msg_key_scope(key)
    return found[0] if found else None


def valid_msg_scope(scope: str) -> bool:
    if scope == "mesh":
        return True
    kind, _, name = scope.partition("/")
    return kind in ("user", "team") and bool(SLUG_RE.match(name))


@dataclass
class Message:
    msg_id: str
    scope: str  # mesh, team/<id>, user/<id>
    sender_agent_id: str
    sender_session_id: str
    recipient_kind: str  # session or agent
    recipient_id: str
    body: str
    created_at: str
    expires_at: str = ""
    ttl_sec: int | None = None
    content_type: str = "text/plain"
    requires_ack: bool = False
    correlation_id: str | None = None
    sender_seq: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    def expires_ts(self) -> float | None:
        """Expiry: expires_at, else created_at + ttl_sec, else never."""
        if self.expires_at:
            return parse_ts(self.expires_at)
        created = parse_ts(self.created_at)
        if self.ttl_sec and created is not None:
            return created + self.ttl_sec
        return None

    def inbox_key(self) -> str:
        return (f"msg/{self.scope}/inbox/{self.recipient_kind}/{self.recipient_id}/"
                f"{self.msg_id}")

    def to_wire(self) -> dict[str, Any]:
        recipient: dict[str, str] = {"kind": self.recipient_kind}
        recipient["session_id" if self.recipient_kind == "session" else "agent_id"] = \
            self.recipient_id
        out: dict[str, Any] = {
            "msg_id": self.msg_id,
            "sender_id": self.sender_agent_id,
            "scope": self.scope,
            "payload": {},
            "created_at": self.created_at,
            "expires_at": self.expires_at or None,
            "ttl_sec": self.ttl_sec,
            "sender_seq": self.sender_seq,
            "schema_version": "1.0",
            "kind": "direct",
            "sender": {"agent_id": self.sender_agent_id, "session_id": self.sender_session_id},
            "recipient": recipient,
            "body": self.body,
            "content_type": self.content_type,
            "requires_ack": self.requires_ack,
            "delivery_adapters": [],
            "correlation_id": self.correlation_id,
        }
        for key, value in self.extras.items():
            out.setdefault(key, value)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_wire(cls, data: object) -> Message:
        if not isinstance(data, dict):
            raise ValidationError("message is not a JSON object")
        msg_id = data.get("msg_id")
        if not is_valid_id(msg_id):
            raise ValidationError(f"msg_id {msg_id!r} is not 32 lowercase hex")
        sender = data.get("sender") if isinstance(data.get("sender"), dict) else {}
        recipient = data.get("recipient") if isinstance(data.get("recipient"), dict) else {}
        kind = recipient.get("kind")
        if kind not in RECIPIENT_KINDS:
            raise ValidationError("message recipient kind must be session or agent")
        rid = recipient.get("session_id" if kind == "session" else "agent_id") or recipient.get("id")
        body = data.get("body")
        if isinstance(body, dict):
            body = body.get("text", "")
        scope = data.get("scope")
        if not isinstance(rid, str) or not rid or not isinstance(scope, str):
            raise ValidationError("message needs a recipient id and a scope")
        known = {"msg_id", "sender_id", "scope", "payload", "created_at", "expires_at", "ttl_sec",
                 "sender_seq", "schema_version", "kind", "sender", "recipient", "body",
                 "content_type", "requires_ack", "delivery_adapters", "correlation_id"}
        ttl = data.get("ttl_sec")
        seq = data.get("sender_seq")
        return cls(
            msg_id=msg_id,
            scope=scope,
            sender_agent_id=str(sender.get("agent_id") or data.get("sender_id") or ""),
            sender_session_id=str(sender.get("session_id") or ""),
            recipient_kind=kind,
            recipient_id=rid,
            body=body if isinstance(body, str) else json.dumps(body, ensure_ascii=False),
            created_at=str(data.get("created_at") or ""),
            expires_at=str(data.get("expires_at") or ""),
            ttl_sec=int(ttl) if isinstance(ttl, int | float) and not isinstance(ttl, bool) else None,
            content_type=str(data.get("content_type") or "text/plain"),
            requires_ack=bool(data.get("requires_ack")),
            correlation_id=str(data["correlation_id"]) if data.get("correlation_id") else None,
            sender_seq=int(seq) if isinstance(seq, int) and not isinstance(seq, bool) else 0,
            extras={k: v for k, v in data.items() if k not in known},
        )


@dataclass
class Ack:
    msg_id: str
    recipient_session_id: str
    acked_at: str
    status: str = "acknowledged"
    recipient_agent_id: str = ""  # ours, not the reference's: who acked for an agent inbox

    def ack_key(self, scope: str) -> str:
        return f"msg/{scope}/ack/{self.msg_id}/{self.recipient_session_id}"

    def to_wire(self) -> dict[str, Any]:
        return {"msg_id": self.msg_id, "recipient_session_id": self.recipient_session_id,
                "status": self.status, "acked_at": self.acked_at,
                "recipient_agent_id": self.recipient_agent_id}

    @classmethod
    def from_wire(cls, data: object) -> Ack:
        if not isinstance(data, dict) or not is_valid_id(data.get("msg_id")):
            raise ValidationError("ack needs a 32-hex msg_id")
        sid = data.get("recipient_session_id")
        if not isinstance(sid, str) or not sid:
            raise ValidationError("ack needs a recipient_session_id")
        return cls(data["msg_id"], sid, str(data.get("acked_at") or ""),
                   str(data.get("status") or "acknowledged"),
                   str(data.get("recipient_agent_id") or ""))
