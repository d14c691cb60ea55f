"""Links from one memory to another that change how the other is shown.

Which supersession links take effect is decided when records are stored
(triggers of migration v8, ADR 0013): a successor in another scope than its
predecessor is kept as data in `supersessions_ignored` and hides nothing.
"""

from __future__ import annotations

import sqlite3


def superseded_by(db: sqlite3.Connection, oid: str) -> list[str]:
    """Live successors that hide `oid` (same scope, not deleted)."""
    return [r[0] for r in db.execute(
        "SELECT new_id FROM supersessions WHERE old_id = ? "
        "AND new_id NOT IN (SELECT id FROM tombstones)", (oid,))]


def ignored_successors(db: sqlite3.Connection, oid: str) -> list[str]:
    """Memories of another scope that name `oid` in `supersedes`: no effect."""
    return [r[0] for r in db.execute(
        "SELECT new_id FROM supersessions_ignored WHERE old_id = ? ORDER BY new_id", (oid,))]


def ignored_supersedes(db: sqlite3.Connection, oid: str) -> list[str]:
    """Entries of `oid`'s own `supersedes` that hide nothing (other scope)."""
    return [r[0] for r in db.execute(
        "SELECT old_id FROM supersessions_ignored WHERE new_id = ? ORDER BY old_id", (oid,))]


def versions(db: sqlite3.Connection, oid: str) -> list[tuple[str, str, str, bool]]:
    """`oid` and every stored memory naming it in `supersedes` (any scope,
    deleted or not) as (id, subject, content, live) - live: not deleted and
    not hidden by another of them. Used by re-imports to find the earlier
    versions of an imported section."""
    rows = db.execute(
        "SELECT o.id, o.subject, o.content, t.id IS NULL FROM observations o "
        "LEFT JOIN tombstones t ON t.id = o.id WHERE o.id = ? OR o.id IN "
        "(SELECT new_id FROM supersessions WHERE old_id = ? "
        " UNION SELECT new_id FROM supersessions_ignored WHERE old_id = ?)",
        (oid, oid, oid)).fetchall()
    ids = {r[0] for r in rows}
    hidden = {r[0] for r in db.execute(
        f"SELECT old_id FROM supersessions WHERE old_id IN ({','.join('?' * len(ids))}) "
        f"AND new_id IN ({','.join('?' * len(ids))}) AND new_id NOT IN (SELECT id FROM tombstones)",
        (*ids, *ids))} if ids else set()
    return [(r[0], r[1], r[2], bool(r[3]) and r[0] not in hidden) for r in rows]
