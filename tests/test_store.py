"""The SQLite host store: arrival order, purge, idempotence, reopening, migrations."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kioku_mesh.api import Memory, SearchQuery
from kioku_mesh.core.errors import NotFoundError, StoreError
from kioku_mesh.core.models import Observation, Tombstone, new_id
from kioku_mesh.core.timeutil import format_ts
from kioku_mesh.store import Store
from kioku_mesh.store.schema import MIGRATIONS


def make_obs(content: str = "stored content", subject: str = "stored subject", **fields: object
             ) -> Observation:
    obs = Observation(
        observation_id=new_id(),
        created_at=format_ts(time.time()),
        content=content,
        subject=subject,
        agent_family="codex",
        client_id="codex-cli",
        pc_id="a" * 32,
        session_id="20260131T120000Z-0badc0de",
    )
    return dataclasses.replace(obs, **fields)


def hit_ids(mem: Memory, text: str, **kw: object) -> list[str]:
    return [h.observation.observation_id for h in mem.search(SearchQuery(text=text, **kw)).hits]


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "state" / "kioku.db")
    yield s
    s.close()


# ----------------------------------------------------------- arrival order


def test_tombstone_before_its_observation_hides_it(memory: Memory) -> None:
    obs = make_obs("late arrival text")
    assert memory.store.add_tombstone(Tombstone(obs.observation_id, "gone", format_ts(time.time())),
                                      origin="peer")
    assert memory.store.tombstone(obs.observation_id) is not None
    assert memory.store.add_observation(obs, origin="peer")
    assert hit_ids(memory, "arrival") == []
    assert hit_ids(memory, "arrival", include_tombstoned=True) == [obs.observation_id]
    with pytest.raises(NotFoundError, match="deleted"):
        memory.get(obs.observation_id)
    view = memory.get(obs.observation_id, include_hidden=True)
    assert view.tombstone is not None and view.tombstone.reason == "gone"


def test_tombstone_is_idempotent(store: Store) -> None:
    tomb = Tombstone(new_id(), "r", format_ts(time.time()))
    assert store.add_tombstone(tomb)
    assert not store.add_tombstone(tomb)
    assert store.add_tombstones([tomb, tomb], origin="peer") == 0
    assert store.db.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 1


# ------------------------------------------------------------------ purge


def test_purge_removes_rows_and_the_id_is_never_accepted_again(memory: Memory) -> None:
    saved = memory.save("purge me please", "purge target").observation
    oid = saved.observation_id
    memory.delete(oid)
    assert memory.purge(oid[:12]) == oid
    db = memory.store.db
    assert db.execute("SELECT count(*) FROM observations WHERE id = ?", (oid,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM tombstones WHERE id = ?", (oid,)).fetchone()[0] == 0
    assert hit_ids(memory, "purge", include_tombstoned=True) == []
    # From anyone, in any form: refused.
    assert memory.store.add_observation(saved, origin="peer") is False
    assert memory.store.add_observations([saved], origin="import") == 0
    assert memory.store.add_tombstone(Tombstone(oid, "late")) is False
    assert db.execute("SELECT count(*) FROM observations WHERE id = ?", (oid,)).fetchone()[0] == 0
    with pytest.raises(NotFoundError):
        memory.get(oid, include_hidden=True)


def test_purge_keeps_the_search_index_consistent(memory: Memory) -> None:
    a = memory.save("xylophone alpha", "xylophone first").observation.observation_id
    b = memory.save("xylophone beta", "xylophone second").observation.observation_id
    memory.purge(a)
    assert hit_ids(memory, "xylophone") == [b]
    assert hit_ids(memory, "ylopho") == [b]  # trigram index too
    db = memory.store.db
    db.execute("INSERT INTO obs_tri(obs_tri) VALUES ('integrity-check')")
    db.execute("INSERT INTO obs_words(obs_words) VALUES ('integrity-check')")


def test_purge_of_an_unknown_id_is_not_found(memory: Memory) -> None:
    with pytest.raises(NotFoundError):
        memory.purge(new_id())


def test_store_purge_before_arrival_blocks_the_id(store: Store) -> None:
    obs = make_obs()
    assert store.purge([obs.observation_id], "pre-emptive") == 0
    assert store.add_observation(obs, origin="peer") is False
    assert store.db.execute("SELECT count(*) FROM observations").fetchone()[0] == 0


# ------------------------------------------------------------ idempotence


def test_add_observations_is_idempotent_by_id(store: Store) -> None:
    batch = [make_obs(f"batch item {i}") for i in range(5)]
    assert store.add_observations(batch, origin="import") == 5
    assert store.add_observations(batch, origin="import") == 0
    assert store.add_observation(batch[0], origin="peer") is False
    # Same id with different content: the first copy stays.
    changed = dataclasses.replace(batch[1], content="tampered")
    assert store.add_observations([changed, make_obs("fresh")], origin="peer") == 1
    assert store.db.execute("SELECT count(*) FROM observations").fetchone()[0] == 6
    row = store.get_row(batch[1].observation_id)
    assert row is not None and row["content"] == "batch item 1"


def test_add_observations_duplicate_within_one_batch(store: Store) -> None:
    obs = make_obs("twice in a batch")
    assert store.add_observations([obs, obs, dataclasses.replace(obs, content="other")], "import") == 1
    assert store.db.execute("SELECT count(*) FROM observations").fetchone()[0] == 1
    assert store.get_row(obs.observation_id)["content"] == "twice in a batch"


def test_stored_observation_reads_back_wire_identical(store: Store) -> None:
    wire = make_obs("日本語 and \"quotes\"", tags=["x", "y"], references=["#1"],
                    source_files=["a.py"], supersedes=[new_id()], importance=4).to_wire()
    wire.update(memory_type="incident", visibility="galaxy", x_future={"k": [1, None]})
    obs = Observation.from_wire(wire)
    assert store.add_observation(obs, origin="peer")
    [back] = list(store.iter_observations())
    assert back.to_wire() == wire
    assert back.memory_type == "note" and back.visibility == ""


def test_non_canonical_created_at_is_stored_as_received(store: Store) -> None:
    obs = make_obs(created_at="not a timestamp")
    assert store.add_observation(obs, origin="peer")
    assert store.get_row(obs.observation_id)["created_at"] == "not a timestamp"
    [back] = list(store.iter_observations())
    assert back.created_at == "not a timestamp"


# ------------------------------------------------------ reopen / migrate


def test_reopen_existing_store_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "kioku.db"
    first = Store.open(path)
    obs = make_obs("survives reopening")
    assert first.add_observation(obs)
    version = first.db.execute("PRAGMA user_version").fetchone()[0]
    assert version == len(MIGRATIONS)
    first.close()

    # Rerunning a migration would fail with "table observations already exists".
    second = Store.open(path)
    third = Store.open(path)  # two open at once
    try:
        for s in (second, third):
            assert s.db.execute("PRAGMA user_version").fetchone()[0] == version
            assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert s.get_row(obs.observation_id)["content"] == "survives reopening"
        tables = second.db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'observations'"
        ).fetchone()[0]
        assert tables == 1
        # a write through one is visible through the other
        other = make_obs("second writer")
        assert third.add_observation(other)
        assert second.get_row(other.observation_id) is not None
    finally:
        second.close()
        third.close()


def test_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kioku.db"
    Store.open(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(path)


def test_garbage_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "kioku.db"
    path.write_bytes(b"this is not a sqlite database at all" * 200)
    with pytest.raises(StoreError, match=str(path)):
        Store.open(path)


def test_two_memory_instances_share_one_store(memory: Memory) -> None:
    oid = memory.save("written by the first", "shared").observation.observation_id
    with Memory() as other:
        assert [h.observation.observation_id for h in
                other.search(SearchQuery(text="first")).hits] == [oid]
        oid2 = other.save("written by the second", "shared").observation.observation_id
    assert set(hit_ids(memory, "written")) == {oid, oid2}


def test_resolve_id_prefixes(store: Store) -> None:
    a = make_obs(observation_id="abcdef01" + "0" * 24)
    b = make_obs(observation_id="abcdef01" + "1" * 24)
    store.add_observations([a, b], origin="peer")
    assert store.resolve_id("abcdef010") == a.observation_id
    assert store.resolve_id(b.observation_id.upper()) == b.observation_id
    from kioku_mesh.core.errors import AmbiguousIdError, ValidationError

    with pytest.raises(AmbiguousIdError):
        store.resolve_id("abcdef01")
    with pytest.raises(ValidationError):
        store.resolve_id("abc")
    with pytest.raises(ValidationError):
        store.resolve_id("not-hex!")
    with pytest.raises(NotFoundError):
        store.resolve_id("ffffffff")


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.text()))
def test_json_list_reads_back_every_list_of_strings(values: list[str]) -> None:
    from kioku_mesh.store.db import _json, json_list

    assert json_list(_json(values)) == values


def _store_at(path: Path, version: int) -> Store:
    """A store made by an older kioku-mesh: only the first `version` migrations."""
    from kioku_mesh.store.fingerprint import fingerprint
    from kioku_mesh.store.textindex import short_words_for_index, words_for_index

    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.create_function("km_words", 1, words_for_index, deterministic=True)
    db.create_function("km_words_short", 1, short_words_for_index, deterministic=True)
    db.create_function("km_fp", 2, fingerprint, deterministic=True)
    for step in MIGRATIONS[:version]:
        step(db)
    db.execute(f"PRAGMA user_version = {version}")
    return Store(db, path)


def test_store_at_version_4_gains_the_search_index_on_open(tmp_path: Path) -> None:
    from kioku_mesh.store.search import ReaderScope, SearchQuery, search

    path = tmp_path / "kioku.db"
    store = _store_at(path, 4)
    obs = make_obs("upgraded store finds this")
    assert store.add_observation(obs)
    store.close()
    upgraded = Store.open(path)
    try:
        assert upgraded.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        result = search(upgraded.db, SearchQuery(text="upgraded"), ReaderScope())
        assert [h.observation.observation_id for h in result.hits] == [obs.observation_id]
    finally:
        upgraded.close()


def test_store_at_version_7_keeps_only_same_scope_effects_on_open(tmp_path: Path) -> None:
    """Links, tombstones and purges stored before ADR 0013 (v7) are kept, keyed
    by scope, and links across scopes stop hiding anything."""
    path = tmp_path / "kioku.db"
    store = _store_at(path, 7)
    mine = make_obs("alice's own note", visibility="user", scope_id="alice")
    other = make_obs("a mesh memory claiming to replace it", supersedes=[mine.observation_id])
    same = make_obs("alice replaces her note", visibility="user", scope_id="alice",
                    supersedes=[mine.observation_id])
    for obs in (mine, other, same):
        store.add_observation(obs)
    store.db.execute("INSERT INTO tombstones(id, reason, deleted_at, deleted_ts, origin, scope) "
                     "VALUES (?, 'old', '2026-01-01T00:00:00.000000Z', 0, 'local', 'user/alice')",
                     (same.observation_id,))
    store.purge([other.observation_id], "old")
    digest = store.db.execute("SELECT scope, bucket, h, n FROM digest ORDER BY 1, 2").fetchall()
    store.close()
    upgraded = Store.open(path)
    try:
        db = upgraded.db
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert [tuple(r) for r in db.execute("SELECT old_id, new_id FROM supersessions")] == [
            (mine.observation_id, same.observation_id)]
        assert db.execute("SELECT count(*) FROM supersessions_ignored").fetchone()[0] == 0
        assert [tuple(r) for r in db.execute("SELECT id, scope FROM tombstones")] == [
            (same.observation_id, "user/alice")]
        assert [tuple(r) for r in db.execute("SELECT id, scope FROM purged")] == [
            (other.observation_id, "mesh")]
        after = db.execute("SELECT scope, bucket, h, n FROM digest ORDER BY 1, 2").fetchall()
        assert [tuple(r) for r in after] == [tuple(r) for r in digest]
        later = make_obs("another mesh claim", supersedes=[mine.observation_id])
        upgraded.add_observation(later)
        assert [tuple(r) for r in db.execute("SELECT old_id, new_id FROM supersessions_ignored")
                ] == [(mine.observation_id, later.observation_id)]
    finally:
        upgraded.close()
