"""Replace or remove one table of a TOML document by editing its text.

tomllib can only read, and a round trip through a TOML writer would lose the
user's comments and layout. So we cut out the table's own lines (its header up
to the next header, plus its subtables), put the new table there or at the end,
and parse the result: if it is not exactly the data the caller expects, the
edit is refused (UnsafeEdit) instead of written.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                  "\f": "\\f", "\r": "\\r"}


class UnsafeEdit(ValueError):
    """The table is written in a form a line-based edit cannot change safely."""


def toml_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def toml_tables(prefix: list[str], table: dict[str, Any], newline: str = "\n") -> str:
    """`[prefix]` with its plain keys, then one `[prefix.key]` subtable per dict value."""
    lines = ["[" + ".".join(toml_key(p) for p in prefix) + "]"]
    subtables = []
    for key, value in table.items():
        if isinstance(value, dict):
            subtables.append((key, value))
        else:
            lines.append(f"{toml_key(key)} = {_toml_value(value)}")
    text = newline.join(lines) + newline
    for key, value in subtables:
        text += newline + toml_tables([*prefix, key], value, newline)
    return text


def _lines(text: str) -> list[str]:
    # Split on "\n" only: other characters splitlines() honours are not TOML newlines.
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


class _Scanner:
    """What a TOML line leaves open: a multi-line string, or the brackets of a value.

    A line starting with "[" is a table header only when nothing is open;
    inside a multi-line array or string it is just data.
    """

    def __init__(self) -> None:
        self.string: str | None = None  # '"""' or "'''" while inside one
        self.depth = 0

    @property
    def idle(self) -> bool:
        return self.string is None and self.depth == 0

    def feed(self, line: str) -> None:
        i = 0
        while i < len(line):
            if self.string:
                end = self._close_multiline(line, i)
                if end < 0:
                    return
                self.string, i = None, end
                continue
            ch = line[i]
            if ch == "#":
                return
            if line.startswith(('"""', "'''"), i):
                self.string, i = line[i:i + 3], i + 3
            elif ch in "\"'":
                i = self._close_single(line, i)
            else:
                if ch in "[{":
                    self.depth += 1
                elif ch in "]}":
                    self.depth = max(0, self.depth - 1)
                i += 1

    def _close_multiline(self, line: str, i: int) -> int:
        delim = self.string or ""
        while i < len(line):
            if delim == '"""' and line[i] == "\\":
                i += 2
            elif line.startswith(delim, i):
                i += 3
                extra = 0  # up to two quotes right before the delimiter belong to the string
                while extra < 2 and i < len(line) and line[i] == delim[0]:
                    i, extra = i + 1, extra + 1
                return i
            else:
                i += 1
        return -1

    @staticmethod
    def _close_single(line: str, i: int) -> int:
        quote, j = line[i], i + 1
        while j < len(line):
            if quote == '"' and line[j] == "\\":
                j += 2
            elif line[j] == quote:
                return j + 1
            else:
                j += 1
        return j


def _header_key(line: str) -> list[str]:
    # tomllib decodes the quoting and escapes of the header for us.
    try:
        node: Any = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return []
    parts: list[str] = []
    while True:
        if isinstance(node, list):
            node = node[-1] if node else {}
        if not isinstance(node, dict) or len(node) != 1:
            return parts
        key = next(iter(node))
        parts.append(key)
        node = node[key]


def _headers(lines: list[str]) -> list[tuple[int, list[str]]]:
    found = []
    scanner = _Scanner()
    for index, line in enumerate(lines):
        if scanner.idle and line.lstrip().startswith("["):
            found.append((index, _header_key(line)))
        else:
            scanner.feed(line)
    return found


def _blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _blocks(lines: list[str], prefix: list[str]) -> list[tuple[int, int]]:
    """Line ranges of the tables whose key starts with prefix (the table and its subtables).

    Comments just above the next header describe that next table, so they stay.
    """
    headers = _headers(lines)
    ranges = []
    for pos, (start, key) in enumerate(headers):
        if key[: len(prefix)] != prefix:
            continue
        end = headers[pos + 1][0] if pos + 1 < len(headers) else len(lines)
        cut = end
        while cut > start + 1 and _blank_or_comment(lines[cut - 1]):
            cut -= 1
        if not any(lines[j].strip().startswith("#") for j in range(cut, end)):
            cut = end
        ranges.append((start, cut))
    return ranges


def replace_table(text: str, key: list[str], table: dict[str, Any] | None,
                  expected: dict[str, Any]) -> str:
    """text with the table at key (and its subtables) set to table, or removed when None.

    expected is the data the new text must parse to; anything else raises UnsafeEdit.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = _lines(text)
    ranges = _blocks(lines, key)
    removed = {i for start, end in ranges for i in range(start, end)}
    kept = [line for i, line in enumerate(lines) if i not in removed]
    if table is None:
        result = "".join(kept)
        if ranges and ranges[-1][1] == len(lines):
            result = result.rstrip("\r\n") + newline if result.strip() else ""
    else:
        block = toml_tables(key, table, newline)
        if ranges:  # replace in place, so the diff shows only this table
            at = ranges[0][0]
            after = kept[at:]
            separator = newline if after and after[0].strip() else ""
            result = "".join(kept[:at]) + block + separator + "".join(after)
        else:
            result = "".join(kept)
            if result and not result.endswith("\n"):
                result += newline
            if result.strip() and not result.endswith(newline + newline):
                result += newline
            result += block
    try:
        got = tomllib.loads(result)
    except tomllib.TOMLDecodeError:
        raise UnsafeEdit("the edited text would not parse") from None
    if _canonical(got, key[0]) != _canonical(expected, key[0]):
        raise UnsafeEdit("the edited text would not hold the expected data")
    return result


def _canonical(data: dict[str, Any], top: str) -> str:
    # An emptied parent table vanishes when its last subtable goes; that is not a difference.
    if data.get(top) == {}:
        data = {k: v for k, v in data.items() if k != top}
    return json.dumps(data, sort_keys=True, default=str)
