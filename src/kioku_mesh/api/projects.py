"""Projects as this host knows them: the names in use, how many memories
each has, and renames (core.projects, ADR 0017)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..core.projects import ProjectRename
    from .memory import Memory


def project_counts(mem: Memory) -> dict[str, int]:
    """Live (not deleted) memories per project name the reader may see; "" is no project."""
    scope = mem.reader_scope
    teams = list(scope.team_ids)
    marks = ",".join("?" * len(teams)) or "NULL"
    rows = mem.store.db.execute(
        f"""SELECT project, count(*) FROM observations o
            WHERE NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.id = o.id)
              AND (visibility NOT IN ('user', 'team')
                   OR (visibility = 'user' AND scope_id = ?)
                   OR (visibility = 'team' AND scope_id IN ({marks})))
            GROUP BY project""",
        (scope.user_id or "\x00", *teams),
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def renames(mem: Memory) -> list[ProjectRename]:
    from ..store.projects import all_renames

    return all_renames(mem.store)


def names_of_project(mem: Memory, project: str) -> list[str]:
    """Every name a project goes by, its current name first (one name when never renamed)."""
    from ..core.projects import names_of

    return names_of(project, renames(mem))


def current_name(mem: Memory, project: str) -> str:
    from ..core.projects import resolve

    return resolve(renames(mem)).get(project, project) if project else project


def rename_project(mem: Memory, old: str, new: str) -> ProjectRename:
    """Record that `old` is now called `new`, on this host and (through the
    node) every peer. Memories keep the name they were saved under; search,
    recall and new saves read the old name as the new one."""
    from ..core.errors import NotFoundError, ValidationError
    from ..core.models import new_id
    from ..core.projects import ProjectRename, check_names
    from ..core.timeutil import now_wire
    from ..store.projects import apply_renames

    old, new = old.strip(), new.strip()
    check_names(old, new)
    now = current_name(mem, old)
    if now != old:
        raise ValidationError(f"project {old!r} was renamed to {now!r} already; rename {now!r}")
    from ..core.projects import resolve

    if old not in project_counts(mem) and old not in resolve(renames(mem)).values():
        raise NotFoundError(f"no memories in project {old!r}: nothing to rename "
                            "(`kioku-mesh project list` shows the names in use)")
    rename = ProjectRename(new_id(), old, new, now_wire(), mem.identity.pc_id)
    apply_renames(mem.store, [rename], "local")
    return rename


def list_projects(mem: Memory) -> list[dict[str, object]]:
    """Current project names with their live memories (old names counted in)
    and the old names each has had, busiest first."""
    from ..core.projects import resolve

    canonical = resolve(renames(mem))
    out: dict[str, dict[str, object]] = {}
    for name, count in project_counts(mem).items():
        target = canonical.get(name, name)
        entry = out.setdefault(target, {"project": target, "memories": 0, "old_names": []})
        entry["memories"] = int(entry["memories"]) + count  # type: ignore[call-overload]
    for old, target in canonical.items():
        entry = out.setdefault(target, {"project": target, "memories": 0, "old_names": []})
        entry["old_names"].append(old)  # type: ignore[union-attr]
    return sorted(out.values(), key=lambda e: (-int(e["memories"]), str(e["project"])))  # type: ignore[call-overload]


def names_for_completion(settings: Settings, limit: int = 500) -> list[str]:
    """Project names the reader may see, for shell completion on every TAB:
    the store opened read-only (no migrations, no writes, nothing created),
    one index seek per name instead of a scan, plus every name a rename gave.
    An absent or busy store gives no names."""
    import sqlite3
    from urllib.parse import quote

    path = settings.db_path
    if not path.is_file():
        return []
    db = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=0.2)
    try:
        teams = list(settings.team_ids)
        marks = ",".join("?" * len(teams)) or "NULL"
        readable = (f"SELECT 1 FROM observations WHERE project = ? AND (visibility NOT IN "
                    f"('user', 'team') OR (visibility = 'user' AND scope_id = ?) OR "
                    f"(visibility = 'team' AND scope_id IN ({marks}))) LIMIT 1")
        names: list[str] = []
        last = ""
        while len(names) < limit:
            row = db.execute("SELECT min(project) FROM observations WHERE project > ?",
                             (last,)).fetchone()
            if row is None or row[0] is None:
                break
            last = str(row[0])
            if db.execute(readable, (last, settings.user_id or "\x00", *teams)).fetchone():
                names.append(last)
        try:
            names += [str(r[0]) for r in db.execute("SELECT DISTINCT new FROM project_renames")]
        except sqlite3.OperationalError:  # a store from before renames existed
            pass
        return sorted(set(names))
    finally:
        db.close()
