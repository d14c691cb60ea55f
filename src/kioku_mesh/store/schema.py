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


# SQLite has no XOR operator; this is a ^ b with bitwise ops only (no overflow).
def _xor(a: str, b: str) -> str:
    return f"(({a}) | ({b})) & ~(({a}) & ({b}))"


def obs_scope_sql(row: str) -> str:
    """SQL for the sync scope of an observation row: mesh, user/<id> or team/<id>
    (legacy memories travel with mesh). Must agree with core.models.scope_of."""
    return (f"(CASE {row}.visibility WHEN 'user' THEN 'user/' || {row}.scope_id "
            f"WHEN 'team' THEN 'team/' || {row}.scope_id ELSE 'mesh' END)")


def _digest_trigger(table: str, event: str, row: str, tag: str) -> str:
    scope = obs_scope_sql(row) if table == "observations" else f"{row}.scope"
    return _element_trigger(table, event, row, tag, f"{row}.id", scope)


# The canonical obs key of a row being deleted, built in SQL so a purge can
# be published as an exact-key DELETE after the row is gone.
_OBS_KEY_SQL = (
    "CASE old.visibility WHEN 'mesh' THEN 'mem/mesh/obs/' "
    "WHEN 'user' THEN 'mem/user/' || old.scope_id || '/obs/' "
    "WHEN 'team' THEN 'mem/team/' || old.scope_id || '/obs/' ELSE 'mem/obs/' END "
    "|| old.agent_family || '/' || old.client_id || '/' || old.pc_id || '/' "
    "|| old.session_id || '/' || old.id"
)


def _v2_replication(db: sqlite3.Connection) -> None:
    script = f"""
        ALTER TABLE tombstones ADD COLUMN key TEXT;  -- the key it arrived on or was built from
        -- Sync scope (mesh, user/<id>, team/<id>) of a tombstone or purge, known even
        -- when the observation is not (or no longer) here.
        ALTER TABLE tombstones ADD COLUMN scope TEXT NOT NULL DEFAULT 'mesh';
        ALTER TABLE purged ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
        ALTER TABLE purged ADD COLUMN scope TEXT NOT NULL DEFAULT 'mesh';

        -- Every change in arrival order: the node publishes local ones from here.
        CREATE TABLE changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,      -- obs, tomb, purge
            id TEXT NOT NULL,
            origin TEXT NOT NULL,
            key TEXT                 -- for purge: the obs key to DELETE
        );
        CREATE TRIGGER obs_change AFTER INSERT ON observations BEGIN
            INSERT INTO changes(kind, id, origin) VALUES ('obs', new.id, new.origin); END;
        CREATE TRIGGER tomb_change AFTER INSERT ON tombstones BEGIN
            INSERT INTO changes(kind, id, origin) VALUES ('tomb', new.id, new.origin); END;
        CREATE TRIGGER obs_purge_change AFTER DELETE ON observations BEGIN
            INSERT INTO changes(kind, id, origin, key) VALUES ('purge', old.id, 'any', {_OBS_KEY_SQL});
        END;

        -- Anti-entropy digest: per scope and 3-hex-char id prefix, the XOR of a
        -- 64-bit fingerprint of every (id, state) element and their count. Kept
        -- by triggers, so a sync round never scans the data set.
        CREATE TABLE digest (
            scope TEXT NOT NULL,
            bucket TEXT NOT NULL,
            h INTEGER NOT NULL DEFAULT 0,
            n INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (scope, bucket)
        ) WITHOUT ROWID;
        {_digest_trigger('observations', 'INSERT', 'new', 'o')}
        {_digest_trigger('observations', 'DELETE', 'old', 'o')}
        {_digest_trigger('tombstones', 'INSERT', 'new', 't')}
        {_digest_trigger('tombstones', 'DELETE', 'old', 't')}
        {_digest_trigger('purged', 'INSERT', 'new', 'p')}
        {_digest_trigger('purged', 'DELETE', 'old', 'p')}

        CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    """
    _run_script(db, script)
    # Stores made before this version: fold their rows into the digest once.
    fold = (
        "INSERT INTO digest(scope, bucket, h, n) VALUES (:scope, substr(:id, 1, 3), "
        f"km_fp(:id, :tag), 1) ON CONFLICT(scope, bucket) DO UPDATE SET "
        f"h = {_xor('h', 'excluded.h')}, n = n + 1"
    )
    sources = (
        (f"SELECT id, {obs_scope_sql('observations')} FROM observations", "o"),
        ("SELECT id, scope FROM tombstones", "t"),
        ("SELECT id, scope FROM purged", "p"),
    )
    for query, tag in sources:
        for oid, scope in db.execute(query).fetchall():
            db.execute(fold, {"id": oid, "tag": tag, "scope": scope})


