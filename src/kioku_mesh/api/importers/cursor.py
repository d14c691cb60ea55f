"""Cursor rules: `.cursor/rules/**/*.mdc` (front matter `description`,
`globs`, `alwaysApply`, then the rule in Markdown) and the legacy
`.cursorrules` file.

A `.mdc` rule is one memory (a rule is written as one unit, usually short):
subject the description (else the file name), content the rule with the
globs it applies to. `.cursorrules` is read like CLAUDE.md, one memory per
section.
"""

from __future__ import annotations

from pathlib import Path

from . import instructions
from .common import (
    Draft,
    FrontMatterError,
    Parsed,
    as_list,
    find_root,
    mtime_wire,
    read_text,
    relative,
    split_front_matter,
)


def find_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    rules = path / ".cursor" / "rules"
    base = rules if rules.is_dir() else path
    found = sorted(base.rglob("*.mdc"))
    legacy = path / ".cursorrules"
    return found + ([legacy] if legacy.is_file() else [])


def parse(path: Path, project: str | None = None) -> Parsed:
    parsed = Parsed()
    for file in find_files(path):
        if file.suffix == ".mdc":
            _parse_mdc(file, parsed, project)
        else:
            instructions.parse_file(file, parsed, project=project, kind="cursor-rules",
                                    extra_tags=["cursor", "instructions"])
    return parsed


def _truthy(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def _parse_mdc(file: Path, parsed: Parsed, project: str | None) -> None:
    root, repo_project = find_root(file)
    rel = relative(file, root)
    label = rel if root is not None else str(file)
    text = read_text(file, parsed, label)
    if text is None:
        return
    parsed.files.append(label)
    try:
        meta, body, body_line = split_front_matter(text, lenient=True)
    except FrontMatterError as exc:
        parsed.problem(f"{label}:{exc.line}", str(exc))
        return
    project = repo_project if project is None else project
    description = str(meta.get("description") or "").strip()
    globs = as_list(meta.get("globs"))
    always = _truthy(meta.get("alwaysApply"))
    rule = body.strip()
    if not rule:
        parsed.problem(f"{label}:{body_line}", "the rule has no text after its front matter")
        return
    scope = "always applies" if always else (
        f"applies to {', '.join(globs)}" if globs else "applied when relevant (agent-requested)")
    name = file.stem
    parsed.drafts.append(Draft(
        key=f"cursor-rule:{project}:{rel}",
        location=f"{label}:{body_line}",
        subject=f"Cursor rule {name}: {description}" if description else f"Cursor rule {name}",
        content=f"{rule}\n\n(Cursor rule `{rel}`, {scope}.)",
        project=project,
        tags=["cursor-rule", "instructions", *(["always-apply"] if always else [])],
        memory_type="pattern",
        importance=3,
        created_at=mtime_wire(file),
        source_files=[rel],
        extras={"imported_from": rel, "cursor_globs": globs, "cursor_always_apply": always},
    ))
