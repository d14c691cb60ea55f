"""Which coding agents are installed for this user: their config dirs and their binaries.

A client counts as installed when its config directory exists (it writes one
on first run) or its command is on PATH (installed, never run yet). Both are
looked up under HOME and PATH as given, so a test or a demo can point them at
a throw-away home.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .mcp_install import config_path, get_client

# setup wires these, in this order; the last two get only the MCP server
# (they have neither the hooks nor an instruction file this tool writes).
SETUP_CLIENTS = ("claude-code", "codex", "gemini", "cursor", "claude-desktop")

_BINARIES = {
    "claude-code": ("claude",),
    "codex": ("codex",),
    "gemini": ("gemini",),
    "cursor": ("cursor", "cursor-agent"),
    "claude-desktop": (),
}


@dataclass
class Detection:
    client: str
    label: str
    evidence: list[str] = field(default_factory=list)  # what showed it is installed

    @property
    def found(self) -> bool:
        return bool(self.evidence)


def _config_dirs(client: str, environ: dict[str, str], home: Path) -> list[Path]:
    if client == "claude-code":
        base = environ.get("CLAUDE_CONFIG_DIR")
        return [Path(base).expanduser()] if base else [home / ".claude"]
    if client == "codex":
        base = environ.get("CODEX_HOME")
        return [Path(base).expanduser() if base else home / ".codex"]
    if client == "gemini":
        return [home / ".gemini"]
    if client == "cursor":
        return [home / ".cursor"]
    return [config_path(client, environ, sys.platform, home).parent]


def _short(path: Path, home: Path) -> str:
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


def detect_one(client: str, environ: dict[str, str] | None = None,
               home: Path | None = None) -> Detection:
    environ = dict(os.environ) if environ is None else environ
    home = home or Path.home()
    found = Detection(client, get_client(client).label)
    for folder in _config_dirs(client, environ, home):
        if folder.is_dir():
            found.evidence.append(f"{_short(folder, home)} exists")
    if client == "claude-code" and (home / ".claude.json").is_file():
        found.evidence.append("~/.claude.json exists")
    for binary in _BINARIES[client]:
        where = shutil.which(binary, path=environ.get("PATH", os.defpath))
        if where:
            found.evidence.append(f"`{binary}` on PATH ({where})")
    return found


def detect(environ: dict[str, str] | None = None, home: Path | None = None) -> list[Detection]:
    """Every client setup knows, installed or not (see Detection.found)."""
    return [detect_one(c, environ, home) for c in SETUP_CLIENTS]
