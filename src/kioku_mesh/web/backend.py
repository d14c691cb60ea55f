"""The dashboard's one `Memory` and the lock around it.

Starlette runs plain routes on worker threads; the store's connection is one
sqlite3 connection, so calls into the API take turns (they take milliseconds).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

from ..api import Memory

T = TypeVar("T")


class Backend:
    def __init__(self, memory: Memory) -> None:
        self.mem = memory
        self._lock = threading.Lock()

    def call(self, fn: Callable[[Memory], T]) -> T:
        with self._lock:
            return fn(self.mem)

    async def run(self, fn: Callable[[Memory], T]) -> T:
        return await anyio.to_thread.run_sync(self.call, fn)

    def close(self) -> None:
        with self._lock:
            self.mem.close()
