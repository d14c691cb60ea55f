"""Projects as this host knows them: the names in use and how many memories each has."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
