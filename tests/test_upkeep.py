"""Index upkeep off the write path (ADR 0020): a long-lived process's saves skip
FTS5 merges and WAL checkpoints, and its upkeep does them later; nothing a
search returns changes, and other processes keep SQLite's inline merging."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from mcp_helpers import connect, spawned  # noqa: F401 - spawned is a fixture

from kioku_mesh.api import Memory, SearchQuery
from kioku_mesh.api.upkeep import Upkeep
from kioku_mesh.store import Store
from kioku_mesh.store.db import FTS_TABLES
from kioku_mesh.store.upkeep import checkpoint, merge_step, wal_bytes

# 70 saves: with merges deferred, FTS5's crisis merges alone (16 segments on
# a level) leave 4 segments on level 1 and 6 on level 0, which upkeep's
# merges (4 on a level, like automerge) bring down to a few.
SAVES = 70
GROWN = 8
MERGED = 4


def segments(db: sqlite3.Connection) -> dict[str, int]:
    return {t: db.execute(f"SELECT count(DISTINCT segid) FROM {t}_idx").fetchone()[0]
            for t in FTS_TABLES}


def automerge_seen_by_others(path: Path) -> list[tuple[str, int]]:
    db = sqlite3.connect(path)
    try:
        return [(t, db.execute(f"SELECT v FROM {t}_config WHERE k = 'automerge'").fetchone())
                for t in FTS_TABLES]
    finally:
        db.close()


def save_many(mem: Memory, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        mem.save(f"upkeep body {i} about sqlite merges and checkpoints",
                 f"deferred upkeep subject {i} word{i % 7}", tags=f"batch{i % 5}",
                 check_similar=False)


def ranked(mem: Memory, text: str) -> list[tuple[str, float]]:
    # Scores to 5 places: the recency boost moves with the clock between calls.
    return [(h.observation.observation_id, round(h.score, 5))
            for h in mem.search(SearchQuery(text=text, limit=100)).hits]


def test_deferred_saves_leave_merging_to_upkeep_and_answers_unchanged(memory: Memory) -> None:
    store = memory.store
    before = automerge_seen_by_others(store.path)
    store.defer_index_work()
    save_many(memory, SAVES)
    grown = segments(store.db)
    assert min(grown.values()) >= GROWN, grown
    # What other connections see of the config is what it was.
    assert automerge_seen_by_others(store.path) in (before, [(t, (4,)) for t in FTS_TABLES])
    queries = ["deferred upkeep", "sqlite merges", "word3", "batch2 checkpoints", "subject 17"]
    answers = {q: ranked(memory, q) for q in queries}
    assert all(answers.values())
    steps = 0
    while merge_step(store):
        steps += 1
        assert steps < 10_000
    merged = segments(store.db)
    assert steps > 0 and max(merged.values()) <= MERGED, (grown, merged)
    assert {q: ranked(memory, q) for q in queries} == answers


def test_deferred_checkpoint_copies_the_wal_and_another_reader_sees_everything(
        memory: Memory) -> None:
    store = memory.store
    store.defer_index_work()
    save_many(memory, SAVES)
    assert wal_bytes(store) > 0
    copied = checkpoint(store)
    assert copied > 0
    # A fresh connection reading only the main file after the checkpoint:
    # open it read-only and immutable so it cannot use the WAL.
    uri = f"file:{store.path}?immutable=1"
    db = sqlite3.connect(uri, uri=True)
    try:
        count = db.execute("SELECT count(*) FROM observations").fetchone()[0]
    finally:
        db.close()
    assert count == SAVES


def test_checkpoint_of_a_store_without_wal_is_a_no_op(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "k.db")
    try:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert wal_bytes(store) == 0
        assert checkpoint(store) == 0
    finally:
        store.close()


def test_upkeep_runs_when_requests_pause(memory: Memory) -> None:
    store = memory.store
    upkeep = Upkeep(store)
    save_many(memory, SAVES)
    grown = segments(store.db)
    assert min(grown.values()) >= GROWN, grown

    async def scenario() -> dict[str, int]:
        task = asyncio.create_task(upkeep.run())
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                now = segments(store.db)
                if max(now.values()) <= MERGED:
                    return now
                await asyncio.sleep(0.02)
            return segments(store.db)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    merged = asyncio.run(scenario())
    assert max(merged.values()) <= MERGED, (grown, merged)


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.usefixtures("spawned")
async def test_mcp_server_merges_between_calls(km) -> None:
    db_path = km.state_dir / "kioku.db"
    async with connect(km) as conn:
        for i in range(SAVES):
            await conn.save(f"server upkeep body {i}", f"server upkeep subject {i}")
        # The server merges in the background once calls pause: poll the file.
        deadline = time.monotonic() + 20
        seen: dict[str, int] = {}
        while time.monotonic() < deadline:
            db = sqlite3.connect(db_path)
            try:
                seen = segments(db)
            finally:
                db.close()
            if max(seen.values()) <= MERGED:
                break
            await asyncio.sleep(0.05)
        assert max(seen.values()) <= MERGED, seen
        result = await conn.ok("search_memory", query="server upkeep subject 7")
        assert "server upkeep subject 7" in result.content[0].text
