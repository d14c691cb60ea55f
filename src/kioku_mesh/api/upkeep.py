"""Index upkeep between requests, for a long-lived face such as the MCP server.

Why (ADR 0020): a save that had to merge FTS5 segments or checkpoint the WAL
took 15-150 ms instead of about 1 ms, one save in fifty. A process that
stays up can do that work when no request is waiting: `Upkeep` defers it
(`Store.defer_index_work`) and `run()` does it in steps of a millisecond or
two once requests pause, and at least once a second under steady load so
the segments never pile up. One-shot commands keep SQLite's inline merging.
"""

from __future__ import annotations

import asyncio
import threading
import time

from ..store import Store
from ..store.upkeep import CHECKPOINT_WAL_BYTES, checkpoint, merge_step, wal_bytes

IDLE_S = 0.05  # quiet time before upkeep starts
MAX_DELAY_S = 1.0  # under steady load, a step at least this often
POLL_S = 0.05


class Upkeep:
    def __init__(self, store: Store, lock: threading.Lock | None = None) -> None:
        self.store = store
        self.lock = lock or threading.Lock()
        self._last_request = time.monotonic()
        store.defer_index_work()

    def request_started(self) -> None:
        """Called by the face on every request: upkeep waits for a pause."""
        self._last_request = time.monotonic()

    def _idle(self) -> bool:
        return time.monotonic() - self._last_request >= IDLE_S

    def step(self) -> bool:
        """One merge step; True while there is more to do."""
        with self.lock:
            return merge_step(self.store)

    def _checkpoint(self) -> int:
        try:
            return checkpoint(self.store)
        except Exception:  # noqa: BLE001 - a busy or vanished file: the next round retries
            return 0

    async def run(self) -> None:
        """Until cancelled: merge when idle (or overdue), checkpoint when the
        WAL has grown. Errors (e.g. a locked store) wait for the next round."""
        seen = -1  # this connection's change count after the last full merge
        last_step = 0.0
        checkpointing: asyncio.Task[int] | None = None
        while True:
            await asyncio.sleep(POLL_S)
            if (checkpointing is None or checkpointing.done()) and (
                    wal_bytes(self.store) >= CHECKPOINT_WAL_BYTES):
                checkpointing = asyncio.create_task(asyncio.to_thread(self._checkpoint))
            if self.store.db.total_changes == seen:
                continue
            if not self._idle() and time.monotonic() - last_step < MAX_DELAY_S:
                continue
            try:
                while True:
                    more = self.step()
                    last_step = time.monotonic()
                    if not more:
                        seen = self.store.db.total_changes
                        break
                    await asyncio.sleep(0)  # let a waiting request in first
                    if not self._idle():
                        break
            except Exception:  # noqa: BLE001 - upkeep must never take the server down
                continue
