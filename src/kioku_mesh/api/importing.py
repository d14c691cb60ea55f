"""Import from other tools' files (`import --from FORMAT PATH`): plan first,
write on request.

The parsers (api.importers) turn files into drafts; every draft then goes
through `transfer.check_record`, the same checks and secret redaction as any
import line (ADR 0015). Ids come from where a draft came from (format,
project, file, section or entity), so a second run finds everything already
there. A section whose text changed since it was imported becomes a new
version that supersedes the earlier ones (ADR 0022).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ValidationError
from ..core.models import Observation, derive_summary
from ..core.timeutil import now_wire
from ..store import links
from .importers import FORMATS, Draft, parse
from .importers.common import stable_id
from .memory import Memory
from .transfer import BATCH, ImportReport, check_record


@dataclass
class Planned:
    observation: Observation
    status: str  # "new" or "changed" (a new version of an imported one)
    location: str


@dataclass
class SourceImport:
    format: str
    path: str
    applied: bool = False
    files: list[str] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)
    unchanged: int = 0
    added: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    redacted_memories: int = 0

    def count(self, status: str) -> int:
        return sum(1 for p in self.planned if p.status == status)

    @property
    def usable(self) -> bool:
        """Something was read: new memories, or ones already imported."""
        return bool(self.planned) or self.unchanged > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "path": self.path, "applied": self.applied,
            "files": self.files, "new": self.count("new"), "changed": self.count("changed"),
            "unchanged": self.unchanged, "added": self.added,
            "memories": [{"observation_id": p.observation.observation_id, "status": p.status,
                          "subject": p.observation.subject, "location": p.location}
                         for p in self.planned],
            "problems": [{"location": where, "error": what} for where, what in self.problems],
            "redactions": self.redactions, "redacted_memories": self.redacted_memories,
        }


def import_source(
    mem: Memory,
    fmt: str,
    path: str | Path,
    *,
    project: str | None = None,
    apply: bool = False,
    allow_secrets: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SourceImport:
    """Read PATH as `fmt` and plan what it adds; with `apply`, write it.
    Bad lines, sections and files are in `problems`, the rest is kept."""
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    source = Path(path).expanduser()
    if not source.exists():
        raise ValidationError(f"cannot read {path}: no such file or directory")
    if project is not None:
        project = project.strip()
    parsed = parse(fmt, source, project)
    result = SourceImport(fmt, str(path), files=parsed.files, problems=list(parsed.problems))
    if not parsed.files and not parsed.problems:
        raise ValidationError(f"nothing to import in {path}: expected {FORMATS[fmt]}")
    seen: set[str] = set()
    total = len(parsed.drafts)
    for done, draft in enumerate(parsed.drafts, start=1):
        counter = ImportReport()  # redactions count only for what is written
        try:
            obs = _observation(mem, draft, allow_secrets, counter)
        except ValidationError as exc:
            result.problems.append((draft.location, str(exc)))
            continue
        if _plan(mem, draft, obs, result, seen):
            result.redacted_memories += counter.redacted_memories
            for kind, n in counter.redactions.items():
                result.redactions[kind] = result.redactions.get(kind, 0) + n
        if progress and done % 200 == 0:
            progress(done, total)
    if progress:
        progress(total, total)
    if apply:
        write_plan(mem, result)
    return result


def write_plan(mem: Memory, result: SourceImport) -> SourceImport:
    """Write what `import_source` planned (in the store's bulk batches)."""
    todo = [p.observation for p in result.planned]
    for start in range(0, len(todo), BATCH):
        result.added += mem.store.add_observations(todo[start:start + BATCH],
                                                   origin="import", bulk=True)
    result.applied = True
    return result


def _observation(mem: Memory, draft: Draft, allow_secrets: bool, counter: ImportReport
                 ) -> Observation:
    from .projects import current_name

    settings, ident = mem.settings, mem.identity
    visibility = settings.default_visibility
    data: dict[str, Any] = {
        **draft.extras,
        "observation_id": stable_id(draft.key),
        "created_at": draft.created_at or now_wire(),
        "content": draft.content,
        "subject": draft.subject,
        "project": current_name(mem, draft.project),
        "tags": draft.tags,
        "memory_type": draft.memory_type,
        "importance": draft.importance,
        "source_files": draft.source_files,
        "references": draft.references,
        "visibility": visibility,
        "scope_id": {"user": ident.user_id, "team": ident.team_id}.get(visibility, ""),
    }
    obs = check_record(mem, data, allow_secrets=allow_secrets, report=counter)
    assert isinstance(obs, Observation)  # a draft always has content: never a tombstone
    if not obs.summary:  # after redaction, so it cannot bring a secret back
        obs.summary = derive_summary(obs.content)
    return obs


def _plan(mem: Memory, draft: Draft, obs: Observation, result: SourceImport,
          seen: set[str]) -> bool:
    """New, a new version of a changed one, or nothing to do (False)."""
    first = obs.observation_id
    if first in seen:  # the same source twice in one run (e.g. one content_hash)
        result.unchanged += 1
        return False
    seen.add(first)
    stored = links.versions(mem.store.db, first)
    if not stored:
        result.planned.append(Planned(obs, "new", draft.location))
        return True
    live = [v for v in stored if v[3]]
    if not live or any(v[1] == obs.subject and v[2] == obs.content for v in live):
        # Already here, or deleted here on purpose: a re-import does not bring it back.
        result.unchanged += 1
        return False
    # Numbered by how many versions exist, so the id is the same on a re-run
    # and differs from every earlier one even when the text goes back to one.
    obs.observation_id = stable_id(f"{draft.key}\0v{len(stored)}")
    obs.supersedes = sorted(v[0] for v in stored)
    seen.add(obs.observation_id)
    result.planned.append(Planned(obs, "changed", draft.location))
    return True
