"""Bulk import (api.transfer.import_lines -> Store.add_observations(bulk=True)):
the same rows, indexes, change feed and digest as saving one by one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kioku_mesh.api import Memory, SearchQuery, transfer
from kioku_mesh.core.models import Observation, new_id, scope_of
from kioku_mesh.core.timeutil import format_ts
from kioku_mesh.store import Store
from kioku_mesh.store.db import FTS_DEFAULT_HASHSIZE
from kioku_mesh.store.fingerprint import fingerprint


def wire(content: str, subject: str, **fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "observation_id": new_id(),
        "created_at": format_ts(time.time()),
        "content": content,
        "subject": subject,
        "agent_family": "codex",
        "client_id": "codex-cli",
        "pc_id": "a" * 32,
        "session_id": "20260131T120000Z-0badc0de",
    }
    data.update(fields)
    return data


def lines(items: list[dict[str, object]]) -> list[bytes]:
    return [json.dumps(d, ensure_ascii=False).encode() for d in items]


def hit_ids(mem: Memory, text: str) -> set[str]:
    return {h.observation.observation_id for h in mem.search(SearchQuery(text=text, limit=100)).hits}


def digest_from_scratch(mem: Memory) -> dict[tuple[str, str], tuple[int, int]]:
    """The anti-entropy digest recomputed from the rows (what migration v2 folds)."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    db = mem.store.db
    elements = [
        (scope_of(vis, sid), oid, "o")
        for oid, vis, sid in db.execute("SELECT id, visibility, scope_id FROM observations")
    ]
    elements += [(scope, oid, "t") for oid, scope in db.execute("SELECT id, scope FROM tombstones")]
    elements += [(scope, oid, "p") for oid, scope in db.execute("SELECT id, scope FROM purged")]
    for scope, oid, tag in elements:
        h, n = out.get((scope, oid[:3]), (0, 0))
        out[(scope, oid[:3])] = (h ^ fingerprint(oid, tag), n + 1)
    return out


def stored_digest(mem: Memory) -> dict[tuple[str, str], tuple[int, int]]:
    rows = mem.store.db.execute("SELECT scope, bucket, h, n FROM digest WHERE n > 0")
    return {(scope, bucket): (h, n) for scope, bucket, h, n in rows}


