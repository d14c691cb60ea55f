"""What a config file says that kioku-mesh does not read.

A typo (`default_visibilty`) or a value of the wrong type (`listen: 42`)
used to be ignored without a word. `check` walks the parsed YAML against
the keys each file may hold and returns one Problem per finding, with the
file, the line and the likely key; the CLI prints them as warnings and
`doctor` fails on them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STR = "text"
INT = "a whole number"
NUM = "a number"
BOOL = "true or false"
STRS = "a list of text"
MAP = "a mapping"

# key -> expected kind, or a nested mapping of its own keys (None: any keys).
GLOBAL_KEYS: dict[str, Any] = {
    "mode": STR, "user_id": STR, "team_id": STR, "default_visibility": STR,
    "agent_family": STR, "client_id": STR, "session_id": STR, "synchronous": STR,
    "max_content_bytes": INT, "state_dir": STR, "teams": STRS,
    "redaction": {"allowlist": STRS, "allow_patterns": STRS},
    "mesh": {"listen": STRS, "connect": STRS, "tls": BOOL, "sync_interval_s": NUM,
             "multicast": BOOL},
    "tls": {"ca": STR, "cert": STR, "key": STR},
    "acl": {"users": STRS, "teams": None},
}
PROJECT_KEYS: dict[str, Any] = {"default_visibility": STR, "team_id": STR, "project": STR}


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


def _fits(value: Any, kind: str) -> bool:
    if kind == STR:
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, str) and value.strip().isdigit())
    if kind == NUM:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == STRS:
        return isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value))
    return True


def _all_keys(schema: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Every key of the schema by its last name -> dotted path (for `listen` -> mesh.listen)."""
    out: dict[str, str] = {}
    for key, kind in schema.items():
        out.setdefault(key, prefix + key)
        if isinstance(kind, dict):
            for name, path in _all_keys(kind, f"{prefix}{key}.").items():
                out.setdefault(name, path)
    return out


def _likely(name: str, here: dict[str, Any], everywhere: dict[str, str], prefix: str) -> str:
    if name in everywhere and everywhere[name] != prefix + name:
        return f" (did you mean {everywhere[name]}?)"
    close = difflib.get_close_matches(name, list(here), n=1, cutoff=0.75)
    if close:
        return f" (did you mean {prefix}{close[0]}?)"
    close = difflib.get_close_matches(name, list(everywhere), n=1, cutoff=0.75)
    return f" (did you mean {everywhere[close[0]]}?)" if close else ""


def check(path: Path, data: dict[str, Any], lines: dict[str, int], *, project: bool
          ) -> list[Problem]:
    """Problems in one parsed file; `lines` maps dotted keys to 1-based lines."""
    schema = PROJECT_KEYS if project else GLOBAL_KEYS
    everywhere = _all_keys(GLOBAL_KEYS if not project else {**GLOBAL_KEYS, **PROJECT_KEYS})
    problems: list[Problem] = []

    def walk(section: dict[str, Any], keys: dict[str, Any], prefix: str) -> None:
        for name, value in section.items():
            dotted = f"{prefix}{name}"
            line = lines.get(dotted)
            if not isinstance(name, str) or name not in keys:
                if project and isinstance(name, str) and name in GLOBAL_KEYS:
                    msg = f"{name} is only read from the global config file, not a project file"
                else:
                    msg = f"unknown setting {dotted!r}" + _likely(str(name), keys, everywhere, prefix)
                problems.append(Problem(path, line, msg + "; it is ignored"))
                continue
            kind = keys[name]
            if isinstance(kind, dict):
                if value is None:
                    continue
                if not isinstance(value, dict):
                    problems.append(Problem(path, line, f"{dotted} must be {MAP}, "
                                                        f"got {_shown(value)}"))
                    continue
                walk(value, kind, dotted + ".")
            elif kind is not None and value is not None and not _fits(value, kind):
                problems.append(Problem(path, line, f"{dotted} must be {kind}, got {_shown(value)}"))

    walk(data, schema, "")
    return problems


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def key_lines(text: str) -> dict[str, int]:
    """Dotted key -> 1-based line of each mapping key in a YAML text (best effort)."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[str, int] = {}

    def walk(n: Any, prefix: str) -> None:
        if not isinstance(n, yaml.MappingNode):
            return
        for key, value in n.value:
            if isinstance(key, yaml.ScalarNode):
                dotted = prefix + str(key.value)
                out.setdefault(dotted, key.start_mark.line + 1)
                walk(value, dotted + ".")

    walk(node, "")
    return out
