"""The official MCP memory server's knowledge graph (its `memory.json`, one
JSON object a line):

    {"type":"entity","name":"...","entityType":"...","observations":["..."]}
    {"type":"relation","from":"...","to":"...","relationType":"..."}

One memory per entity: subject `name (entityType)`, content its observations
as a list, then every relation it takes part in (both ends carry it, so a
search for either name finds it). Observations are facts about one thing and
read best together; a memory per observation would be many tiny memories
without their subject. A relation whose two ends are both missing has nowhere
to go and is reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .common import Draft, Parsed, memory_type, mtime_wire, read_text, tags


def _strings(value: Any) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def parse(path: Path, project: str | None = None) -> Parsed:
    parsed = Parsed()
    label = str(path)
    text = read_text(path, parsed, label)
    if text is None:
        return parsed
    parsed.files.append(label)
    entities: dict[str, tuple[int, dict[str, Any]]] = {}
    relations: list[tuple[int, str, str, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{label}:{number}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            parsed.problem(where, f"not valid JSON ({exc.args[0].split(':')[0]})")
            continue
        if not isinstance(item, dict):
            parsed.problem(where, "not a JSON object")
            continue
        kind = item.get("type")
        if kind == "entity":
            name, observations = item.get("name"), _strings(item.get("observations", []))
            if not isinstance(name, str) or not name.strip():
                parsed.problem(where, "entity without a name")
            elif observations is None:
                parsed.problem(where, f"entity {name!r}: observations must be a list of strings")
            elif name in entities:  # the server never writes two; a hand-edit might
                entities[name][1]["observations"].extend(observations)
            else:
                entities[name] = (number, {"entityType": item.get("entityType"),
                                           "observations": list(observations)})
        elif kind == "relation":
            ends = [item.get(k) for k in ("from", "relationType", "to")]
            if not all(isinstance(v, str) and v.strip() for v in ends):
                parsed.problem(where, "relation needs from, relationType and to (strings)")
            else:
                relations.append((number, str(ends[0]), str(ends[1]), str(ends[2])))
        else:
            parsed.problem(where, f"unknown record type {kind!r} (expected entity or relation)")
    linked: dict[str, list[str]] = {name: [] for name in entities}
    for number, src, rel, dst in relations:
        if src not in entities and dst not in entities:
            parsed.problem(f"{label}:{number}", f"relation {src} -{rel}-> {dst}: "
                           "neither entity is in the file")
            continue
        for end in {src, dst} & entities.keys():
            linked[end].append(f"{src} {rel} {dst}")
    project = project or ""
    created = mtime_wire(path)
    for name, (number, entity) in entities.items():
        kind = str(entity["entityType"] or "").strip()
        lines = [f"- {o.strip()}" for o in entity["observations"] if o.strip()]
        if linked[name]:
            lines += ["", "Relations:", *(f"- {r}" for r in linked[name])]
        if not lines:
            parsed.problem(f"{label}:{number}", f"entity {name!r} has no observations or "
                           "relations: nothing to import")
            continue
        parsed.drafts.append(Draft(
            key=f"mcp-memory:{project}:{name}",
            location=f"{label}:{number}",
            subject=f"{name} ({kind})" if kind else name,
            content="\n".join(lines),
            project=project,
            tags=tags("mcp-memory", kind),
            memory_type=memory_type(kind),
            created_at=created,
            extras={"imported_from": "mcp-memory", "entity_name": name},
        ))
    return parsed