def _v3_messages(db: sqlite3.Connection) -> None:
    script = f"""
        -- Agent-to-agent messages, beside the memories in the one host store.
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            msg_id TEXT NOT NULL UNIQUE,
            scope TEXT NOT NULL,             -- mesh, team/<id>, user/<id>
            recipient_kind TEXT NOT NULL,    -- session or agent
            recipient_id TEXT NOT NULL,
            sender_agent_id TEXT NOT NULL,
            sender_session_id TEXT NOT NULL,
            created_ts REAL NOT NULL,
            expires_ts REAL,                 -- NULL: never
            requires_ack INTEGER NOT NULL,
            payload TEXT NOT NULL,           -- the wire JSON, unknown fields kept
            origin TEXT NOT NULL,
            received_ts REAL NOT NULL
        );
        CREATE INDEX msg_recipient ON messages(recipient_kind, recipient_id, created_ts);
        CREATE INDEX msg_sender ON messages(sender_session_id, created_ts);
        CREATE INDEX msg_expiry ON messages(expires_ts) WHERE expires_ts IS NOT NULL;

        -- One row per (message, acking session): the wire's ack key shape.
        CREATE TABLE acks (
            msg_id TEXT NOT NULL,
            recipient_session_id TEXT NOT NULL,
            recipient_agent_id TEXT NOT NULL,
            status TEXT NOT NULL,
            acked_at TEXT NOT NULL,
            acked_ts REAL NOT NULL,
            scope TEXT NOT NULL,
            origin TEXT NOT NULL,
            PRIMARY KEY (msg_id, recipient_session_id)
        ) WITHOUT ROWID;

        -- Agent sessions with an MCP server running on this host (presence).
        CREATE TABLE sessions (
            session_id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL,
            agent_family TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_ts REAL NOT NULL
        ) WITHOUT ROWID;

        CREATE TRIGGER msg_change AFTER INSERT ON messages BEGIN
            INSERT INTO changes(kind, id, origin) VALUES ('msg', new.msg_id, new.origin); END;
        CREATE TRIGGER ack_change AFTER INSERT ON acks BEGIN
            INSERT INTO changes(kind, id, origin)
            VALUES ('ack', new.msg_id || ':' || new.recipient_session_id, new.origin); END;
        {_element_trigger('messages', 'INSERT', 'new', 'm', 'new.msg_id', 'new.scope')}
        {_element_trigger('messages', 'DELETE', 'old', 'm', 'old.msg_id', 'old.scope')}
        {_element_trigger('acks', 'INSERT', 'new', 'a',
                          "new.msg_id || ':' || new.recipient_session_id", 'new.scope')}
        {_element_trigger('acks', 'DELETE', 'old', 'a',
                          "old.msg_id || ':' || old.recipient_session_id", 'old.scope')}
    """
    _run_script(db, script)


def _element_trigger(table: str, event: str, row: str, tag: str, ident: str, scope: str) -> str:
    """Digest upkeep for an element identified by an SQL expression (messages, acks)."""
    fp = f"km_fp({ident}, '{tag}')"
    if event == "INSERT":
        body = (f"INSERT INTO digest(scope, bucket, h, n) VALUES ({scope}, substr({ident}, 1, 3), "
                f"{fp}, 1) ON CONFLICT(scope, bucket) DO UPDATE SET "
                f"h = {_xor('h', 'excluded.h')}, n = n + 1;")
    else:
        body = (f"UPDATE digest SET h = {_xor('h', fp)}, n = n - 1 "
                f"WHERE scope = {scope} AND bucket = substr({ident}, 1, 3);")
    return (f"CREATE TRIGGER {table}_digest_{event.lower()} AFTER {event} ON {table} "
            f"BEGIN {body} END;\n")


def _v4_change_lookup(db: sqlite3.Connection) -> None:
    # `msg status` asks whether a message still waits in the change feed: by id,
    # not by a scan of a feed that grows without a node to prune it.
    db.execute("CREATE INDEX changes_by_id ON changes(kind, id)")


def _v5_search_columns(db: sqlite3.Connection) -> None:
    # Search reads these columns for every candidate it ranks (ADR 0010):
    # from a narrow covering index the candidates share a few pages, where
    # the wide rows (content up to 64 KiB) take a page or more each.
    db.execute(
        "CREATE INDEX obs_search_cols ON observations(seq, created_ts, importance, "
        "visibility, scope_id, expires_ts, project, memory_type, id)"
    )