def check_indexes(mem: Memory) -> None:
    db = mem.store.db
    db.execute("INSERT INTO obs_tri(obs_tri) VALUES ('integrity-check')")
    db.execute("INSERT INTO obs_words(obs_words) VALUES ('integrity-check')")
    rows = db.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert db.execute("SELECT count(*) FROM obs_tri_docsize").fetchone()[0] == rows


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several transactions per import, split by count and by size."""
    monkeypatch.setattr(transfer, "BATCH", 7)
    monkeypatch.setattr(transfer, "BATCH_CHARS", 3000)


def test_import_into_a_non_empty_store_is_searchable_and_consistent(
    memory: Memory, small_batches: None
) -> None:
    before = memory.save("Existing memory about the zeppelin hangar", "zeppelin").observation
    tombstoned = wire("to be deleted later", "tombstoned")
    items = [wire(f"Routine note number {i} on the build cache", f"note {i}",
                  visibility="team" if i % 3 == 0 else "mesh",
                  scope_id="core" if i % 3 == 0 else "")
             for i in range(40)]
    items.append(wire("認証サーバーの設定を変更した理由", "設定変更"))
    items.append(wire("The kubernetesoperator reconciles slowly", "kubernetesoperator"))
    items.append(wire("x" * 5000, "a large one"))
    items.append(tombstoned)
    items.append({"observation_id": tombstoned["observation_id"], "deleted_at": format_ts(time.time()),
                  "reason": "test"})
    report = transfer.import_lines(memory, lines(items) + lines(items[:5]))
    assert report.errors == []
    assert report.added == len(items) - 1
    assert report.existing == 5
    assert report.tombstones == 1

    japanese = next(d for d in items if d["subject"] == "設定変更")["observation_id"]
    fragment = next(d for d in items if d["subject"] == "kubernetesoperator")["observation_id"]
    assert hit_ids(memory, "設定") == {japanese}            # CJK bigrams (word index)
    assert hit_ids(memory, "netesopera") == {fragment}      # mid-word substring of a subject (trigram index)
    assert hit_ids(memory, "zeppelin") == {before.observation_id}
    # Team memories are kept (and digested) but not shown to a host outside the team.
    assert hit_ids(memory, "cache") == {d["observation_id"] for d in items[:40]
                                        if d["visibility"] == "mesh"}
    assert hit_ids(memory, "deleted") == set()              # tombstoned in the same file

    check_indexes(memory)
    assert stored_digest(memory) == digest_from_scratch(memory)
    changes = memory.store.db.execute(
        "SELECT count(*) FROM changes WHERE kind = 'obs' AND origin = 'import'").fetchone()[0]
    assert changes == report.added


def test_bulk_batches_leave_the_fts_config_as_it_was(memory: Memory, small_batches: None) -> None:
    db = memory.store.db
    transfer.import_lines(memory, lines([wire(f"body {i}", f"s {i}") for i in range(20)]))
    for table in ("obs_words", "obs_tri"):
        row = db.execute(f"SELECT v FROM {table}_config WHERE k = 'hashsize'").fetchone()
        assert row is None or row[0] == FTS_DEFAULT_HASHSIZE
    # A value set by hand survives an import.
    db.execute("INSERT INTO obs_tri(obs_tri, rank) VALUES ('hashsize', 2097152)")
    db.execute("INSERT INTO obs_words(obs_words, rank) VALUES ('hashsize', 2097152)")
    transfer.import_lines(memory, lines([wire(f"more {i}", f"m {i}") for i in range(20)]))
    for table in ("obs_words", "obs_tri"):
        row = db.execute(f"SELECT v FROM {table}_config WHERE k = 'hashsize'").fetchone()
        assert row[0] == 2097152
    check_indexes(memory)


def test_bulk_and_one_by_one_give_the_same_rows_and_index(tmp_path: Path) -> None:
    items = [Observation.from_wire(wire(f"shared text {i} 日本語の本文 Kubernetes", f"subject {i}",
                                        tags=["t1", f"t{i}"])) for i in range(30)]
    bulk = Store.open(tmp_path / "bulk" / "kioku.db")
    single = Store.open(tmp_path / "single" / "kioku.db")
    try:
        assert bulk.add_observations(items, origin="import", bulk=True) == 30
        for obs in items:
            assert single.add_observation(obs, origin="import")
        dumps = []
        for store in (bulk, single):
            db = store.db
            for table in ("obs_words", "obs_tri"):
                db.execute(f"CREATE VIRTUAL TABLE temp.{table}_v USING fts5vocab(main, {table}, "
                           "'instance')")
            dumps.append([
                db.execute(f"SELECT * FROM temp.{table}_v ORDER BY 1, 2, 3, 4").fetchall()
                for table in ("obs_words", "obs_tri")
            ] + [db.execute("SELECT scope, bucket, h, n FROM digest ORDER BY 1, 2").fetchall(),
                 db.execute("SELECT kind, id, origin FROM changes ORDER BY seq").fetchall()])
        assert dumps[0] == dumps[1]
        assert dumps[0][0] and dumps[0][1]
    finally:
        bulk.close()
        single.close()


def test_lone_surrogates_are_refused_from_str_and_bytes_lines(memory: Memory) -> None:
    good = wire("fine", "ok")
    escaped = json.dumps(wire("bad \ud800 escape", "x"))         # "\ud800" as an escape
    raw = json.dumps(wire("raw", "x"), ensure_ascii=False)[:-1] + ', "note": "\ud800"}'
    pair = json.dumps(wire("emoji \U0001F600 as a pair", "pair"))  # valid surrogate pair escape
    report = transfer.import_lines(memory, [json.dumps(good), escaped, raw, pair])
    assert [n for n, _ in report.errors] == [2, 3]
    assert all("lone surrogate" in e for _, e in report.errors)
    assert report.added == 2


def store_dump(mem: Memory) -> list[object]:
    db = mem.store.db
    return [
        db.execute("SELECT id, subject, summary, content, tags, project, origin, seq "
                   "FROM observations ORDER BY seq").fetchall(),
        db.execute("SELECT id, scope FROM tombstones ORDER BY id").fetchall(),
        db.execute("SELECT kind, id, origin FROM changes ORDER BY seq").fetchall(),
    ]


@pytest.mark.slow
def test_lines_checked_by_worker_processes_give_the_same_store_and_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_batches: None) -> None:
    from kioku_mesh.api import line_parsing

    monkeypatch.setattr(line_parsing, "CHUNK_LINES", 5)  # many chunks, out of order if it could be
    first = wire("duplicate id, first copy wins", "dup first")
    items: list[bytes] = []
    for i in range(60):
        if i % 9 == 4:
            items.append(b"{not json")
        elif i % 11 == 3:
            items.append(b"\xff\xfe not utf-8")
        elif i % 13 == 6:
            items.append(b"")
        elif i % 10 == 7:
            items.append(json.dumps(wire(f"deploy key AKIAIOSFODNN7EXAMPL{i % 10} row {i}",
                                         f"secret row {i}")).encode())
        else:
            items.append(json.dumps(wire(f"worker body {i} 日本語", f"worker subject {i}",
                                         tags=[f"t{i % 4}"])).encode())
    items.insert(20, json.dumps(first).encode())
    items.insert(40, json.dumps({**first, "subject": "dup second"}).encode())
    items.append(json.dumps({"observation_id": new_id(), "deleted_at": format_ts(time.time())}).encode())
    reports, dumps = [], []
    for workers in (0, 2):
        root = tmp_path / f"w{workers}"
        monkeypatch.setenv("KIOKU_MESH_STATE_DIR", str(root / "state"))
        monkeypatch.setenv("KIOKU_MESH_CONFIG", str(root / "none.yaml"))
        with Memory(cwd=root) as mem:
            rep = transfer.import_lines(mem, iter(items), workers=workers)
            reports.append((rep.added, rep.existing, rep.tombstones, rep.errors, rep.lines,
                            rep.redactions, rep.redacted_memories))
            dumps.append(store_dump(mem))
            check_indexes(mem)
    assert reports[0] == reports[1]
    added, _existing, tombstones, errors, count, redactions, redacted = reports[0]
    assert added > 30 and tombstones == 1 and count == len(items)
    assert {n for n, _ in errors} == {n for n, raw in enumerate(items, 1)
                                      if raw.startswith((b"{not", b"\xff"))}
    assert redacted > 0 and redactions
    assert dumps[0] == dumps[1]
    subjects = [row[1] for row in dumps[0][0]]
    assert "dup first" in subjects and "dup second" not in subjects
