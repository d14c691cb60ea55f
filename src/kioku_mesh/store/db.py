"""The host store: connection set-up and every write to memories.

Writes take the write lock up front (BEGIN IMMEDIATE), so concurrent
processes queue on the busy timeout instead of failing with "database is
locked" when a reader tries to upgrade.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import AmbiguousIdError, NotFoundError, StoreError, ValidationError
from ..core.models import Observation, Tombstone, is_valid_id, scope_of
from ..core.timeutil import parse_ts
from . import schema
from .fingerprint import fingerprint
from .schema import obs_scope_sql
from .textindex import short_words_for_index, words_for_index

if TYPE_CHECKING:
    from .search.embedder import Embedder

BUSY_TIMEOUT_S = 30.0
MIN_PREFIX = 8

_OBS_COLUMNS = (
    "id, created_at, created_ts, subject, summary, content, project, tags, tags_text, "
    "memory_type, importance, agent_family, client_id, pc_id, session_id, source_files, refs, "
    "supersedes, visibility, scope_id, expires_at, expires_ts, extras, raw_memory_type, "
    "raw_visibility, origin, ingested_ts"
)
_PLACEHOLDERS = "(" + ", ".join("?" * len(_OBS_COLUMNS.split(","))) + ")"
_INSERT_OBS = (
    f"INSERT INTO observations ({_OBS_COLUMNS}) VALUES {_PLACEHOLDERS} ON CONFLICT(id) DO NOTHING"
)
# Batches go through a staging table and into `observations` in ONE statement.
# Row by row, every INSERT opens a statement savepoint (the index triggers make
# it a multi-row write), and FTS5 flushes its pending index data to a new
# segment at each savepoint: one tiny segment per row, merged over and over.
# Untyped columns: values reach `observations` exactly as a direct INSERT
# would bind them.
_STAGE_TABLE = f"CREATE TEMP TABLE IF NOT EXISTS obs_stage ({_OBS_COLUMNS})"
_STAGE_ROW = f"INSERT INTO temp.obs_stage ({_OBS_COLUMNS}) VALUES {_PLACEHOLDERS}"
_INSERT_STAGED = (
    f"INSERT INTO observations ({_OBS_COLUMNS}) SELECT {_OBS_COLUMNS} FROM temp.obs_stage s "
    "WHERE NOT EXISTS (SELECT 1 FROM purged p WHERE p.id = s.id "
    f"AND p.scope = {obs_scope_sql('s')}) ORDER BY rowid "
    "ON CONFLICT(id) DO NOTHING RETURNING id, seq"
)
# FTS5 keeps index data for rows written in a statement in memory and writes
# it out as a new segment when that passes `hashsize` (default 1 MiB) and at
# the next statement. A bulk batch of ~10,000 memories makes ~35 MiB of
# trigram index data: with the default that is ~35 small segments per batch,
# each merged again and again later. For a bulk batch the limit is raised in
# the batch's transaction and put back before it commits, so other writers and
# the stored config never see it (the pending data is freed at each flush).
FTS_TABLES = ("obs_words", "obs_tri")
BULK_FTS_HASHSIZE = 64 * 1024 * 1024
FTS_DEFAULT_HASHSIZE = 1024 * 1024
FTS_DEFAULT_AUTOMERGE = 4


class Store:
    """One SQLite file: the host's source of truth."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self._automerge: int | None = None  # set: index merges are deferred (defer_index_work)
        from .search.vectors import VectorIndex  # here: search imports this module

        # Meaning vectors (ADR 0025): the model loads on the first insert or
        # semantic search, never at open.
        self.vectors = VectorIndex(_load_embedder)
        self._vector_table: bool | None = None

    @classmethod
    def open(cls, path: Path, *, synchronous: str = "NORMAL") -> Store:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from None
        try:
            db.row_factory = sqlite3.Row
            db.create_function("km_words", 1, words_for_index, deterministic=True)
            db.create_function("km_words_short", 1, short_words_for_index, deterministic=True)
            db.create_function("km_fp", 2, fingerprint, deterministic=True)
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _enable_wal(db)
            if synchronous.upper() not in ("NORMAL", "FULL"):
                raise StoreError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
            db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            # 8 MiB of page cache (default 2): a search touches index pages
            # spread over the file, and a long-lived MCP server reuses them.
            db.execute("PRAGMA cache_size = -8192")
            schema.migrate(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(f"cannot open store {path}: {exc}") from None
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self._automerge is not None:
                _set_fts_config(self.db, "automerge", 0)
            yield self.db
            if self._automerge is not None:
                # FTS5 writes the transaction's index data out as a segment
                # when this statement starts, still under automerge 0; the
                # stored value then goes back, so other writers keep merging.
                _set_fts_config(self.db, "automerge", self._automerge)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def defer_index_work(self) -> None:
        """For a long-lived process that runs `upkeep` when idle (ADR 0020):
        its writes skip FTS5 segment merges and WAL checkpoints, the two
        costs that made one save in fifty take 15-150 ms instead of ~1 ms.
        Other processes' writes are unaffected."""
        row = self.db.execute("SELECT v FROM obs_words_config WHERE k = 'automerge'").fetchone()
        self._automerge = int(row[0]) if row else FTS_DEFAULT_AUTOMERGE
        self.db.execute("PRAGMA wal_autocheckpoint = 0")

    # ------------------------------------------------------------- writes

    def add_observation(self, obs: Observation, origin: str = "local") -> bool:
        """Insert one observation; False when it is already here or was purged.

        Its vectors are written with it when this process has the model
        loaded (a server; about 0.1 ms). A one-shot command does not load
        numpy and the model (~0.2 s) for one memory: the next semantic
        search embeds it before it answers (VectorIndex.sync)."""
        from .search.embedder import loaded

        blobs = self._vectors_of([obs]) if loaded() else None
        with self.write() as db:
            return self._insert(db, obs, origin, time.time(), blobs)

    def add_observations(
        self, items: Iterable[Observation], origin: str, *, bulk: bool = False
    ) -> int:
        """Insert many in one transaction; returns how many were new.

        Skips purged ids and ids already stored; when an id appears twice in
        `items`, the first one wins (as one INSERT at a time would do).
        `bulk` (import): FTS5 may hold the whole batch's index data in memory
        and write it as one segment (see BULK_FTS_HASHSIZE); same rows, same
        index contents.
        """
        now = time.time()
        batch: dict[str, Observation] = {}
        rows = []
        for obs in items:
            batch.setdefault(obs.observation_id, obs)
            rows.append(_row(obs, origin, now))
        blobs = self._vectors_of(list(batch.values()))
        with self.write() as db:
            if not rows:
                return 0
            saved = _set_fts_hashsize(db, BULK_FTS_HASHSIZE) if bulk else None
            db.execute(_STAGE_TABLE)
            db.executemany(_STAGE_ROW, rows)
            inserted = db.execute(_INSERT_STAGED).fetchall()
            added = [r[0] for r in inserted]
            if blobs is not None:
                self._write_vectors(db, [(r[1], blobs[r[0]]) for r in inserted])
            db.execute("DELETE FROM temp.obs_stage")
            _link_supersedes(db, [batch[oid] for oid in added])
            if saved is not None:
                _set_fts_hashsize(db, saved)
        return len(added)

    def _insert(self, db: sqlite3.Connection, obs: Observation, origin: str, now: float,
                blobs: dict[str, bytes] | None = None) -> bool:
        if is_purged(db, obs.observation_id, scope_of(obs.visibility, obs.scope_id)):
            return False
        cur = db.execute(_INSERT_OBS, _row(obs, origin, now))
        if cur.rowcount == 0:
            return False
        if blobs is not None and cur.lastrowid is not None:
            self._write_vectors(db, [(cur.lastrowid, blobs[obs.observation_id])])
        _link_supersedes(db, [obs])
        return True

    def _vectors_of(self, items: list[Observation]) -> dict[str, bytes] | None:
        """Each memory's vectors, made before the write lock is taken. None
        when the model cannot load: the memory is still saved, and the next
        semantic search embeds it or says why it cannot."""
        if not items:
            return {}
        if self._vector_table is None:  # a Store made on an old schema (tests)
            self._vector_table = self.db.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'obs_vectors'").fetchone() is not None
        if not self._vector_table:
            return None
        try:
            blobs = self.vectors.prepare([(o.subject, o.content) for o in items])
        except StoreError:
            return None
        return {o.observation_id: b for o, b in zip(items, blobs, strict=True)}

    def _write_vectors(self, db: sqlite3.Connection, rows: list[tuple[int, bytes]]) -> None:
        from .search.vectors import write

        if rows and self.vectors.model is not None:
            write(db, self.vectors.model.model_id, rows)

    def add_tombstone(self, tomb: Tombstone, origin: str = "local") -> bool:
        """Record a tombstone (even before its observation arrives)."""
        return self.add_tombstones([tomb], origin) == 1

    def add_tombstones(self, tombs: Iterable[Tombstone], origin: str) -> int:
        now = time.time()
        with self.write() as db:
            return sum(self.insert_tombstone(db, tomb, origin, now) for tomb in tombs)

    @staticmethod
    def insert_tombstone(
        db: sqlite3.Connection, tomb: Tombstone, origin: str, now: float,
        key: str | None = None, scope: str | None = None,
    ) -> int:
        """One tombstone, inside the caller's transaction; its scope is the
        observation's when that is here, else the one given (from its key)."""
        scope = held_scope(db, tomb.observation_id) or scope or "mesh"
        if is_purged(db, tomb.observation_id, scope):
            return 0
        cur = db.execute(
            "INSERT INTO tombstones(id, reason, deleted_at, deleted_ts, extras, origin, key, scope) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id, scope) DO NOTHING",
            (tomb.observation_id, tomb.reason, tomb.deleted_at, parse_ts(tomb.deleted_at) or now,
             _json(tomb.extras) if tomb.extras else None, origin, key, scope),
        )
        return cur.rowcount

    def purge(self, ids: Iterable[str], why: str, origin: str = "local") -> int:
        """Physically remove memories and remember their ids so none comes back."""
        now = time.time()
        removed = 0
        with self.write() as db:
            for oid in ids:
                removed += self._purge_one(db, oid, why, now, origin)
        return removed

    def _purge_one(
        self, db: sqlite3.Connection, oid: str, why: str, now: float, origin: str = "local",
        scope: str | None = None,
    ) -> int:
        # The scope is read before the rows go: the purge record keeps it. A
        # purge acts in that scope only (ADR 0013): callers refuse one naming a
        # memory held here in another.
        held = held_scope(db, oid)
        if held is None and scope is None:
            row = db.execute("SELECT scope FROM tombstones WHERE id = ? LIMIT 1", (oid,)).fetchone()
            scope = row[0] if row else None
        scope = held or scope or "mesh"
        gone = 0
        if held == scope:
            gone = db.execute("DELETE FROM observations WHERE id = ?", (oid,)).rowcount
            db.execute("DELETE FROM supersessions WHERE new_id = ?", (oid,))
        gone += db.execute("DELETE FROM tombstones WHERE id = ? AND scope = ?",
                           (oid, scope)).rowcount
        db.execute(
            "INSERT OR IGNORE INTO purged(id, purged_ts, why, origin, scope) VALUES (?, ?, ?, ?, ?)",
            (oid, now, why, origin, scope),
        )
        return 1 if gone else 0

    # -------------------------------------------------------------- reads

    def get_row(self, oid: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT o.*, t.reason AS tomb_reason, t.deleted_at AS tomb_deleted_at "
            "FROM observations o LEFT JOIN tombstones t ON t.id = o.id WHERE o.id = ?",
            (oid,),
        ).fetchone()
        return row

    def resolve_id(self, text: str) -> str:
        """Full id from a full id or a unique prefix of 8+ hex characters."""
        prefix = text.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix) or len(prefix) > 32:
            raise ValidationError(f"invalid memory id {text!r}: expected hexadecimal characters")
        if len(prefix) < MIN_PREFIX:
            raise ValidationError(
                f"id prefix {text!r} is too short: give at least {MIN_PREFIX} characters"
            )
        rows = self.db.execute(
            "SELECT id FROM observations WHERE id >= ? AND id < ? ORDER BY id LIMIT 2",
            (prefix, prefix + "g"),
        ).fetchall()
        if not rows:
            raise NotFoundError(f"no memory with id {text!r}")
        if len(rows) > 1:
            raise AmbiguousIdError(f"id prefix {text!r} matches more than one memory: give more")
        return str(rows[0][0])

    def tombstone(self, oid: str) -> Tombstone | None:
        row = self.db.execute(
            "SELECT id, reason, deleted_at, extras FROM tombstones WHERE id = ?", (oid,)
        ).fetchone()
        if row is None:
            return None
        return Tombstone(row[0], row[1], row[2], json.loads(row[3]) if row[3] else {})

    def iter_observations(self, batch: int = 1000) -> Iterator[Observation]:
        """Every stored observation in insertion order, batch by batch."""
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT * FROM observations WHERE seq > ? ORDER BY seq LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield row_to_observation(row)
            last = rows[-1]["seq"]

    def iter_tombstones(self) -> Iterator[Tombstone]:
        for row in self.db.execute("SELECT id, reason, deleted_at, extras FROM tombstones"):
            yield Tombstone(row[0], row[1], row[2], json.loads(row[3]) if row[3] else {})