def _index_triggers(tri_columns: tuple[str, ...]) -> str:
    """The triggers that keep both text indexes in step with `observations`
    (word index as of v6; the trigram index over `tri_columns`)."""
    cols = ", ".join(tri_columns)
    new = ", ".join(f"new.{c}" for c in tri_columns)
    old = ", ".join(f"old.{c}" for c in tri_columns)
    return f"""
    CREATE TRIGGER obs_index_insert AFTER INSERT ON observations BEGIN
        INSERT INTO obs_words(rowid, subject, summary, content, tags_text, project, key)
        VALUES (new.seq, km_words_short(new.subject), km_words_short(new.summary),
                km_words(new.content), km_words_short(new.tags_text), new.project, new.seq);
        INSERT INTO obs_tri(rowid, {cols}) VALUES (new.seq, {new});
    END;
    CREATE TRIGGER obs_index_delete AFTER DELETE ON observations BEGIN
        INSERT INTO obs_words(obs_words, rowid, subject, summary, content, tags_text, project,
                              key)
        VALUES ('delete', old.seq, km_words_short(old.subject), km_words_short(old.summary),
                km_words(old.content), km_words_short(old.tags_text), old.project, old.seq);
        INSERT INTO obs_tri(obs_tri, rowid, {cols}) VALUES ('delete', old.seq, {old});
    END;
"""


_DROP_INDEX_TRIGGERS = """
    DROP TRIGGER obs_index_insert;
    DROP TRIGGER obs_index_delete;
"""


def _v6_word_index_key(db: sqlite3.Connection) -> None:
    # The word index gains camelCase parts (subjects, summaries, tags) and a
    # `key` column holding the row's seq, so search can name the rows a term
    # is scored on (ADR 0012); search expressions never match `key`. A
    # contentless FTS5 table cannot gain a column: rebuild it from the rows,
    # once, in this migration's transaction.
    _run_script(db, _DROP_INDEX_TRIGGERS + """
        DROP TABLE obs_words;
        CREATE VIRTUAL TABLE obs_words USING fts5(
            subject, summary, content, tags_text, project, key,
            content='', tokenize='porter unicode61 remove_diacritics 2'
        );
    """ + _index_triggers(("subject", "summary", "content", "tags_text", "project")))
    db.execute(
        "INSERT INTO obs_words(rowid, subject, summary, content, tags_text, project, key) "
        "SELECT seq, km_words_short(subject), km_words_short(summary), km_words(content), "
        "km_words_short(tags_text), project, seq FROM observations"
    )


def _v7_short_substring_index(db: sqlite3.Connection) -> None:
    # The substring (trigram) index covers subjects and tags only: over whole
    # contents it cost ~73 us of each import's ~250 us per memory and most of
    # the slow saves (its segment merges), while the word index already finds
    # words, stems, prefixes and Japanese everywhere (ADR 0012).
    _run_script(db, _DROP_INDEX_TRIGGERS + """
        DROP TABLE obs_tri;
        CREATE VIRTUAL TABLE obs_tri USING fts5(
            subject, tags_text, content='observations', content_rowid='seq', tokenize='trigram'
        );
    """ + _index_triggers(("subject", "tags_text")) + """
        INSERT INTO obs_tri(obs_tri) VALUES ('rebuild');
    """)


