"""mcp-memory-service's JSON export (its `memory export` / sync exporter):

    {"export_metadata": {"source_machine": ..., "export_timestamp": ...},
     "memories": [{"content", "content_hash", "tags", "created_at",
                   "updated_at", "memory_type", "metadata", ...}]}

One memory per entry, keyed by its content_hash (so a memory exported from
two machines is imported once). `created_at` is a Unix time (or an ISO
string in older exports); its free-text `memory_type` maps onto ours and the
original is kept as a tag when it differs. A bare list of entries is read too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ...core.timeutil import format_ts, parse_ts
from .common import Draft, Parsed, as_list, memory_type, read_text, tags


def _created(value: Any, fallback: Any) -> str | None:
    for candidate in (value, fallback):
        if isinstance(candidate, (int, float)) and not isinstance(candidate, bool):
            return format_ts(float(candidate))
        if isinstance(candidate, str) and candidate.strip():
            ts = parse_ts(candidate.strip())
            if ts is not None:
                return format_ts(ts)
    return None if value is not None or fallback is not None else ""


def parse(path: Path, project: str | None = None) -> Parsed:
    parsed = Parsed()
    label = str(path)
    text = read_text(path, parsed, label)
    if text is None:
        return parsed
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        parsed.problem(f"{label}:{exc.lineno}", f"not valid JSON ({exc.msg})")
        return parsed
    parsed.files.append(label)
    items = data.get("memories") if isinstance(data, dict) else data
    if not isinstance(items, list):
        parsed.problem(f"{label}:1", "expected an object with a `memories` list (an export)")
        return parsed
    machine = ""
    if isinstance(data, dict) and isinstance(data.get("export_metadata"), dict):
        machine = str(data["export_metadata"].get("source_machine") or "")
    for index, item in enumerate(items):
        where = _where(label, text, index, item)
        if not isinstance(item, dict):
            parsed.problem(where, "entry is not a JSON object")
            continue
        content = item.get("content")
        if not isinstance(content, str) or not content.strip():
            parsed.problem(where, "entry has no content")
            continue
        created = _created(item.get("created_at"), item.get("created_at_iso"))
        if created is None:
            parsed.problem(where, f"created_at {item.get('created_at')!r} is not a time")
            continue
        source_type = str(item.get("memory_type") or "").strip()
        ours = memory_type(source_type)
        digest = item.get("content_hash")
        if not isinstance(digest, str) or not digest.strip():
            digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        parsed.drafts.append(Draft(
            key=f"mcp-memory-service:{digest}",
            location=where,
            subject="",  # derived from the content, as for a hand-written import line
            content=content.strip(),
            project=project or "",
            tags=tags(as_list(item.get("tags")), "mcp-memory-service",
                      source_type if source_type and source_type.lower() != ours else []),
            memory_type=ours,
            created_at=created,
            extras={"imported_from": "mcp-memory-service", "content_hash": digest,
                    **({"source_machine": machine} if machine else {}),
                    **({"source_metadata": meta} if meta else {})},
        ))
    return parsed


def _where(label: str, text: str, index: int, item: Any) -> str:
    """Entries have no line of their own in a JSON document: point at the
    line of their content_hash when there is one, else name the entry."""
    if isinstance(item, dict) and isinstance(item.get("content_hash"), str):
        at = text.find(json.dumps(item["content_hash"]))
        if at >= 0:
            return f"{label}:{text.count(chr(10), 0, at) + 1}"
    return f"{label}: memories[{index}]"
