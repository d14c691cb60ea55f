"""Search by meaning with the shipped model (ADR 0025): vectors written with
each memory, caught up before a search, filters and scopes applied exactly as
keyword search applies them, and the near-duplicate hint for paraphrases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kioku_mesh.api import Memory, SearchQuery
from kioku_mesh.core.models import Tombstone
from kioku_mesh.core.timeutil import now_wire
from kioku_mesh.store.search import vectors
from kioku_mesh.store.search.embedder import Embedder, shared_embedder
from kioku_mesh.store.search.wordpiece import WordPiece

DATA = Path(__file__).resolve().parent / "data" / "semantic"

# A small store of unrelated engineering memories; each query below shares no
# word with the memory it means (so keyword search finds nothing).
MEMORIES = [
    ("Respect NO_COLOR by disabling ANSI escape codes in output", "Respect NO_COLOR: no ANSI escapes"),
    ("We chose SQLite WAL journal mode so readers never block the writer", "Use WAL journal mode"),
    ("The mesh uses Zenoh for replication between hosts", "Zenoh replication"),
    ("Login fails after password reset because the session cookie is stale",
     "Stale session cookie breaks login"),
    ("Release builds strip debug symbols to shrink the binary", "Strip debug symbols in release"),
    ("Retry HTTP requests with exponential backoff on 503", "Backoff on 503"),
]
PARAPHRASES = {
    "support a variable to turn off colours": "Respect NO_COLOR: no ANSI escapes",
    "users cannot sign in once they changed their credentials": "Stale session cookie breaks login",
    "make the executable smaller": "Strip debug symbols in release",
}


def subjects(result) -> list[str]:
    return [h.observation.subject for h in result.hits]


@pytest.fixture
def filled(memory: Memory) -> Memory:
    for content, subject in MEMORIES:
        memory.save(content, subject, check_similar=False)
    return memory


@pytest.mark.parametrize("query", sorted(PARAPHRASES))
def test_a_paraphrase_keyword_search_misses_is_found_by_meaning(filled: Memory, query: str) -> None:
    assert filled.search(SearchQuery(text=query, mode="keyword")).hits == []
    for mode in ("semantic", "hybrid"):
        result = filled.search(SearchQuery(text=query, mode=mode))
        assert subjects(result)[:1] == [PARAPHRASES[query]], (mode, subjects(result))
        assert result.match == "meaning"


def test_hybrid_is_the_default_and_keeps_keyword_hits_first(filled: Memory) -> None:
    assert SearchQuery().mode == "hybrid"
    result = filled.search(SearchQuery(text="WAL journal"))
    assert subjects(result)[0] == "Use WAL journal mode"
    assert result.match == "all"


def test_bad_mode_is_a_clear_error(filled: Memory) -> None:
    from kioku_mesh.core.errors import ValidationError

    with pytest.raises(ValidationError, match="invalid search mode 'fuzzy'"):
        filled.search(SearchQuery(text="x", mode="fuzzy"))


def test_every_save_writes_its_vectors_in_the_same_transaction(memory: Memory) -> None:
    oid = memory.save("Respect NO_COLOR", "colours").observation.observation_id
    row = memory.store.db.execute(
        "SELECT v.model, length(v.vecs) FROM obs_vectors v JOIN observations o ON o.seq = v.seq "
        "WHERE o.id = ?", (oid,)).fetchone()
    model = shared_embedder()
    assert tuple(row) == (model.model_id, vectors.FACETS * (model.dims + 4))


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_filters_scopes_and_hidden_states_apply_to_meaning(memory: Memory, mode: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Respect NO_COLOR by disabling ANSI escape codes in output"
    monkeypatch.setenv("KIOKU_MESH_USER_ID", "bob")
    with Memory() as bob:
        bobs = bob.save(text, "bob's private note", visibility="user",
                        check_similar=False).observation.observation_id
    other_project = memory.save(text, "in project b", project="b", check_similar=False)
    deleted = memory.save(text, "deleted one", project="a", check_similar=False)
    kept = memory.save(text, "the one to find", project="a", check_similar=False)
    memory.store.add_tombstone(Tombstone(deleted.observation.observation_id, "gone", now_wire()))
    query = "support a variable to turn off colours"

    monkeypatch.setenv("KIOKU_MESH_USER_ID", "alice")
    with Memory() as alice:
        everything = alice.search(SearchQuery(text=query, mode=mode, limit=50))
        in_a = alice.search(SearchQuery(text=query, mode=mode, project="a"))
        with_hidden = alice.search(SearchQuery(text=query, mode=mode, project="a",
                                               include_tombstoned=True))
    found = {h.observation.observation_id for h in everything.hits}
    assert bobs not in found  # another user's user-scoped memory: never
    assert deleted.observation.observation_id not in found
    assert {other_project.observation.observation_id, kept.observation.observation_id} <= found
    assert subjects(in_a) == ["the one to find"]
    assert set(subjects(with_hidden)) == {"the one to find", "deleted one"}
    monkeypatch.setenv("KIOKU_MESH_USER_ID", "bob")
    with Memory() as bob:
        assert bobs in {h.observation.observation_id
                        for h in bob.search(SearchQuery(text=query, mode=mode, limit=50)).hits}


def test_a_narrow_filter_still_gets_its_best_matches(memory: Memory) -> None:
    """The vector side checks candidates against the filter in growing
    batches: a project whose best memory is below hundreds of others in the
    global ranking still gets it."""
    for i in range(300):
        memory.save(f"Respect NO_COLOR and turn off ANSI colours, variant {i}", f"colour {i}",
                    project="noise", check_similar=False)
    memory.save("A flag to switch the colour output off", "colour flag", project="rare",
                check_similar=False)
    query = SearchQuery(text="turn off colours", mode="semantic", limit=400)
    everything = subjects(memory.search(query))
    assert everything.index("colour flag") == 300  # last of all
    narrow = memory.search(SearchQuery(text="turn off colours", mode="semantic", project="rare"))
    assert subjects(narrow) == ["colour flag"]


def test_memories_without_vectors_are_embedded_before_a_search_answers(filled: Memory) -> None:
    db = filled.store.db
    db.execute("DELETE FROM obs_vectors")  # as a store written before vectors existed
    fresh = Memory(filled.settings)  # a new process: nothing in memory yet
    try:
        result = fresh.search(SearchQuery(text="make the executable smaller", mode="semantic"))
        assert subjects(result)[:1] == ["Strip debug symbols in release"]
        assert db.execute("SELECT count(*) FROM obs_vectors").fetchone()[0] == len(MEMORIES)
    finally:
        fresh.close()


def test_a_model_change_re_embeds(filled: Memory) -> None:
    db = filled.store.db
    db.execute("UPDATE obs_vectors SET model = 'an-older-model', vecs = zeroblob(length(vecs))")
    fresh = Memory(filled.settings)
    try:
        result = fresh.search(SearchQuery(text="make the executable smaller", mode="semantic"))
        assert subjects(result)[:1] == ["Strip debug symbols in release"]
        models = {r[0] for r in db.execute("SELECT model FROM obs_vectors")}
        assert models == {shared_embedder().model_id}
    finally:
        fresh.close()


def test_a_long_running_reader_sees_new_and_purged_memories(filled: Memory) -> None:
    query = SearchQuery(text="rotate the signing certificates every month", mode="semantic")
    assert "Rotate TLS certificates monthly" not in subjects(filled.search(query))
    with Memory(filled.settings) as writer:  # another process's connection
        oid = writer.save("Rotate the TLS signing certificates each month", "Rotate TLS certificates monthly",
                          check_similar=False).observation.observation_id
    assert subjects(filled.search(query))[:1] == ["Rotate TLS certificates monthly"]
    with Memory(filled.settings) as writer:
        writer.purge(oid)
    assert "Rotate TLS certificates monthly" not in subjects(filled.search(query))
    assert filled.store.db.execute("SELECT count(*) FROM obs_vectors").fetchone()[0] == len(MEMORIES)


def test_recall_ranks_by_meaning(filled: Memory) -> None:
    pack = filled.recall("users cannot sign in once they changed their credentials", project="")
    assert "Stale session cookie breaks login" in pack.text


def test_a_paraphrase_gets_the_near_duplicate_hint(filled: Memory) -> None:
    shared_embedder()  # as a server has it: a one-shot save skips the meaning check
    res = filled.save("Users cannot log in after resetting their password: the stale session "
                      "cookie is still sent", "Old session cookie stops login after password reset")
    assert [s.subject for s in res.similar] == ["Stale session cookie breaks login"]
    unrelated = filled.save("Pin the Rust toolchain in CI", "Pin Rust toolchain")
    assert unrelated.similar == []


def test_wordpiece_matches_the_reference_tokenizer() -> None:
    """Ids made by Hugging Face `tokenizers` for the same vocabulary
    (tests/data/semantic/wordpiece_ids.json, made by scripts/build_model.py's
    venv): ASCII, accents, CJK, controls, long words."""
    cases = json.loads((DATA / "wordpiece_ids.json").read_text())
    model = shared_embedder()
    assert cases["model"] == model.model_id
    for text, ids in cases["cases"]:
        assert model.tokens.encode(text) == ids, text


def test_east_asian_text_gets_no_vector_instead_of_noise() -> None:
    model = shared_embedder()
    vecs = model.encode(["東京タワーの設定を変更した", "大阪の天気は晴れ", "NO_COLOR を尊重する"])
    assert not vecs[0].any() and not vecs[1].any()
    assert vecs[2].any()  # the ASCII words still count


def test_a_broken_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    from kioku_mesh.core.errors import StoreError

    (tmp_path / "config.json").write_text('{"id": "x"}')
    with pytest.raises(StoreError, match="cannot load the embedding model"):
        Embedder(tmp_path)


def test_unknown_words_are_one_unknown_token() -> None:
    pieces = WordPiece({"[UNK]": 0, "un": 1, "##known": 2, "a": 3}, 0)
    assert pieces.encode("unknown a zzz") == [1, 2, 3, 0]
    assert pieces.encode("a" * 101) == [0]


@pytest.mark.slow
def test_semantic_search_answers_with_the_network_cut(km) -> None:
    """The model ships in the package: a CLI search in a network namespace
    with no interface up (unshare -n) still finds a memory by meaning."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -n is not permitted here")
    for content, subject in MEMORIES:
        km.run("save", content, "-s", subject, check=True)
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "kioku_mesh.cli.main", "search",
         "make the executable smaller", "--mode", "semantic", "--json"],
        capture_output=True, text=True, env=km.env, cwd=km.home, timeout=120)
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)["hits"]
    assert hits[0]["subject"] == "Strip debug symbols in release"