def _v8_scoped_supersessions(db: sqlite3.Connection) -> None:
    # ADR 0013: a successor hides its predecessor only when both are in the
    # same scope. `supersessions` keeps the links that take effect (and those
    # whose predecessor has not arrived, so its scope is not known yet); a link
    # across scopes moves to `supersessions_ignored`, kept for `get-memory`.
    # Triggers decide at apply time, whichever of the two records comes first,
    # so every writer (save, peers, import) and every reader (search) agree.
    old, new = obs_scope_sql("p"), obs_scope_sql("n")
    _run_script(db, f"""
        CREATE TABLE supersessions_ignored (
            old_id TEXT NOT NULL,
            new_id TEXT NOT NULL,
            PRIMARY KEY (old_id, new_id)
        ) WITHOUT ROWID;
        CREATE INDEX supersessions_ignored_new ON supersessions_ignored(new_id);
        CREATE TRIGGER supersession_scope AFTER INSERT ON supersessions
        WHEN (SELECT {old} FROM observations p WHERE p.id = new.old_id)
             != (SELECT {new} FROM observations n WHERE n.id = new.new_id)
        BEGIN
            INSERT OR IGNORE INTO supersessions_ignored(old_id, new_id)
            VALUES (new.old_id, new.new_id);
            DELETE FROM supersessions WHERE old_id = new.old_id AND new_id = new.new_id;
        END;
        CREATE TRIGGER obs_supersession_scope AFTER INSERT ON observations
        WHEN EXISTS (SELECT 1 FROM supersessions WHERE old_id = new.id)
        BEGIN
            INSERT OR IGNORE INTO supersessions_ignored(old_id, new_id)
            SELECT s.old_id, s.new_id FROM supersessions s JOIN observations n ON n.id = s.new_id
            WHERE s.old_id = new.id AND {new} != {obs_scope_sql("new")};
            DELETE FROM supersessions WHERE old_id = new.id AND new_id IN
                (SELECT new_id FROM supersessions_ignored WHERE old_id = new.id);
        END;
        CREATE TRIGGER obs_purge_ignored AFTER DELETE ON observations BEGIN
            DELETE FROM supersessions_ignored WHERE new_id = old.id;
        END;
    """)
    _rekey_by_scope(db)
    # Links stored before this version: the same rule, once.
    db.execute(
        "INSERT OR IGNORE INTO supersessions_ignored(old_id, new_id) SELECT s.old_id, s.new_id "
        "FROM supersessions s JOIN observations p ON p.id = s.old_id "
        f"JOIN observations n ON n.id = s.new_id WHERE {old} != {new}"
    )
    db.execute("DELETE FROM supersessions WHERE (old_id, new_id) IN "
               "(SELECT old_id, new_id FROM supersessions_ignored)")


def _rekey_by_scope(db: sqlite3.Connection) -> None:
    """Tombstones and purge records keyed by (id, scope): one sent on another
    scope's key before the memory arrived must not take the place of the
    owner's own (ADR 0013). Once the memory is here only its scope's remain:
    the others are dropped as it arrives, and refused after."""
    _run_script(db, f"""
        CREATE TABLE tombstones_v8 (
            id TEXT NOT NULL,
            reason TEXT NOT NULL,
            deleted_at TEXT NOT NULL,
            deleted_ts REAL NOT NULL,
            extras TEXT,
            origin TEXT NOT NULL,
            key TEXT,
            scope TEXT NOT NULL DEFAULT 'mesh',
            PRIMARY KEY (id, scope)
        );
        INSERT INTO tombstones_v8 SELECT id, reason, deleted_at, deleted_ts, extras, origin, key,
            scope FROM tombstones;
        DROP TABLE tombstones;
        ALTER TABLE tombstones_v8 RENAME TO tombstones;
        CREATE TRIGGER tomb_change AFTER INSERT ON tombstones BEGIN
            INSERT INTO changes(kind, id, origin) VALUES ('tomb', new.id, new.origin); END;
        {_digest_trigger('tombstones', 'INSERT', 'new', 't')}
        {_digest_trigger('tombstones', 'DELETE', 'old', 't')}

        -- Key columns first: SQLite 3.40's quick_check misreads NOT NULL columns
        -- of a WITHOUT ROWID table whose key columns are not its leading ones.
        CREATE TABLE purged_v8 (
            id TEXT NOT NULL,
            scope TEXT NOT NULL DEFAULT 'mesh',
            purged_ts REAL NOT NULL,
            why TEXT NOT NULL,
            origin TEXT NOT NULL DEFAULT 'local',
            PRIMARY KEY (id, scope)
        ) WITHOUT ROWID;
        INSERT INTO purged_v8(id, scope, purged_ts, why, origin)
            SELECT id, scope, purged_ts, why, origin FROM purged;
        DROP TABLE purged;
        ALTER TABLE purged_v8 RENAME TO purged;
        {_digest_trigger('purged', 'INSERT', 'new', 'p')}
        {_digest_trigger('purged', 'DELETE', 'old', 'p')}

        CREATE TRIGGER obs_foreign_tombstones AFTER INSERT ON observations BEGIN
            DELETE FROM tombstones WHERE id = new.id AND scope != {obs_scope_sql('new')};
        END;
    """)


def _v9_project_renames(db: sqlite3.Connection) -> None:
    # Project renames are their own replicated record (ADR 0017).
    from .projects import SCHEMA

    _run_script(db, SCHEMA)


def _v10_vectors(db: sqlite3.Connection) -> None:
    # Meaning vectors, derived from each memory (ADR 0025); filled on insert
    # and caught up before a semantic search.
    from .search.vectors import SCHEMA

    _run_script(db, SCHEMA)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_memories, _v2_replication, _v3_messages, _v4_change_lookup, _v5_search_columns,
    _v6_word_index_key, _v7_short_substring_index,
    _v8_scoped_supersessions, _v9_project_renames, _v10_vectors,
]


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
