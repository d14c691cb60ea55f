"""`kioku-mesh hook CLIENT EVENT`: the command Claude Code, Codex CLI and Gemini CLI run.

The client passes its event as JSON on stdin and parses our stdout in its own
format. A hook sits in the path of every session start, so it fails open
(ADR 0021): any error, a locked store, a broken config, no store at all, or
running out of time prints nothing the client could act on (nothing, or `{}`
for Gemini, whose stdout must be JSON) and exits 0. A watchdog thread enforces
the time budget even while the main thread waits inside SQLite.

Started through cli.main before the argument parser is built, and imports only
what the event needs: this runs at every session start.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

BUDGET_S = 1.0  # hard stop; the target is far lower (docs/benchmarks.md, SessionStart)
MAX_INPUT = 1 << 20
# The agent family each client's MCP entry sets (api.mcp_install.CLIENTS; a test checks).
FAMILY = {"claude-code": "claude", "codex": "codex", "gemini": "gemini"}
KIND = {"SessionStart": "start", "PreCompact": "compact", "PreCompress": "compact", "Stop": "stop"}


class _Output:
    """Writes exactly one answer: the real one, or the fail-open one when time runs out."""

    def __init__(self, client: str) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.empty = "{}" if client == "gemini" else ""

    def write(self, answer: dict[str, Any] | None) -> None:
        text = json.dumps(answer) if answer else self.empty
        with self.lock:
            if self.done:
                return
            self.done = True
            _write_fd(text)

    def give_up(self) -> None:
        with self.lock:
            if not self.done:
                self.done = True
                _write_fd(self.empty)
        os._exit(0)  # the main thread may be stuck in C (a busy store): do not wait for it


def _write_fd(text: str) -> None:
    data = (text + "\n").encode() if text else b""
    try:
        while data:
            data = data[os.write(1, data):]
    except OSError:
        pass


def _budget() -> float:
    value = os.environ.get("KIOKU_MESH_HOOK_BUDGET_MS")
    try:
        return float(value) / 1000 if value else BUDGET_S
    except ValueError:
        return BUDGET_S


def run(argv: list[str]) -> int:
    client = argv[0] if argv else ""
    out = _Output(client)
    watchdog = threading.Timer(_budget(), out.give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        if len(argv) != 2 or client not in FAMILY:
            raise ValueError(f"usage: kioku-mesh hook {{{','.join(FAMILY)}}} EVENT")
        out.write(handle(client, argv[1], _read_event()))
    except BaseException as exc:  # noqa: BLE001 - fail open, whatever it was
        out.write(None)
        print(f"kioku-mesh hook: skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    watchdog.cancel()
    return 0


def _read_event() -> dict[str, Any]:
    if sys.stdin is None or sys.stdin.isatty():
        return {}  # run by hand: the current directory, no session
    raw = sys.stdin.buffer.read(MAX_INPUT)
    if not raw.strip():
        return {}
    data = json.loads(raw)
    return data if isinstance(data, dict) else {}


def handle(client: str, event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to one event, as the client's JSON; None: say nothing."""
    kind = KIND.get(event)
    if kind is None or (kind == "stop" and payload.get("stop_hook_active")):
        return None  # a continuation we caused: never ask twice in a row
    from ..core import session_marker as sm
    from ..core.config import load_settings

    cwd = Path(str(payload.get("cwd") or os.getcwd()))
    settings = load_settings(cwd, warn=False)
    if not settings.db_path.is_file():
        return None  # no store on this host: nothing to recall, and no reason to create one
    session = str(payload.get("session_id") or "")
    family = FAMILY[client]
    if kind == "start":
        return _session_start(client, session, family, settings, cwd,
                              str(payload.get("source") or payload.get("trigger") or "startup"))
    marker = sm.load_marker(sm.marker_path(settings.state_dir, client, session)) if session else None
    if marker is None:
        return None  # no start time known: cannot tell what this session saved
    if kind == "stop" and (marker.reminded or time.time() - marker.started < sm.stop_remind_after()):
        return None  # the common end of a turn: decided without opening the store
    from ..api import hook_context as hc
    from ..api.memory import Memory

    with Memory(settings) as mem:
        if hc.saves_since(mem, marker.started, family):
            return None
    if kind == "compact":
        return {"systemMessage": hc.USER_REMINDER}
    marker.reminded = True
    marker.save()
    return {"decision": "block", "reason": hc.REMINDER}


def _session_start(client: str, session: str, family: str, settings: Any, cwd: Path,
                   source: str) -> dict[str, Any]:
    from ..api import hook_context as hc
    from ..api.memory import Memory
    from ..core.session_marker import start_marker

    marker = start_marker(settings.state_dir, client, session, source) if session else None
    with Memory(settings, cwd=cwd) as mem:
        remind = (source == "compact" and marker is not None
                  and not hc.saves_since(mem, marker.started, family))
        ctx = hc.session_start_context(mem, cwd, remind=remind)
    return {"hookSpecificOutput": {"hookEventName": "SessionStart",
                                   "additionalContext": ctx.text}}
