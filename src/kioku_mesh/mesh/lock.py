"""One node per state dir.

Two nodes on one store would publish every change twice and overwrite each
other's status file, so `status` could not tell which one it describes. A
node holds an exclusive lock on `node.lock` for its lifetime (the kernel
drops it when the process dies, however it dies); the pid written in the
file names the holder for the refusal message.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import KiokuError

LOCK_FILE = "node.lock"


class NodeRunningError(KiokuError):
    """Another node already runs on this state dir."""


@contextmanager
def node_lock(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise NodeRunningError(
                f"a mesh node already runs on {state_dir} (pid {holder}): stop it first, "
                "or give this one its own KIOKU_MESH_STATE_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing drops the lock
