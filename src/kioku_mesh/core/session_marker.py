"""When a coding agent's session began, as the session-start hook recorded it.

The clients give hooks a session id but tell the MCP server nothing about it, so
the hooks keep one small file per session under <state dir>/hook-sessions: the
start time (to tell what this session saved) and whether the Stop reminder was
given. Core, not api: the Stop hook runs at the end of every turn and mostly
needs only this file, not the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

MARKER_DIR = "hook-sessions"
MARKER_MAX_AGE_S = 7 * 86400
STOP_REMIND_AFTER_S = 600.0  # a session younger than this has rarely learnt something to keep


@dataclass
class SessionMarker:
    path: Path
    started: float
    reminded: bool = False

    def save(self) -> None:
        """Write atomically; a marker is a convenience, so failing to write is not an error."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(exist_ok=True)
            tmp.write_text(json.dumps({"started": self.started, "reminded": self.reminded}))
            os.replace(tmp, self.path)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass


def marker_path(state_dir: Path, client: str, session_id: str) -> Path:
    # Hashed: a session id is the client's text, not a safe file name.
    digest = hashlib.sha256(f"{client}\0{session_id}".encode()).hexdigest()[:24]
    return state_dir / MARKER_DIR / f"{digest}.json"


def load_marker(path: Path) -> SessionMarker | None:
    try:
        data = json.loads(path.read_text())
        return SessionMarker(path, float(data["started"]), bool(data.get("reminded", False)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def start_marker(state_dir: Path, client: str, session_id: str, source: str,
                 now: float | None = None) -> SessionMarker:
    """The session's marker: kept when the session goes on (resume, compact), else new."""
    now = time.time() if now is None else now
    path = marker_path(state_dir, client, session_id)
    marker = load_marker(path) if source in ("resume", "compact") else None
    if marker is None:
        marker = SessionMarker(path, now)
        marker.save()
        prune_markers(path.parent, now)
    return marker


def prune_markers(folder: Path, now: float) -> None:
    """Drop markers of sessions that started over a week ago (one stat per file)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if now - entry.stat().st_mtime > MARKER_MAX_AGE_S:
                os.unlink(entry.path)
        except OSError:
            continue


def stop_remind_after() -> float:
    """Seconds a session runs before Stop may remind (KIOKU_MESH_HOOK_STOP_AFTER)."""
    from .config import env

    try:
        return float(env("HOOK_STOP_AFTER") or STOP_REMIND_AFTER_S)
    except ValueError:
        return STOP_REMIND_AFTER_S
