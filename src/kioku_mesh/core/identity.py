"""Who is writing: pc_id (per host, persisted), session_id (per process),
agent_family and client_id (from env/config, else detected, else defaults).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .errors import ConfigError
from .models import is_valid_id, new_id

PC_ID_FILE = "pc_id"
# Coding agents that mark their child processes with an env var: when the CLI
# runs inside one of them, the memory is attributed to that agent.
_AGENT_MARKERS = (
    ("CLAUDECODE", "claude", "claude-code"),
    ("GEMINI_CLI", "gemini", "gemini-cli"),
    ("CODEX_SANDBOX", "codex", "codex-cli"),
    ("CURSOR_AGENT", "cursor", "cursor"),
)
_UNSAFE = re.compile(r"[/*$#?\s]+")

_PROCESS_SESSION: str | None = None


@dataclass(frozen=True)
class Identity:
    agent_family: str
    client_id: str
    pc_id: str
    session_id: str
    user_id: str
    team_id: str


def new_session_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{stamp}-{os.urandom(4).hex()}"


def process_session_id() -> str:
    global _PROCESS_SESSION
    if _PROCESS_SESSION is None:
        _PROCESS_SESSION = new_session_id()
    return _PROCESS_SESSION


def load_pc_id(state_dir: Path) -> str:
    """Read the host's pc_id, creating it atomically on first use."""
    path = state_dir / PC_ID_FILE
    existing = _read_id(path)
    if existing:
        return existing
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create state dir {state_dir}: {exc.strerror}") from None
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".pc_id.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(new_id() + "\n")
        try:
            os.link(tmp, path)  # atomic: exactly one racing process wins
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    winner = _read_id(path)
    if not winner:
        raise ConfigError(f"{path} holds no valid pc_id (32 hex characters); fix or delete it")
    return winner


def _read_id(path: Path) -> str | None:
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    return value if is_valid_id(value) else None


def _safe_segment(value: str) -> str:
    return _UNSAFE.sub("-", value).strip("-") or "unknown"


def detect_agent() -> tuple[str, str] | None:
    for var, family, client in _AGENT_MARKERS:
        if os.environ.get(var):
            return family, client
    return None


def default_client_id() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if not user:
        try:
            import pwd

            user = pwd.getpwuid(os.getuid()).pw_name
        except (ImportError, KeyError, OSError):
            user = "user"
    return _safe_segment(f"{user}@{os.uname().nodename}")


def resolve_identity(settings: Settings) -> Identity:
    detected = detect_agent()
    family = settings.agent_family or (detected[0] if detected else "cli")
    client = settings.client_id or (detected[1] if detected else default_client_id())
    return Identity(
        agent_family=family,
        client_id=client,
        pc_id=load_pc_id(settings.state_dir),
        session_id=settings.session_id or process_session_id(),
        user_id=settings.user_id,
        team_id=settings.team_id,
    )