def _load_embedder() -> Embedder:
    from .search.embedder import shared_embedder

    return shared_embedder()


def held_scope(db: sqlite3.Connection, oid: str) -> str | None:
    """The scope of the memory `oid` when it is stored here."""
    row = db.execute(f"SELECT {obs_scope_sql('o')} FROM observations o WHERE o.id = ?",
                     (oid,)).fetchone()
    return str(row[0]) if row else None


def is_purged(db: sqlite3.Connection, oid: str, scope: str) -> bool:
    """Purge records bind to a scope: one sent on another scope's key before
    the memory arrived does not keep the memory out (ADR 0013)."""
    return db.execute("SELECT 1 FROM purged WHERE id = ? AND scope = ?",
                      (oid, scope)).fetchone() is not None


def _enable_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, retrying while other first-time openers hold the lock.

    Changing the journal mode can fail with SQLITE_BUSY at once, without the
    busy handler (SQLite's deadlock avoidance), when several processes open a
    new store together; the busy timeout alone does not cover it.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def json_list(text: str) -> list[str]:
    """A list of strings as `_json` wrote it. Search converts every hit, so
    the common shapes skip the JSON parser: without a backslash no string
    holds a quote or an escape, and '","' can only be a separator."""
    if text == "[]":
        return []
    if "\\" not in text and text.startswith('["') and text.endswith('"]'):
        return text[2:-2].split('","')
    result: list[str] = json.loads(text)
    return result


def row_to_observation(row: sqlite3.Row | dict[str, Any]) -> Observation:
    obs = Observation(
        observation_id=row["id"],
        created_at=row["created_at"],
        content=row["content"],
        subject=row["subject"],
        summary=row["summary"],
        project=row["project"],
        tags=json_list(row["tags"]),
        memory_type=row["memory_type"],
        importance=row["importance"],
        agent_family=row["agent_family"],
        client_id=row["client_id"],
        pc_id=row["pc_id"],
        session_id=row["session_id"],
        source_files=json_list(row["source_files"]),
        references=json_list(row["refs"]),
        supersedes=json_list(row["supersedes"]),
        visibility=row["visibility"],
        scope_id=row["scope_id"],
        expires_at=row["expires_at"],
    )
    if row["extras"]:
        obs.extras = json.loads(row["extras"])
    obs.raw_memory_type = row["raw_memory_type"]
    obs.raw_visibility = row["raw_visibility"]
    return obs


def _row(obs: Observation, origin: str, now: float) -> tuple[Any, ...]:
    """The `observations` row of an observation, in _OBS_COLUMNS order."""
    created_ts = parse_ts(obs.created_at)
    expires_ts = parse_ts(obs.expires_at) if obs.expires_at else None
    return (
        obs.observation_id, obs.created_at, created_ts if created_ts is not None else now,
        obs.subject, obs.summary, obs.content, obs.project, _json(obs.tags),
        " ".join(obs.tags), obs.memory_type, obs.importance, obs.agent_family,
        obs.client_id, obs.pc_id, obs.session_id, _json(obs.source_files),
        _json(obs.references), _json(obs.supersedes), obs.visibility, obs.scope_id,
        obs.expires_at, expires_ts, _json(obs.extras) if obs.extras else None,
        obs.raw_memory_type, obs.raw_visibility, origin, now,
    )


def _set_fts_hashsize(db: sqlite3.Connection, size: int) -> int:
    """Set FTS5 `hashsize` of both text indexes in the current transaction;
    returns the value in force before (the stored one, else FTS5's default)."""
    row = db.execute("SELECT v FROM obs_tri_config WHERE k = 'hashsize'").fetchone()
    before = int(row[0]) if row else FTS_DEFAULT_HASHSIZE
    _set_fts_config(db, "hashsize", size)
    return before


def _set_fts_config(db: sqlite3.Connection, key: str, value: int) -> None:
    for table in FTS_TABLES:
        db.execute(f"INSERT INTO {table}({table}, rank) VALUES (?, ?)", (key, value))


def _link_supersedes(db: sqlite3.Connection, inserted: list[Observation]) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO supersessions(old_id, new_id) VALUES (?, ?)",
        [(old, obs.observation_id) for obs in inserted for old in obs.supersedes if is_valid_id(old)],
    )


# What json.dumps(value, ensure_ascii=False, separators=(",", ":")) does, with
# the encoder built once instead of per call (4 calls per imported memory).
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
