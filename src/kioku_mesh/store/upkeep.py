"""Index upkeep that a long-lived process does between requests (ADR 0020).

A store opened with `Store.defer_index_work()` commits its writes without
FTS5 segment merges and without WAL checkpoints. This module does that work
later in small steps: `merge_step` merges a few pages of each text index in
its own short transaction, and `checkpoint` copies the WAL back into the
database file on a connection of its own (a passive checkpoint: it waits for
no one and no writer waits for it), so it can run on another thread.

Nothing here changes what is stored or what a search returns: FTS5 reads
every segment, merged or not. Skipped work only costs read speed, and FTS5's
own `crisismerge` still bounds the number of segments should upkeep fall
behind.
"""

from __future__ import annotations

import os
import sqlite3

from .db import BUSY_TIMEOUT_S, FTS_TABLES, Store

# Pages of merged index data written per index in one step: about 1-2 ms on
# this project's benchmark machine, so a request that arrives during a step
# waits at most that long.
MERGE_PAGES = 32
# Checkpoint once the WAL holds this much (SQLite's own automatic
# checkpoint starts at 1,000 pages of 4 KiB).
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024


def merge_step(store: Store, pages: int = MERGE_PAGES) -> bool:
    """One bounded step of segment merging; True while there is more to do.

    A positive 'merge' only merges where FTS5's automerge would have (a level
    with `usermerge` segments, default 4) or continues a merge in progress;
    it changes at least two rows when it did any work (FTS5 documentation).
    """
    worked = False
    db = store.db
    db.execute("BEGIN IMMEDIATE")  # not store.write(): no index data to hold back here
    try:
        for table in FTS_TABLES:
            before = db.total_changes
            db.execute(f"INSERT INTO {table}({table}, rank) VALUES ('merge', ?)", (pages,))
            worked = worked or db.total_changes - before >= 2
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return worked


def wal_bytes(store: Store) -> int:
    try:
        return os.stat(f"{store.path}-wal").st_size
    except OSError:
        return 0


def checkpoint(store: Store) -> int:
    """A passive checkpoint on a connection of its own (safe from any
    thread); returns how many WAL frames it copied."""
    db = sqlite3.connect(str(store.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[2]) if row and row[2] > 0 else 0
    finally:
        db.close()
