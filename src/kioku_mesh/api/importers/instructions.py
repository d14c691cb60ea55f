"""Agent instruction files (CLAUDE.md, AGENTS.md, GEMINI.md): one memory per
section.

A section is a heading and the text under it (up to the next heading of any
level); the text before the first heading is one more. The project is the
repository the file is in; the memory type follows the heading's words
(decisions, build/set-up commands, otherwise a convention to follow).
"""

from __future__ import annotations

import re
from pathlib import Path

from .common import Draft, Parsed, find_root, keyed, mtime_wire, read_text, relative, sections

FILE_NAMES = {"claude-md": "CLAUDE.md", "agents-md": "AGENTS.md", "gemini-md": "GEMINI.md"}

_DECISION = re.compile(r"\b(decisions?|decided|adrs?|why|rationale|architecture)\b", re.I)
_CONFIG = re.compile(r"\b(build|builds|building|set-?up|install\w*|commands?|environment|"
                     r"config\w*|dependenc\w+|running|deploy\w*|tooling)\b", re.I)


def find_files(path: Path, fmt: str) -> list[Path]:
    """A file as given; in a directory, that format's file name."""
    if path.is_dir():
        candidate = path / FILE_NAMES[fmt]
        return [candidate] if candidate.is_file() else []
    return [path]


def section_type(heading_path: list[str]) -> str:
    words = " ".join(heading_path)
    if _DECISION.search(words):
        return "decision"
    if _CONFIG.search(words):
        return "config"
    return "pattern"


def parse(path: Path, fmt: str, project: str | None = None) -> Parsed:
    parsed = Parsed()
    for file in find_files(path, fmt):
        parse_file(file, parsed, project=project, kind=fmt)
    return parsed


def parse_file(file: Path, parsed: Parsed, *, project: str | None, kind: str,
               body: str | None = None, first_line: int = 1, extra_tags: list[str] | None = None
               ) -> None:
    """Also used for `.cursorrules` (plain Markdown rules of the same shape)."""
    root, repo_project = find_root(file)
    rel = relative(file, root)
    label = rel if root is not None else str(file)
    if body is None:
        text = read_text(file, parsed, label)
        if text is None:
            return
        body = text
    parsed.files.append(label)
    project = repo_project if project is None else project
    every = sections(body, first_line, keep_empty=True)
    headings = [s for s in every if s.level]
    # One H1 that comes first is the document's title, not a topic: left out of subjects.
    h1 = [s for s in headings if s.level == 1]
    doc_title = h1[0].path[0] if len(h1) == 1 and headings[0] is h1[0] else None
    found = [s for s in every if s.body.strip()]
    created = mtime_wire(file)
    for key, sec in keyed(found):
        path = sec.path[1:] if doc_title and sec.path[:1] == [doc_title] and len(sec.path) > 1 \
            else sec.path
        subject = " > ".join(path[-2:]) if path else f"{file.name} (introduction)"
        parsed.drafts.append(Draft(
            key=f"{kind}:{project}:{rel}:{key}",
            location=f"{label}:{sec.line}",
            subject=subject,
            content=sec.body.strip(),
            project=project,
            tags=[kind, *(extra_tags or ["instructions"])],
            memory_type=section_type(sec.path),
            importance=3,
            created_at=created,
            source_files=[rel],
            extras={"imported_from": f"{rel}:{sec.line}"},
        ))
