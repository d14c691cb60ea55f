"""Project renames in the host store (core.projects): apply, list, publish.

`apply_renames` is the one way a rename gets in, from this host or a peer:
idempotent on rename_id, so live delivery and catch-up may both bring it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.projects import ProjectRename
from .db import Store

SCHEMA = """
CREATE TABLE project_renames (
    id TEXT PRIMARY KEY,
    old TEXT NOT NULL,
    new TEXT NOT NULL,
    created_at TEXT NOT NULL,
    pc_id TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0
);
"""


def apply_renames(store: Store, renames: Iterable[ProjectRename], origin: str) -> int:
    """Store renames not held yet; how many were new. Local ones wait to be published."""
    published = 0 if origin == "local" else 1
    added = 0
    with store.write() as db:
        for r in renames:
            cur = db.execute(
                "INSERT OR IGNORE INTO project_renames(id, old, new, created_at, pc_id, origin, "
                "published) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (r.rename_id, r.old, r.new, r.created_at, r.pc_id, origin, published))
            added += cur.rowcount
    return added


def all_renames(store: Store) -> list[ProjectRename]:
    rows = store.db.execute(
        "SELECT id, old, new, created_at, pc_id FROM project_renames ORDER BY created_at, id")
    return [ProjectRename(*row) for row in rows]


def unpublished(store: Store) -> list[ProjectRename]:
    rows = store.db.execute(
        "SELECT id, old, new, created_at, pc_id FROM project_renames WHERE published = 0")
    return [ProjectRename(*row) for row in rows]


def mark_published(store: Store, ids: Iterable[str]) -> None:
    with store.write() as db:
        db.executemany("UPDATE project_renames SET published = 1 WHERE id = ?",
                       [(i,) for i in ids])
