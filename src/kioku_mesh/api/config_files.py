"""Change one entry in another tool's JSON or TOML config file, and nothing else.

JSON files are re-serialised with the file's own indentation and newline
style; TOML files are edited as text (toml_edit) to keep comments and layout.
Writes go through a backup and an atomic replace.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import os
import re
import shutil
import stat
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, KiokuError
from .toml_edit import UnsafeEdit, replace_table

_UNTOUCHED = "nothing was changed"


@dataclass
class Document:
    path: Path
    fmt: str  # "json", "toml" or "text"
    text: str | None  # None when the file does not exist
    data: dict[str, Any]

    @property
    def newline(self) -> str:
        return "\r\n" if self.text and "\r\n" in self.text else "\n"


def read_document(path: Path, fmt: str) -> Document:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Document(path, fmt, None, {})
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not valid UTF-8; fix it or move it aside ({_UNTOUCHED})") from None
    # An empty file is what some editors leave behind: treat it as an empty config.
    # fmt "text": a file we edit as lines (an instruction file), not parsed.
    data = _parse(text, fmt, path) if text.strip() and fmt != "text" else {}
    return Document(path, fmt, text, data)


def _parse(text: str, fmt: str, path: Path) -> dict[str, Any]:
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}); "
                              f"fix it or move it aside ({_UNTOUCHED})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} does not hold a JSON object; fix it or move it aside "
                              f"({_UNTOUCHED})")
        return data
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "parse error"
        raise ConfigError(f"{path} is not valid TOML ({detail}); fix it or move it aside "
                          f"({_UNTOUCHED})") from None


def section_of(doc: Document, section: str) -> dict[str, Any]:
    """The table of servers (empty when absent); an error if it is not a table."""
    value = doc.data.get(section, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{doc.path}: {section} is not a table/object; fix it by hand ({_UNTOUCHED})")
    return value


def with_entry(doc: Document, section: str, name: str, entry: dict[str, Any] | None) -> str:
    """The document's new text with data[section][name] set to entry (None removes it)."""
    section_of(doc, section)
    if doc.fmt == "json":
        return _json_with_entry(doc, section, name, entry)
    try:
        return replace_table(doc.text or "", [section, name], entry,
                             _expected(doc, section, name, entry))
    except UnsafeEdit:
        raise ConfigError(
            f"cannot edit {doc.path} safely: {section}.{name} or {section} is written in a form "
            f"this tool does not rewrite (inline table or dotted keys); make the change by hand "
            f"(see docs/mcp-clients.md) ({_UNTOUCHED})"
        ) from None


def _expected(doc: Document, section: str, name: str, entry: dict[str, Any] | None) -> dict[str, Any]:
    data = copy.deepcopy(doc.data)
    servers = data.setdefault(section, {})
    if entry is None:
        servers.pop(name, None)
    else:
        servers[name] = copy.deepcopy(entry)
    return data


# ------------------------------------------------------------------ JSON


def _json_with_entry(doc: Document, section: str, name: str, entry: dict[str, Any] | None) -> str:
    return json_text(doc, _expected(doc, section, name, entry))


def json_text(doc: Document, data: dict[str, Any]) -> str:
    """data as the text of doc's JSON file: its indentation, newline style and final newline."""
    text = json.dumps(data, indent=_json_indent(doc.text or ""), ensure_ascii=False)
    # Keep the file's habit about a final newline, so the diff is only our entry.
    if not (doc.text or "").strip() or (doc.text or "").endswith("\n"):
        text += "\n"
    return text.replace("\n", doc.newline)


def _json_indent(text: str) -> int | str:
    match = re.search(r"\n([ \t]+)\S", text)
    if not match:
        return 2
    return "\t" if match.group(1).startswith("\t") else len(match.group(1))


# ------------------------------------------------------------------ writing


def unified_diff(path: Path, before: str | None, after: str) -> str:
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile="/dev/null" if before is None else str(path),
        tofile=str(path),
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


def real_path(path: Path) -> Path:
    # Dotfile managers symlink config files: write the target, keep the link.
    return Path(os.path.realpath(path))


def backup(path: Path) -> Path | None:
    """Copy the file (if any) to <file>.bak-<timestamp>; returns the copy's path."""
    target = real_path(path)
    if not target.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S")
    copy_path = target.with_name(f"{target.name}.bak-{stamp}")
    counter = 1
    while copy_path.exists():
        copy_path = target.with_name(f"{target.name}.bak-{stamp}-{counter}")
        counter += 1
    try:
        shutil.copy2(target, copy_path)
    except OSError as exc:
        raise KiokuError(f"cannot back up {target}: {exc.strerror or exc} ({_UNTOUCHED})") from None
    return copy_path


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write via a temp file and os.replace: readers see the old or the new file, never half.
    An existing file keeps its mode; a new one gets `mode`."""
    target = real_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            pass  # the default 0600: a config file may come to hold tokens passed with --env
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise KiokuError(f"cannot write {target}: {exc.strerror or exc}") from None


def remove(path: Path) -> None:
    """Delete a config file we created (uninstall of the last entry in it).

    A symlinked file (a dotfiles repository) is emptied instead, so the link stays valid.
    """
    try:
        if path.is_symlink():
            write_atomic(path, "{}\n")
            return
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KiokuError(f"cannot remove {path}: {exc.strerror or exc}") from None


def write_or_unlink(path: Path, text: str | None, mode: int = 0o600) -> None:
    """Write the text atomically, or (None) delete the file: what a restore or an
    uninstall of a file we created does."""
    if text is not None:
        write_atomic(path, text, mode)
        return
    try:
        real_path(path).unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KiokuError(f"cannot remove {path}: {exc.strerror or exc}") from None
