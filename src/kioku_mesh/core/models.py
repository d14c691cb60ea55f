"""The wire-format domain model: Observation and Tombstone.

Two ways in: `from_wire` is tolerant (peers and imports may send anything and
must never crash us), `validate_new` is strict (what this host writes must be
right). Unknown fields ride along in `extras` and are written back out, and
an unknown memory_type or visibility is clamped for local use while the
original value is what goes back on the wire.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ValidationError

MEMORY_TYPES = ("note", "decision", "bug", "pattern", "config", "summary")
VISIBILITIES = ("mesh", "user", "team")
LEGACY_VISIBILITY = ""
DEFAULT_IMPORTANCE = 2

_ID_RE = re.compile(r"^[0-9a-f]{32}$")
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@:+-]{0,127}$")

STR_FIELDS = (
    "observation_id", "created_at", "content", "subject", "summary", "project",
    "memory_type", "agent_family", "client_id", "pc_id", "session_id",
    "visibility", "scope_id", "expires_at",
)
LIST_FIELDS = ("tags", "source_files", "references", "supersedes")
WIRE_FIELDS = (
    "observation_id", "created_at", "content", "subject", "summary", "project", "tags",
    "memory_type", "importance", "agent_family", "client_id", "pc_id", "session_id",
    "source_files", "references", "supersedes", "visibility", "scope_id", "expires_at",
)


def scope_of(visibility: str, scope_id: str) -> str:
    """The sync scope of a memory: mesh (legacy included), user/<id> or team/<id>."""
    return f"{visibility}/{scope_id}" if visibility in ("user", "team") else "mesh"


def new_id() -> str:
    """A uuid4 as 32 lowercase hex (the uuid module costs ~4 ms of CLI start)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID_RE.match(value))


@dataclass(frozen=True)
class Limits:
    """Size rules for what this host writes; content size is configurable."""

    max_content_bytes: int = 64 * 1024
    max_subject_chars: int = 200
    max_summary_chars: int = 1000
    max_tags: int = 32
    max_tag_chars: int = 64
    max_list_items: int = 100
    max_list_item_chars: int = 512


@dataclass
class Observation:
    observation_id: str
    created_at: str
    content: str
    subject: str
    summary: str = ""
    project: str = ""
    tags: list[str] = field(default_factory=list)
    memory_type: str = "note"
    importance: int = DEFAULT_IMPORTANCE
    agent_family: str = ""
    client_id: str = ""
    pc_id: str = ""
    session_id: str = ""
    source_files: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    supersedes: list[str] = field(default_factory=list)
    visibility: str = "mesh"
    scope_id: str = ""
    expires_at: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    # Originals of clamped values, so the wire copy is what the author sent.
    raw_memory_type: str | None = None
    raw_visibility: str | None = None

    @classmethod
    def from_wire(cls, data: object) -> Observation:
        """Build from a peer's or an import's JSON object, tolerating bad types.

        Raises ValidationError only when there is no usable observation_id.
        """
        if not isinstance(data, dict):
            raise ValidationError("observation is not a JSON object")
        oid = data.get("observation_id")
        if not is_valid_id(oid):
            raise ValidationError(f"observation_id {oid!r} is not 32 lowercase hex characters")
        values: dict[str, Any] = {}
        for name in STR_FIELDS:
            values[name] = _as_str(data.get(name))
        for name in LIST_FIELDS:
            values[name] = _as_str_list(data.get(name))
        values["importance"] = _as_importance(data.get("importance"))
        obs = cls(**values)
        obs.extras = {k: v for k, v in data.items() if k not in WIRE_FIELDS}
        if obs.memory_type not in MEMORY_TYPES:
            obs.raw_memory_type = obs.memory_type
            obs.memory_type = "note"
        if obs.visibility not in VISIBILITIES and obs.visibility != LEGACY_VISIBILITY:
            obs.raw_visibility = obs.visibility
            obs.visibility = LEGACY_VISIBILITY
        return obs

    @classmethod
    def from_json(cls, text: str | bytes) -> Observation:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(f"not valid JSON: {exc}") from None
        return cls.from_wire(data)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in WIRE_FIELDS}
        out["tags"] = list(self.tags)
        for name in ("source_files", "references", "supersedes"):
            out[name] = list(getattr(self, name))
        if self.raw_memory_type is not None:
            out["memory_type"] = self.raw_memory_type
        if self.raw_visibility is not None:
            out["visibility"] = self.raw_visibility
        for key, value in self.extras.items():
            out.setdefault(key, value)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":"))


@dataclass
class Tombstone:
    observation_id: str
    reason: str = ""
    deleted_at: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: object) -> Tombstone:
        if not isinstance(data, dict):
            raise ValidationError("tombstone is not a JSON object")
        oid = data.get("observation_id")
        if not is_valid_id(oid):
            raise ValidationError(f"observation_id {oid!r} is not 32 lowercase hex characters")
        extras = {k: v for k, v in data.items() if k not in ("observation_id", "reason", "deleted_at")}
        return cls(str(oid), _as_str(data.get("reason")), _as_str(data.get("deleted_at")), extras)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "observation_id": self.observation_id,
            "reason": self.reason,
            "deleted_at": self.deleted_at,
        }
        for key, value in self.extras.items():
            out.setdefault(key, value)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":"))


def _as_str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _as_str_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [_as_str(v) for v in value if v is not None]
    return [_as_str(value)]


