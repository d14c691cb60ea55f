"""Versioned migrations: an ordered list of small functions, one per version.

`PRAGMA user_version` records how many have run. Opening a store that is up
to date costs one pragma read, whatever its size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: executescript would COMMIT our transaction."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError("incomplete SQL statement in migration")


def _v1_memories(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE observations (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            created_ts REAL NOT NULL,
            subject TEXT NOT NULL,
            summary TEXT NOT NULL,
            content TEXT NOT NULL,
            project TEXT NOT NULL,
            tags TEXT NOT NULL,          -- JSON array
            tags_text TEXT NOT NULL,     -- tags joined by spaces, for the indexes
            memory_type TEXT NOT NULL,
            importance INTEGER NOT NULL,
            agent_family TEXT NOT NULL,
            client_id TEXT NOT NULL,
            pc_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            source_files TEXT NOT NULL,  -- JSON array
            refs TEXT NOT NULL,          -- JSON array ("references" on the wire)
            supersedes TEXT NOT NULL,    -- JSON array
            visibility TEXT NOT NULL,
            scope_id TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            expires_ts REAL,             -- NULL: never
            extras TEXT,                 -- JSON object of unknown fields, or NULL
            raw_memory_type TEXT,
            raw_visibility TEXT,
            origin TEXT NOT NULL,        -- local, import or peer
            ingested_ts REAL NOT NULL
        );
        CREATE INDEX obs_created ON observations(created_ts);
        CREATE INDEX obs_project ON observations(project, created_ts);
        CREATE INDEX obs_pc ON observations(pc_id);
        CREATE INDEX obs_rank ON observations(importance DESC, created_ts DESC);

        CREATE TABLE tombstones (
            id TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            deleted_at TEXT NOT NULL,
            deleted_ts REAL NOT NULL,
            extras TEXT,
            origin TEXT NOT NULL
        );

        -- A link old -> new; kept even when `old` has not arrived yet.
        CREATE TABLE supersessions (
            old_id TEXT NOT NULL,
            new_id TEXT NOT NULL,
            PRIMARY KEY (old_id, new_id)
        ) WITHOUT ROWID;

        -- Ids physically removed on purpose: never accepted again from anyone.
        CREATE TABLE purged (
            id TEXT PRIMARY KEY,
            purged_ts REAL NOT NULL,
            why TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE VIRTUAL TABLE obs_words USING fts5(
            subject, summary, content, tags_text, project,
            content='', tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE VIRTUAL TABLE obs_tri USING fts5(
            subject, summary, content, tags_text, project,
            content='observations', content_rowid='seq', tokenize='trigram'
        );

        -- The indexes change in the same transaction as the row: nothing to
        -- rebuild on open, nothing that can drift.
        CREATE TRIGGER obs_index_insert AFTER INSERT ON observations BEGIN
            INSERT INTO obs_words(rowid, subject, summary, content, tags_text, project)
            VALUES (new.seq, km_words(new.subject), km_words(new.summary),
                    km_words(new.content), km_words(new.tags_text), new.project);
            INSERT INTO obs_tri(rowid, subject, summary, content, tags_text, project)
            VALUES (new.seq, new.subject, new.summary, new.content, new.tags_text, new.project);
        END;
        CREATE TRIGGER obs_index_delete AFTER DELETE ON observations BEGIN
            INSERT INTO obs_words(obs_words, rowid, subject, summary, content, tags_text, project)
            VALUES ('delete', old.seq, km_words(old.subject), km_words(old.summary),
                    km_words(old.content), km_words(old.tags_text), old.project);
            INSERT INTO obs_tri(obs_tri, rowid, subject, summary, content, tags_text, project)
            VALUES ('delete', old.seq, old.subject, old.summary, old.content, old.tags_text,
                    old.project);
        END;
        """
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1_memories]


def migrate(db: sqlite3.Connection) -> None:
    """Bring the schema to the latest version, one transaction per step."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == len(MIGRATIONS):
        return
    if version > len(MIGRATIONS):
        from ..core.errors import StoreError

        raise StoreError(
            f"store schema version {version} is newer than this kioku-mesh knows "
            f"({len(MIGRATIONS)}): upgrade kioku-mesh"
        )
    db.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for step, func in enumerate(MIGRATIONS[version:], start=version + 1):
            func(db)
            db.execute(f"PRAGMA user_version = {step}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
