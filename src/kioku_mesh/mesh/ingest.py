"""Validation of everything a peer sends, before it touches the store.

A sample is classified into an action (store an observation, store a
tombstone, purge an id) or rejected with a reason; rejects are counted by
reason. Nothing partial is ever written: the writer applies whole actions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..core.errors import ValidationError
from ..core.keyspace import is_valid_chunk, parse_key
from ..core.messages import Ack, Message, msg_key_scope, valid_msg_scope
from ..core.models import SLUG_RE, Observation, Tombstone, is_valid_id

MAX_SAMPLE_BYTES = 1024 * 1024
# A \uD800-\uDFFF escape: valid JSON, but a lone one cannot be stored as UTF-8.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class Rejected(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class Action:
    kind: str  # "obs", "tomb", "purge", "msg" or "ack"
    id: str
    observation: Observation | None = None
    tombstone: Tombstone | None = None
    key: str | None = None
    message: Message | None = None
    ack: Ack | None = None


def _decode(payload: bytes) -> object:
    if len(payload) > MAX_SAMPLE_BYTES:
        raise Rejected("oversized", f"{len(payload)} bytes")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Rejected("bad_json") from None
    if _SURROGATE_ESCAPE.search(payload):  # rare: only then pay for the full check
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise Rejected("bad_json", "lone surrogate escape") from None
    return data


def classify_delete(key: str) -> Action:
    """A DELETE on an exact obs/tomb key, or a wildcard one ending in an id,
    means: purge that id."""
    if "*" in key:
        leaf = key.rsplit("/", 1)[-1]
        if key.startswith("mem/") and is_valid_id(leaf) and ("/obs/" in key or "/tomb/" in key):
            return Action("purge", leaf, key=key)
        raise Rejected("bad_key", key[:120])
    try:
        parsed = parse_key(key)
    except ValidationError:
        raise Rejected("bad_key", key[:120]) from None
    return Action("purge", parsed.observation_id, key=key)


def wildcard_scope(key: str | None) -> str | None:
    """The one scope a wildcard DELETE stays inside (`mem/mesh/**/ID` -> mesh,
    `mem/user/bob/**/ID` -> user/bob); None when it may span scopes (`mem/**/obs/**/ID`)."""
    parts = (key or "").split("/")
    if len(parts) < 3 or parts[0] != "mem":
        return None
    if parts[1] in ("mesh", "obs", "tomb"):
        return "mesh"
    if parts[1] in ("user", "team") and SLUG_RE.match(parts[2]):
        return f"{parts[1]}/{parts[2]}"
    return None


def classify_put(key: str, payload: bytes) -> Action:
    try:
        parsed = parse_key(key)
    except ValidationError:
        raise Rejected("bad_key", key[:120]) from None
    data = _decode(payload)
    if parsed.kind == "tomb":
        try:
            tomb = Tombstone.from_wire(data)
        except ValidationError as exc:
            raise Rejected("bad_shape", str(exc)) from None
        if tomb.observation_id != parsed.observation_id:
            raise Rejected("id_mismatch", key[:120])
        return Action("tomb", tomb.observation_id, tombstone=tomb, key=key)
    try:
        obs = Observation.from_wire(data)
    except ValidationError as exc:
        raise Rejected("bad_shape", str(exc)) from None
    if obs.observation_id != parsed.observation_id:
        raise Rejected("id_mismatch", key[:120])
    check_key_agrees(parsed, obs)
    return Action("obs", obs.observation_id, observation=obs, key=key)


def check_key_agrees(parsed: object, obs: Observation) -> None:
    """The key's tier, scope and identity segments must be the payload's own:
    otherwise a peer could file a memory under someone else's scope."""
    tier = obs.raw_visibility if obs.raw_visibility is not None else obs.visibility
    if parsed.tier != tier or parsed.scope_id != obs.scope_id:
        raise Rejected("scope_mismatch", f"key tier {parsed.tier!r} vs body {tier!r}")
    for name in ("agent_family", "client_id", "pc_id", "session_id"):
        if getattr(parsed, name) != getattr(obs, name):
            raise Rejected("identity_mismatch", name)


def classify(key: str, is_delete: bool, payload: bytes) -> Action:
    if key.startswith("msg/"):
        if is_delete:
            raise Rejected("bad_key", "messages are not deleted by key")
        return classify_msg(key, payload)
    return classify_delete(key) if is_delete else classify_put(key, payload)


def classify_msg(key: str, payload: bytes) -> Action:
    """An inbox put (a message) or an ack put; the body must agree with its key."""
    found = msg_key_scope(key)
    if found is None:
        raise Rejected("bad_key", key[:120])
    scope, rest = found
    if not valid_msg_scope(scope) or not all(is_valid_chunk(p) for p in rest):
        raise Rejected("bad_key", key[:120])
    data = _decode(payload)
    try:
        if len(rest) == 4 and rest[0] == "inbox":
            msg = Message.from_wire(data)
            if (msg.msg_id, msg.scope, msg.recipient_kind, msg.recipient_id) != (
                    rest[3], scope, rest[1], rest[2]):
                raise Rejected("id_mismatch", key[:120])
            return Action("msg", msg.msg_id, key=key, message=msg)
        if len(rest) == 3 and rest[0] == "ack":
            ack = Ack.from_wire(data)
            if (ack.msg_id, ack.recipient_session_id) != (rest[1], rest[2]):
                raise Rejected("id_mismatch", key[:120])
            return Action("ack", ack.msg_id, key=key, ack=ack)
    except ValidationError as exc:
        raise Rejected("bad_shape", str(exc)) from None
    raise Rejected("bad_key", key[:120])
