"""Project renames: one record kind, replicated like memories are.

Memories are immutable replicated records, so a rename does not rewrite
them: `project rename OLD NEW` writes a ProjectRename, and every host reads
OLD as another name of NEW (search, recall and new saves). Renames chain
(A -> B, then B -> C: A, B and C are all C); renames apply in created_at
order (then id), so every host reads the same names whatever order they
arrived in, and the later of two renames of one name wins.
ADR 0017.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError
from .models import PROJECT_RE, is_valid_id

KEY_PREFIX = "kioku/projects"


@dataclass(frozen=True)
class ProjectRename:
    rename_id: str
    old: str
    new: str
    created_at: str
    pc_id: str = ""

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}/{self.rename_id}"

    def to_wire(self) -> dict[str, Any]:
        return {"rename_id": self.rename_id, "old": self.old, "new": self.new,
                "created_at": self.created_at, "pc_id": self.pc_id}

    def to_json(self) -> str:
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_wire(cls, data: object) -> ProjectRename:
        """Strict: a rename changes how every host reads a project, so a
        malformed one is refused whole, never coerced."""
        from .timeutil import parse_ts

        if not isinstance(data, dict):
            raise ValidationError("project rename is not a JSON object")
        values = {k: data.get(k) for k in ("rename_id", "old", "new", "created_at", "pc_id")}
        if not all(isinstance(v, str) for v in values.values() if v is not None):
            raise ValidationError("project rename fields must be strings")
        if not is_valid_id(values["rename_id"]):
            raise ValidationError("project rename has no valid rename_id")
        if parse_ts(values["created_at"] or "") is None:
            raise ValidationError("project rename has no valid created_at")
        rename = cls(values["rename_id"], values["old"] or "", values["new"] or "",
                     values["created_at"], values["pc_id"] or "")
        check_names(rename.old, rename.new)
        return rename


def check_names(old: str, new: str) -> None:
    for label, name in (("old", old), ("new", new)):
        if not name or not PROJECT_RE.match(name):
            raise ValidationError(
                f"invalid {label} project name {name!r}: use letters, digits and . _ - / @ : +")
    if old == new:
        raise ValidationError(f"project {old!r} already has that name")


def resolve(renames: list[ProjectRename]) -> dict[str, str]:
    """Each renamed name -> the name it goes by now (after every rename in a
    chain). Applied in order; naming a project as a rename's target makes it
    a current name again, so renaming back (B -> A after A -> B) undoes."""
    current: dict[str, str] = {}
    for rename in sorted(renames, key=lambda r: (r.created_at, r.rename_id)):
        current.pop(rename.new, None)
        current[rename.old] = rename.new
    return {name: _follow(current, name) for name in current}


def _follow(current: dict[str, str], name: str) -> str:
    seen = {name}
    while name in current and current[name] not in seen:  # no cycle can form; belt and braces
        name = current[name]
        seen.add(name)
    return name


def names_of(project: str, renames: list[ProjectRename]) -> list[str]:
    """Every name a project has gone by: its current name first, then the old ones."""
    canonical = resolve(renames)
    target = canonical.get(project, project)
    return [target] + sorted(old for old, new in canonical.items() if new == target and old != target)
