"""JSONL import lines checked in chunks, here or in worker processes.

Checking a line (JSON, values, sizes, secret redaction) costs more CPU than
storing it: at 10k memories about 150 us a line against 100 us of SQLite
work. For a large file, forked workers check the next chunks while this
process writes the current one (issue 10, item 4: import throughput). The
order of records is kept (results are taken in submission order), so the
same file gives the same store either way.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ValidationError
from ..core.models import Observation, Tombstone

CHUNK_LINES = 1_000
CHUNK_BYTES = 4 * 1024 * 1024  # and at most this much text, so batches stay near BATCH_CHARS
# Below this many bytes of input, starting workers costs more than it saves.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class LineContext:
    """What checking a line needs of a Memory: its identity (for fields a
    hand-written line leaves out), its secret allowlist and its limits."""

    identity: Any
    redaction_allowlist: Any
    settings: Any


@dataclass
class ChunkResult:
    items: list[Observation | Tombstone] = field(default_factory=list)
    chars: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    last_line: int = 0
    redactions: dict[str, int] = field(default_factory=dict)
    redacted_memories: int = 0


def check_chunk(ctx: Any, chunk: list[tuple[int, bytes | str]], allow_secrets: bool) -> ChunkResult:
    from .transfer import ImportReport, parse_line

    out = ChunkResult()
    counts = ImportReport()
    for number, raw in chunk:
        out.last_line = number
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            out.errors.append((number, "not valid UTF-8"))
            continue
        if not text.strip():
            continue
        try:
            out.items.append(parse_line(ctx, text, allow_secrets=allow_secrets, report=counts))
        except ValidationError as exc:
            out.errors.append((number, str(exc)))
            continue
        out.chars += len(text)
    out.redactions, out.redacted_memories = counts.redactions, counts.redacted_memories
    return out


def _chunks(lines: Iterable[bytes | str]) -> Iterator[list[tuple[int, bytes | str]]]:
    chunk: list[tuple[int, bytes | str]] = []
    size = 0
    for number, raw in enumerate(lines, start=1):
        chunk.append((number, raw))
        size += len(raw)
        if len(chunk) >= CHUNK_LINES or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def worker_count(input_bytes: int | None) -> int:
    """Workers worth starting for an input of this size (0: check here)."""
    if input_bytes is None or input_bytes < PARALLEL_MIN_BYTES:
        return 0
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return min(2, os.cpu_count() or 1)


def checked_chunks(ctx: LineContext, lines: Iterable[bytes | str], *, allow_secrets: bool,
                   workers: int = 0) -> Iterator[ChunkResult]:
    """Each chunk of `lines` checked, in input order."""
    if workers <= 0:
        for chunk in _chunks(lines):
            yield check_chunk(ctx, chunk, allow_secrets)
        return
    # fork: the workers start at once with the modules already imported; they
    # only parse, never touch the store this process has open.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    pending: deque[Future[ChunkResult]] = deque()
    try:
        for chunk in _chunks(lines):
            pending.append(pool.submit(check_chunk, ctx, chunk, allow_secrets))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
