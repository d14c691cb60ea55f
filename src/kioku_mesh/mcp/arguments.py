"""Tool arguments as agents send them, checked before the SDK sees them.

The SDK drops arguments a tool does not declare, so a misnamed filter
(`memory_type` where the tool says `memory_types`) used to give an
unfiltered answer the agent took for a filtered one. Here every argument
is either a parameter of the tool, another name of one (ALIASES: the names
the same thing has in another tool, the wire format or the CLI), or an
error that names the valid ones and the closest match (ADR 0014).
"""

from __future__ import annotations

import difflib
from typing import Any

from ..core.errors import ValidationError

# Other names of one parameter, tried in order: the first that the tool
# declares wins. Keys are what an agent may send.
ALIASES: dict[str, tuple[str, ...]] = {
    "memory_type": ("memory_types",),
    "memory_types": ("memory_type",),
    "type": ("memory_type", "memory_types"),
    "types": ("memory_types", "memory_type"),
    "tag": ("tags",),
    "observation_id": ("id",),
    "memory_id": ("id",),
    "id": ("msg_id",),
    "message_id": ("msg_id",),
    "scope": ("visibility",),
    "visibility": ("scope",),
    "max_results": ("limit",),
    "text": ("query", "content"),
    "title": ("subject",),
    "source_file": ("source_files",),
    "reference": ("references",),
}


def _is_list_of_strings(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == "array" and o.get("items", {}).get("type") == "string"
               for o in options)


def normalise(tool: str, schema: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments under the tool's own names, "a,b" split where a list is
    expected; ValidationError for an unknown or doubly given argument."""
    props: dict[str, Any] = schema.get("properties") or {}
    out: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for name, value in arguments.items():
        target = name if name in props else next(
            (t for t in ALIASES.get(name, ()) if t in props), None)
        if target is None:
            raise ValidationError(unknown_message(tool, name, list(props)))
        if target in out:
            raise ValidationError(
                f"{tool}: {given_as[target]!r} and {name!r} are the same argument; give one")
        given_as[target] = name
        if isinstance(value, str) and _is_list_of_strings(props[target]):
            value = [part.strip() for part in value.split(",") if part.strip()]
        out[target] = value
    return out


def unknown_message(tool: str, name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (f"{tool} has no argument {name!r}{hint}; its arguments are: "
            f"{', '.join(valid) or 'none'}")
