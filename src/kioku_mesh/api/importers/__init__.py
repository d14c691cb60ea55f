"""Readers of other tools' memory and instruction files (one module a format).

`parse(fmt, path, project)` returns drafts and problems; nothing here touches
the store. `api.importing` checks, redacts and writes them.
"""

from __future__ import annotations

from pathlib import Path

from .common import Draft, Parsed

# name -> what PATH may be (shown in help and errors)
FORMATS = {
    "claude-md": "a CLAUDE.md file, or a directory holding one",
    "agents-md": "an AGENTS.md file, or a directory holding one",
    "gemini-md": "a GEMINI.md file, or a directory holding one",
    "cursor": "a repository (its .cursor/rules/*.mdc and .cursorrules), a rules directory or one file",
    "mcp-memory": "the official MCP memory server's memory.json (JSONL knowledge graph)",
    "mcp-memory-service": "an mcp-memory-service JSON export",
    "basic-memory": "a basic-memory project directory (its notes, recursively) or one note",
}

__all__ = ["FORMATS", "Draft", "Parsed", "parse"]


def parse(fmt: str, path: Path, project: str | None = None) -> Parsed:
    """`project` None: the format's own default (the repository for
    instruction files and Cursor rules, none for the memory tools)."""
    if fmt in ("claude-md", "agents-md", "gemini-md"):
        from . import instructions

        return instructions.parse(path, fmt, project)
    if fmt == "cursor":
        from . import cursor

        return cursor.parse(path, project)
    if fmt == "mcp-memory":
        from . import mcp_memory

        return mcp_memory.parse(path, project)
    if fmt == "mcp-memory-service":
        from . import mcp_memory_service

        return mcp_memory_service.parse(path, project)
    if fmt == "basic-memory":
        from . import basic_memory

        return basic_memory.parse(path, project)
    raise ValueError(f"unknown import format {fmt!r}")
