"""Zenoh key shapes for memories, in the four tiers of the wire format.

mesh:   mem/mesh/{kind}/{family}/{client}/{pc}/{session}/{id}
user:   mem/user/{user_id}/{kind}/{family}/{client}/{pc}/{session}/{id}
team:   mem/team/{team_id}/{kind}/{family}/{client}/{pc}/{session}/{id}
legacy: mem/{kind}/{family}/{client}/{pc}/{session}/{id}   (read only)
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ValidationError
from .models import SLUG_RE, is_valid_id, scope_of

KINDS = ("obs", "tomb")
_FORBIDDEN = set("/*$#?")
OBS_SELECTOR = "mem/**/obs/**"
TOMB_SELECTOR = "mem/**/tomb/**"


def is_valid_chunk(segment: object) -> bool:
    """True when `segment` can stand as one chunk of a Zenoh key expression."""
    return (
        isinstance(segment, str)
        and segment != ""
        and not (_FORBIDDEN & set(segment))
        and segment.strip() == segment
        and all(ord(c) >= 0x20 for c in segment)
    )


def check_chunk(name: str, segment: str) -> None:
    if not is_valid_chunk(segment):
        raise ValidationError(
            f"{name} {segment!r} cannot be a key segment: it must be non-empty, "
            "without spaces at the ends, control characters or any of / * $ # ?"
        )


@dataclass(frozen=True)
class MemoryKey:
    tier: str  # "mesh", "user", "team" or "" for legacy
    scope_id: str
    kind: str
    agent_family: str
    client_id: str
    pc_id: str
    session_id: str
    observation_id: str

    def __str__(self) -> str:
        return build_key(
            self.kind, self.tier, self.scope_id, self.agent_family, self.client_id,
            self.pc_id, self.session_id, self.observation_id,
        )


def build_key(
    kind: str, tier: str, scope_id: str, agent_family: str, client_id: str,
    pc_id: str, session_id: str, observation_id: str,
) -> str:
    if kind not in KINDS:
        raise ValidationError(f"key kind must be obs or tomb, got {kind!r}")
    if not is_valid_id(observation_id):
        raise ValidationError(f"observation_id {observation_id!r} is not 32 lowercase hex")
    for name, seg in (("agent_family", agent_family), ("client_id", client_id),
                      ("pc_id", pc_id), ("session_id", session_id)):
        check_chunk(name, seg)
    tail = f"{kind}/{agent_family}/{client_id}/{pc_id}/{session_id}/{observation_id}"
    if tier == "mesh":
        return f"mem/mesh/{tail}"
    if tier in ("user", "team"):
        if not SLUG_RE.match(scope_id):
            raise ValidationError(f"{tier} scope id {scope_id!r} is not a valid slug")
        return f"mem/{tier}/{scope_id}/{tail}"
    if tier == "":
        return f"mem/{tail}"
    raise ValidationError(f"unknown tier {tier!r}")


def parse_key(key: str) -> MemoryKey:
    """Split a memory key into its parts; ValidationError when it is not one."""
    parts = key.split("/")
    if len(parts) < 7 or parts[0] != "mem":
        raise ValidationError(f"not a memory key: {key!r}")
    if parts[1] == "mesh" and len(parts) == 8:
        tier, scope_id, rest = "mesh", "", parts[2:]
    elif parts[1] in ("user", "team") and len(parts) == 9:
        tier, scope_id, rest = parts[1], parts[2], parts[3:]
        if not SLUG_RE.match(scope_id):
            raise ValidationError(f"{tier} scope id {scope_id!r} is not a valid slug")
    elif parts[1] in KINDS and len(parts) == 7:
        tier, scope_id, rest = "", "", parts[1:]
    else:
        raise ValidationError(f"not a memory key: {key!r}")
    kind, family, client, pc, session, oid = rest
    if kind not in KINDS:
        raise ValidationError(f"not a memory key (kind {kind!r}): {key!r}")
    if not all(is_valid_chunk(seg) for seg in rest):
        raise ValidationError(f"memory key has an invalid segment: {key!r}")
    if not is_valid_id(oid):
        raise ValidationError(f"memory key leaf {oid!r} is not 32 lowercase hex")
    return MemoryKey(tier, scope_id, kind, family, client, pc, session, oid)


def key_for(obs: object, kind: str = "obs") -> str:
    """The canonical key of an observation (or its tombstone), from its fields."""
    return build_key(
        kind,
        obs.visibility,
        obs.scope_id,
        obs.agent_family,
        obs.client_id,
        obs.pc_id,
        obs.session_id,
        obs.observation_id,
    )


def key_scope(key: str | None) -> str | None:
    """The sync scope (mesh, user/<id>, team/<id>) a memory key belongs to, or
    None when it is not a single valid memory key."""
    if not key:
        return None
    try:
        parsed = parse_key(key)
    except ValidationError:
        return None
    return scope_of(parsed.tier, parsed.scope_id)
