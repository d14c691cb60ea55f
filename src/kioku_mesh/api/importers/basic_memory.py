"""basic-memory notes: Markdown files with front matter (title, type, tags,
permalink) whose `## Observations` lines read `- [category] text #tag
(context)` and `## Relations` lines `- relation_type [[Other Note]]`.

One memory per note: subject the title, content the note as written (its
observations and relations are already readable text), tags its front-matter
tags plus every `#tag` of its observations, type from its `type` (or, for a
plain note whose observations are all `[decision]`, a decision). The key is
the permalink, so a note moved to another folder stays the same memory.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...core.timeutil import format_ts, parse_ts
from .common import (
    Draft,
    FrontMatterError,
    Parsed,
    as_list,
    memory_type,
    mtime_wire,
    read_text,
    split_front_matter,
    tags,
)

_OBSERVATION = re.compile(r"^\s*[-*]\s+\[([^\]]+)\]\s+(.+)$")
_HASHTAG = re.compile(r"(?:^|\s)#([\w][\w/-]*)")
_TITLE = re.compile(r"^#\s+(.+?)\s*$", re.M)


def find_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.rglob("*.md")
                  if not any(part.startswith(".") for part in p.relative_to(path).parts))


def parse(path: Path, project: str | None = None) -> Parsed:
    parsed = Parsed()
    base = path if path.is_dir() else path.parent
    for file in find_files(path):
        _parse_note(file, base, parsed, project or "")
    return parsed


def _parse_note(file: Path, base: Path, parsed: Parsed, project: str) -> None:
    rel = file.relative_to(base).as_posix()
    label = str(file)
    text = read_text(file, parsed, label)
    if text is None:
        return
    parsed.files.append(label)
    try:
        meta, body, body_line = split_front_matter(text)
    except FrontMatterError as exc:
        parsed.problem(f"{label}:{exc.line}", str(exc))
        return
    content = body.strip()
    if not content:
        parsed.problem(f"{label}:{body_line}", "the note has no text")
        return
    heading = _TITLE.search(body)
    title = str(meta.get("title") or (heading.group(1) if heading else file.stem)).strip()
    categories = []
    hashtags: list[str] = []
    for line in body.split("\n"):
        m = _OBSERVATION.match(line)
        if m:
            categories.append(m.group(1).strip().lower())
            hashtags += _HASHTAG.findall(m.group(2))
    kind = str(meta.get("type") or "note")
    ours = memory_type(kind)
    if ours == "note" and categories and all(c == "decision" for c in categories):
        ours = "decision"
    permalink = str(meta.get("permalink") or rel.removesuffix(".md")).strip()
    created = ""
    for name in ("created", "created_at", "date"):
        value = meta.get(name)
        ts = parse_ts(str(value)) if value else None
        if ts is not None:
            created = format_ts(ts)
            break
    parsed.drafts.append(Draft(
        key=f"basic-memory:{project}:{permalink}",
        location=f"{label}:{body_line}",
        subject=title,
        content=content,
        project=project,
        tags=tags("basic-memory", as_list(meta.get("tags")), hashtags,
                  kind if kind.lower() not in ("note", ours) else []),
        memory_type=ours,
        created_at=created or mtime_wire(file),
        extras={"imported_from": "basic-memory", "permalink": permalink},
    ))