def _as_importance(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DEFAULT_IMPORTANCE
    if isinstance(value, float) and not math.isfinite(value):  # json.loads accepts NaN
        return DEFAULT_IMPORTANCE
    return max(1, min(5, int(value)))


# ---------------------------------------------------------------- validation


def check_text(name: str, value: str) -> None:
    """Reject text that cannot be stored faithfully (NUL, lone surrogates)."""
    if "\x00" in value:
        raise ValidationError(f"{name} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{name} is not valid UTF-8") from None


def validate_new(obs: Observation, limits: Limits, *, imported: bool = False) -> None:
    """Strict checks for an observation this host is about to write. An
    `imported` one (a line of an import file) may also be a legacy memory
    (no visibility) and keeps its own timestamps, which must be times."""
    from .keyspace import check_chunk

    if not is_valid_id(obs.observation_id):
        raise ValidationError("observation_id must be 32 lowercase hex characters")
    for name in ("content", "subject", "summary", "project"):
        check_text(name, getattr(obs, name))
    if not obs.subject.strip():
        raise ValidationError("subject must not be empty")
    # Titles written elsewhere keep their length: the reference does not limit them.
    if len(obs.subject) > limits.max_subject_chars and not imported:
        raise ValidationError(f"subject is longer than {limits.max_subject_chars} characters")
    if not obs.content.strip():
        raise ValidationError("content must not be empty")
    from .residue import check_not_residue

    for name in ("content", "subject", "summary"):
        check_not_residue(name, getattr(obs, name))
    size = len(obs.content.encode("utf-8"))
    if size > limits.max_content_bytes:
        raise ValidationError(
            f"content is {size} bytes, over the limit of {limits.max_content_bytes} "
            "(set max_content_bytes in config to change it)"
        )
    if len(obs.summary) > limits.max_summary_chars:
        raise ValidationError(f"summary is longer than {limits.max_summary_chars} characters")
    if obs.project and not PROJECT_RE.match(obs.project):
        raise ValidationError(
            f"invalid project {obs.project!r}: use letters, digits and . _ - / @ : + "
            "(starting with a letter or digit, up to 128 characters)"
        )
    if obs.memory_type not in MEMORY_TYPES:
        raise ValidationError(
            f"invalid memory_type {obs.memory_type!r}: choose one of {', '.join(MEMORY_TYPES)}"
        )
    if isinstance(obs.importance, bool) or not isinstance(obs.importance, int):
        raise ValidationError("importance must be an integer from 1 to 5")
    if not 1 <= obs.importance <= 5:
        raise ValidationError(f"importance must be from 1 to 5, got {obs.importance}")
    if imported:
        _check_times(obs)
    if obs.raw_memory_type is not None:
        raise ValidationError(
            f"invalid memory_type {obs.raw_memory_type!r}: choose one of {', '.join(MEMORY_TYPES)}"
        )
    if obs.raw_visibility is not None or (obs.visibility not in VISIBILITIES and not (
            imported and obs.visibility == LEGACY_VISIBILITY)):
        raise ValidationError(
            f"invalid visibility {obs.raw_visibility or obs.visibility!r}: "
            f"choose one of {', '.join(VISIBILITIES)}"
        )
    if obs.visibility in ("user", "team"):
        if not SLUG_RE.match(obs.scope_id):
            who = "user_id" if obs.visibility == "user" else "team_id"
            raise ValidationError(
                f"visibility {obs.visibility} needs a {who} "
                f"(set KIOKU_MESH_{who.upper()} or {who} in config)"
            )
    elif obs.scope_id:
        raise ValidationError("scope_id must be empty for mesh visibility")
    _validate_tags(obs.tags, limits)
    for name in ("source_files", "references"):
        _validate_list(name, getattr(obs, name), limits)
    for ref in obs.supersedes:
        if not is_valid_id(ref):
            raise ValidationError(f"supersedes entry {ref!r} is not a full 32-hex observation id")
    if obs.observation_id in obs.supersedes:
        raise ValidationError("a memory cannot supersede itself")
    for name in ("agent_family", "client_id", "pc_id", "session_id"):
        check_chunk(name, getattr(obs, name))


def _check_times(obs: Observation) -> None:
    from .timeutil import parse_ts

    if parse_ts(obs.created_at) is None:
        raise ValidationError(f"created_at {obs.created_at[:40]!r} is not an ISO 8601 time")
    if obs.expires_at and parse_ts(obs.expires_at) is None:
        raise ValidationError(f"expires_at {obs.expires_at[:40]!r} is not an ISO 8601 time")


def _validate_tags(tags: list[str], limits: Limits) -> None:
    if len(tags) > limits.max_tags:
        raise ValidationError(f"too many tags ({len(tags)}), the limit is {limits.max_tags}")
    for tag in tags:
        check_text("tag", tag)
        if not tag or tag != tag.strip() or "," in tag or any(c in tag for c in "\r\n\t"):
            raise ValidationError(f"invalid tag {tag!r}: no commas, no surrounding spaces")
        if len(tag) > limits.max_tag_chars:
            raise ValidationError(f"tag {tag[:20]!r}... is longer than {limits.max_tag_chars}")


def _validate_list(name: str, items: list[str], limits: Limits) -> None:
    if len(items) > limits.max_list_items:
        raise ValidationError(f"too many {name} ({len(items)}), the limit is {limits.max_list_items}")
    for item in items:
        check_text(name, item)
        if not item.strip() or len(item) > limits.max_list_item_chars:
            raise ValidationError(f"invalid {name} entry {item[:40]!r}")


def derive_summary(content: str, limit: int = 200) -> str:
    """First sentence of the content, cut at a word boundary within `limit`."""
    text = " ".join(content.split())
    ends = [(pos, end) for end in (". ", "。", "! ", "? ") if 0 < (pos := text.find(end)) < limit]
    if ends:
        pos, end = min(ends)  # the earliest sentence end, whichever mark it is
        return text[: pos + len(end)].strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip() + "…"
