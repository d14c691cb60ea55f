"""Export to and import from JSONL in the wire format.

Import is idempotent by observation_id, keeps unknown fields, reports bad
lines by number and keeps the good ones. A line is checked as strictly as a
save (it is this host writing it) and its secrets are redacted the same way:
only records arriving from peers get the tolerant read (ADR 0002, 0014). A line shaped like a tombstone
(observation_id + deleted_at, no content) is imported as a tombstone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ValidationError
from ..core.models import (
    LIST_FIELDS,
    STR_FIELDS,
    Observation,
    Tombstone,
    derive_summary,
    new_id,
    validate_new,
)
from ..core.timeutil import now_wire
from ..store.search import SearchQuery
from .memory import Memory

# Memories per transaction, or fewer when their lines pass BATCH_CHARS. Big
# batches make big FTS5 segments (Store.add_observations(bulk=True)), so the
# indexes are merged less often; 10,000 typical memories are ~35 MiB of index.
BATCH = 10_000
BATCH_CHARS = 48 * 1024 * 1024
EXPORT_ALL = 1_000_000  # an export of a filtered set is every match, not a page


@dataclass
class ImportReport:
    added: int = 0
    existing: int = 0
    tombstones: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0
    # Secrets replaced on the way in: kind -> count, and in how many memories.
    redactions: dict[str, int] = field(default_factory=dict)
    redacted_memories: int = 0


def export_lines(mem: Memory, *, include_tombstones: bool = True) -> Iterator[str]:
    for obs in mem.store.iter_observations():
        yield obs.to_json()
    if include_tombstones:
        for tomb in mem.store.iter_tombstones():
            yield tomb.to_json()


def _is_tombstone(data: dict[str, Any]) -> bool:
    return "deleted_at" in data and "content" not in data and "subject" not in data


def _check_types(data: dict[str, Any]) -> None:
    for name in STR_FIELDS:
        if name in data and not isinstance(data[name], str):
            raise ValidationError(f"{name} must be a string")
    for name in LIST_FIELDS:
        value = data.get(name)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            raise ValidationError(f"{name} must be a list of strings")
    imp = data.get("importance")
    if imp is not None and (isinstance(imp, bool) or not isinstance(imp, int) or not 1 <= imp <= 5):
        raise ValidationError("importance must be an integer from 1 to 5")


def parse_line(mem: Memory, text: str, *, allow_secrets: bool = False,
               report: ImportReport | None = None) -> Observation | Tombstone:
    """One import line as a record to store: checked like a save (values,
    times, sizes) and with secrets redacted unless `allow_secrets`; fields
    this version does not know ride along (ADR 0002)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValidationError("not a JSON object")
    return check_record(mem, data, text=text, allow_secrets=allow_secrets, report=report)


def check_record(mem: Memory, data: dict[str, Any], *, text: str | None = None,
                 allow_secrets: bool = False, report: ImportReport | None = None
                 ) -> Observation | Tombstone:
    """One decoded import record as a record to store (see parse_line); the
    source importers (api.importing) build such records and come through here
    too, so every import is checked and redacted the same way (ADR 0015).
    `text` is the record's JSON line when there is one (a cheaper UTF-8 check)."""
    try:  # a lone surrogate escape ("\\ud800") anywhere cannot be stored as UTF-8
        # It can only come from a \u escape or be in the line as is (a str
        # line): without a "\u", encoding the line is the same check, cheaper.
        if text is None or "\\u" in text:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        else:
            text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("contains a \\u escape that is not valid UTF-8 (lone surrogate)") from None
    if _is_tombstone(data):
        return Tombstone.from_wire(data)
    _check_types(data)
    data = dict(data)
    if not data.get("observation_id"):
        # A new memory written by hand: it gets an id and, unless it says, mesh visibility.
        data["observation_id"] = new_id()
        data.setdefault("visibility", "mesh")
    # What a hand-written line leaves out is filled in as a save would.
    ident = mem.identity
    data.setdefault("created_at", now_wire())
    data.setdefault("memory_type", "note")
    for name in ("agent_family", "client_id", "pc_id", "session_id"):
        data.setdefault(name, getattr(ident, name))
    obs = Observation.from_wire(data)
    if not obs.subject.strip() and obs.content.strip():
        obs.subject = derive_summary(obs.content, 80)
    if not allow_secrets:
        from ..core.redact import redact_observation

        obs, found = redact_observation(obs, mem.redaction_allowlist)
        if found and report is not None:
            report.redacted_memories += 1
            for r in found:
                report.redactions[r.kind] = report.redactions.get(r.kind, 0) + r.count
    validate_new(obs, mem.settings.limits, imported=True)
    return obs


def import_lines(
    mem: Memory,
    lines: Iterable[str | bytes],
    *,
    progress: Callable[[int], None] | None = None,
    allow_secrets: bool = False,
    workers: int = 0,
) -> ImportReport:
    """Import JSONL lines; `workers` > 0 checks them in that many forked
    processes while this one writes (see line_parsing.worker_count)."""
    from .line_parsing import LineContext, checked_chunks

    report = ImportReport()
    obs_batch: list[Observation] = []
    tomb_batch: list[Tombstone] = []
    text_chars = 0

    def flush() -> None:
        nonlocal text_chars
        text_chars = 0
        if obs_batch:
            added = mem.store.add_observations(obs_batch, origin="import", bulk=True)
            report.added += added
            report.existing += len(obs_batch) - added
            obs_batch.clear()
        if tomb_batch:
            report.tombstones += mem.store.add_tombstones(tomb_batch, origin="import")
            tomb_batch.clear()

    ctx = LineContext(mem.identity, mem.redaction_allowlist if not allow_secrets else None,
                      mem.settings)
    for chunk in checked_chunks(ctx, lines, allow_secrets=allow_secrets, workers=workers):
        report.lines = chunk.last_line
        report.errors.extend(chunk.errors)
        report.redacted_memories += chunk.redacted_memories
        for kind, count in chunk.redactions.items():
            report.redactions[kind] = report.redactions.get(kind, 0) + count
        for item in chunk.items:
            (tomb_batch if isinstance(item, Tombstone) else obs_batch).append(item)  # type: ignore[arg-type]
        text_chars += chunk.chars
        if len(obs_batch) + len(tomb_batch) >= BATCH or text_chars >= BATCH_CHARS:
            flush()
            if progress:
                progress(chunk.last_line)
    flush()
    if progress:
        progress(report.lines)
    return report


def export_matching(mem: Memory, query: SearchQuery) -> Iterator[str]:
    """The memories a search finds (every one, not a page of them), as JSONL in
    the wire format: an export of a filtered set that `import` reads back."""
    from dataclasses import replace

    result = mem.search(replace(query, limit=EXPORT_ALL, offset=0, explain=False))
    for hit in result.hits:
        yield hit.observation.to_json()
