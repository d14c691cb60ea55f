"""What every source format shares: the draft record, stable ids, front
matter, Markdown sections and the project a file belongs to.

Parsers are pure (files in, drafts and problems out); `api.importing` turns
drafts into memories through the same checks and redaction as any import.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.models import MEMORY_TYPES, PROJECT_RE


@dataclass
class Draft:
    """One memory to import, before checks and redaction.

    `key` names where it came from (format, project, file, section) and is
    the same on every run, so its id is too: re-importing adds nothing.
    `location` is what a person reads in a report (file:line)."""

    key: str
    location: str
    subject: str
    content: str
    project: str = ""
    tags: list[str] = field(default_factory=list)
    memory_type: str = "note"
    importance: int = 2
    created_at: str = ""
    source_files: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    # Kept on the memory as extra wire fields (ADR 0002): where it was imported from.
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Parsed:
    drafts: list[Draft] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (location, what is wrong)
    files: list[str] = field(default_factory=list)

    def problem(self, location: str, message: str) -> None:
        self.problems.append((location, message))


def stable_id(key: str) -> str:
    """32 hex characters derived from the source key (not random): the same
    section imported twice, here or on another host, is the same memory."""
    return hashlib.sha256(b"kioku-mesh import\0" + key.encode("utf-8")).hexdigest()[:32]


def read_text(path: Path, parsed: Parsed, label: str) -> str | None:
    """The file as UTF-8 text, or None with the reason recorded."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        parsed.problem(label, f"cannot read: {exc.strerror or exc}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        parsed.problem(f"{label}:{line}", "not valid UTF-8")
        return None


def mtime_wire(path: Path) -> str:
    from ...core.timeutil import format_ts

    try:
        return format_ts(path.stat().st_mtime)
    except OSError:
        return ""


# ------------------------------------------------------------- front matter


class FrontMatterError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def split_front_matter(text: str, *, lenient: bool = False) -> tuple[dict[str, Any], str, int]:
    """(front matter, body, line number where the body starts). A file without
    a leading `---` line has no front matter. `lenient` (Cursor, which writes
    values YAML cannot read, such as `globs: *.ts`): a block that fails YAML
    but is all `key: value` lines is read as plain strings."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text, 1
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise FrontMatterError(1, "front matter opened by `---` is never closed")
    block = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1:])
    return _front_matter_values(block, lenient), body, end + 2


def _front_matter_values(block: str, lenient: bool) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(block) if block.strip() else {}
    except yaml.YAMLError as exc:
        plain = _plain_pairs(block) if lenient else None
        if plain is not None:
            return plain
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 1
        reason = getattr(exc, "problem", None) or "not valid YAML"
        raise FrontMatterError(line, f"front matter: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FrontMatterError(2, "front matter is not a mapping of keys to values")
    return {str(k): v for k, v in data.items()}


_PAIR = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")


def _plain_pairs(block: str) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for line in block.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _PAIR.match(line)
        if not m:
            return None
        out[m.group(1)] = m.group(2).strip()
    return out


def as_list(value: Any) -> list[str]:
    """A front-matter list, or a comma-separated string, as clean strings."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(v).strip() for v in items if str(v).strip()]


# --------------------------------------------------------- markdown sections


@dataclass
class Section:
    path: list[str]  # headings from the top down to this one
    level: int
    line: int  # of its heading (or of the first line, for the text before any heading)
    body: str


_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


def sections(body: str, first_line: int = 1, *, keep_empty: bool = False) -> list[Section]:
    """Split Markdown at ATX headings (not inside code fences). The text
    before the first heading is a section with an empty path. Sections
    without text are left out unless `keep_empty`."""
    out: list[Section] = []
    stack: list[tuple[int, str]] = []
    current = Section([], 0, first_line, "")
    buf: list[str] = []
    fence = ""
    for offset, line in enumerate(body.split("\n")):
        m_fence = _FENCE.match(line)
        if m_fence:
            mark = m_fence.group(1)
            if not fence:
                fence = mark[0] * len(mark)
            elif mark.startswith(fence):
                fence = ""
        m = None if fence or m_fence else _HEADING.match(line)
        if m is None:
            buf.append(line)
            continue
        current.body = "\n".join(buf).strip("\n")
        out.append(current)
        buf = []
        level, title = len(m.group(1)), m.group(2).strip()
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        current = Section([t for _, t in stack], level, first_line + offset, "")
    current.body = "\n".join(buf).strip("\n")
    out.append(current)
    return out if keep_empty else [s for s in out if s.body.strip()]


def keyed(sections_: list[Section]) -> list[tuple[str, Section]]:
    """A key per section that stays put when other sections are added:
    its heading path, numbered only when two sections share it."""
    seen: dict[str, int] = {}
    out = []
    for sec in sections_:
        base = " > ".join(sec.path)
        seen[base] = seen.get(base, 0) + 1
        out.append((base if seen[base] == 1 else f"{base} #{seen[base]}", sec))
    return out


# ------------------------------------------------------------------- project


def find_root(start: Path) -> tuple[Path | None, str]:
    """The repository a path belongs to and its project name: the nearest
    `.kioku-mesh.yaml` naming a project, else the git root's directory name,
    else (None, "")."""
    from ...core.config import PROJECT_FILE, read_yaml

    here = start.resolve()
    if here.is_file():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            name = read_yaml(candidate).get("project")
            if isinstance(name, str) and name.strip():
                return directory, project_name(name)
        if (directory / ".git").exists():
            return directory, project_name(directory.name)
    return None, ""


def project_name(text: str) -> str:
    """A directory name as a valid project name (letters, digits, . _ - ...)."""
    name = text.strip()
    if PROJECT_RE.match(name):
        return name
    name = re.sub(r"[^A-Za-z0-9._/@:+-]+", "-", name).strip("-._/@:+")[:128]
    return name if PROJECT_RE.match(name) else ""


def relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def memory_type(value: Any, default: str = "note") -> str:
    """A source's type name as one of ours (their names are free text)."""
    text = str(value or "").strip().lower()
    if text in MEMORY_TYPES:
        return text
    for ours, words in _TYPE_WORDS:
        if any(w in text for w in words):
            return ours
    return default


_TYPE_WORDS = (
    ("decision", ("decision", "decide", "adr")),
    ("bug", ("bug", "error", "fix", "issue", "incident")),
    ("pattern", ("pattern", "convention", "practice", "rule", "guideline", "style")),
    ("config", ("config", "setting", "setup", "environment")),
    ("summary", ("summary", "session")),
)


def tag(text: str) -> str:
    """A source's label as one tag: no commas or line breaks, at most 64 characters."""
    return re.sub(r"[\s,]+", "-", str(text).strip()).strip("-")[:64]


def tags(*groups: Any, limit: int = 32) -> list[str]:
    out: list[str] = []
    for group in groups:
        for item in (group if isinstance(group, list) else [group]):
            t = tag(item)
            if t and t not in out:
                out.append(t)
    return out[:limit]
