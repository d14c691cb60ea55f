"""WAL checkpoints on a thread of their own, for a long-lived writer.

SQLite checkpoints in the commit that pushes the WAL past 1,000 pages: that
save pays 5-10 ms to copy the pages into the database file, one save in
twenty or so. A process that answers agents (the MCP server) turns that off
for its connection and lets this thread checkpoint instead, on a connection
of its own: in WAL mode a checkpoint runs beside writers without blocking
them. Short-lived processes (the CLI) keep SQLite's automatic checkpoints.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from .db import Store

WAL_PAGES = 1000  # SQLite's own auto-checkpoint threshold
POLL_S = 0.05
CATCH_UP_PASSES = 8
HARD_FACTOR = 8  # WAL size, in multiples of the threshold, that forces a restart


class Checkpointer:
    def __init__(self, store: Store, wal_pages: int = WAL_PAGES) -> None:
        self._store = store
        page_size = store.db.execute("PRAGMA page_size").fetchone()[0]
        self._limit = wal_pages * (page_size + 24)  # a WAL frame: header + page
        self._wal = f"{store.path}-wal"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0

    def start(self) -> None:
        self._store.db.execute("PRAGMA wal_autocheckpoint = 0")
        # When this connection restarts a fully checkpointed WAL it truncates
        # the file, so the file's size tells the poller what is pending.
        self._store.db.execute("PRAGMA journal_size_limit = 0")
        self._thread = threading.Thread(target=self._run, name="kioku-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._store.db.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES}")
        self._store.db.execute("PRAGMA journal_size_limit = -1")

    def _run(self) -> None:
        db = sqlite3.connect(str(self._store.path), timeout=5.0, isolation_level=None,
                             check_same_thread=False)
        try:
            while not self._stop.wait(POLL_S):
                size = self._wal_bytes()
                if size > HARD_FACTOR * self._limit:
                    self._restart(db)
                elif size > self._limit:
                    self._checkpoint(db)
            self._checkpoint(db)
        finally:
            db.close()

    def _wal_bytes(self) -> int:
        try:
            return os.stat(self._wal).st_size
        except OSError:
            return 0

    def _restart(self, db: sqlite3.Connection) -> None:
        """A long burst of writes never leaves a gap to catch up in: past the
        hard limit, wait for the writer once and restart the log (one save
        pays for it, as it would with SQLite's own checkpoints)."""
        try:
            db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.checkpoints += 1
        except sqlite3.Error:
            pass

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        # PASSIVE never waits for readers or writers. Saves keep appending
        # while it copies; short passes over what they added catch up, and a
        # WAL checkpointed to its last frame is restarted (and truncated) by
        # the next write, so the file stays bounded under a steady stream.
        try:
            for _ in range(CATCH_UP_PASSES):
                _busy, log, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.checkpoints += 1
                if done >= log:
                    break
        except sqlite3.Error:
            return  # the store is busy or going away; the next poll retries
