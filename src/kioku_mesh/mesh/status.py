"""The running node's status file, read by `kioku-mesh status` (no zenoh import)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..core.timeutil import pid_alive

STATUS_FILE = "node-status.json"
STALE_AFTER_S = 5.0


def write_status(path: Path, data: dict[str, Any]) -> None:
    # Per thread: the status and sync threads both write it.
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """The node's last status, with `running` true only if it is fresh and alive."""
    try:
        data = json.loads((state_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    fresh = time.time() - float(data.get("updated", 0)) < STALE_AFTER_S
    data["running"] = bool(fresh and data.get("state") == "running" and pid_alive(data.get("pid")))
    return data
