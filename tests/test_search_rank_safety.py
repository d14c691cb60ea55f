"""Rank safety (ADR 0012): the fast top-k equals a brute-force scoring of
every match, on random stores and random queries.

The brute force here does not share the fast path's ranking code: it asks
FTS5 for bm25() over all the query's terms OR'ed (one statement, every
match), keeps the rows that pass the filters, multiplies by the boost
computed in Python from the row's fields, and sorts.
"""

from __future__ import annotations

import math
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kioku_mesh.core.models import Observation, Tombstone, new_id
from kioku_mesh.core.timeutil import format_ts
from kioku_mesh.store.db import Store
from kioku_mesh.store.search import ReaderScope, SearchQuery, search, topk
from kioku_mesh.store.search.filters import filter_sql
from kioku_mesh.store.search.query import parse_terms
from kioku_mesh.store.search.scoring import WORD_COLUMNS, WORD_WEIGHTS, boost_parts

# Zipf-like: the first words are in most memories, the last in a few.
VOCAB = ("fix cache test build error config sync query index merge retry token "
         "deploy schema timeout socket parser lease quorum shard vector beacon "
         "zephyr quokka marmot").split()
PROJECTS = ["alpha", "beta", "gamma"]
STORES = 6
_cache: dict[int, Store] = {}
_root: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _stores() -> Iterator[None]:
    _root.append(Path(tempfile.mkdtemp(prefix="km-ranksafe-")))
    yield
    for store in _cache.values():
        store.close()
    _cache.clear()
    shutil.rmtree(_root.pop(), ignore_errors=True)


def _words(rng: random.Random, n: int) -> str:
    weights = [1 / (r + 1) for r in range(len(VOCAB))]
    return " ".join(rng.choices(VOCAB, weights, k=n))


def _store(seed: int) -> Store:
    if seed in _cache:
        return _cache[seed]
    rng = random.Random(seed)
    store = Store.open(_root[0] / f"s{seed}" / "kioku.db")
    now = time.time()
    items = []
    for _ in range(rng.randint(30, 250)):
        items.append(Observation(
            observation_id=new_id(),
            created_at=format_ts(now - rng.uniform(0, 800) * 86400),
            subject=_words(rng, rng.randint(1, 6)),
            summary=_words(rng, rng.randint(0, 8)),
            content=_words(rng, rng.randint(1, 60)),
            tags=rng.sample(VOCAB, rng.randint(0, 2)),
            project=rng.choice(PROJECTS),
            importance=rng.randint(1, 5),
            agent_family="claude-code", client_id="c", pc_id="p", session_id="s",
        ))
    # Arrival order is not creation order (an import of older history).
    rng.shuffle(items)
    store.add_observations(items, origin="import")
    for obs in rng.sample(items, len(items) // 20):
        store.add_tombstone(Tombstone(observation_id=obs.observation_id,
                                      deleted_at=format_ts(now), reason="test"))
    _cache[seed] = store
    return store


def _brute(store: Store, q: SearchQuery, now: float) -> dict[int, float]:
    """seq -> score for every row that matches a term and passes the filters."""
    terms = parse_terms(q.text)
    expr = " OR ".join(f"({WORD_COLUMNS} : {t.words_expr()})" for t in terms)
    relevance = dict(store.db.execute(
        f"SELECT rowid, -bm25(obs_words, {WORD_WEIGHTS}) FROM obs_words WHERE obs_words MATCH ?",
        (expr,)).fetchall())
    params: dict[str, object] = {"now": now}
    where = " AND ".join(filter_sql(q, ReaderScope(), params))
    rows = store.db.execute(
        f"SELECT o.seq, o.importance, o.created_ts, o.project FROM observations o WHERE {where}",
        params).fetchall()
    out = {}
    for seq, importance, created, project in rows:
        if seq in relevance:
            f = boost_parts(importance, created, project, now,
                            [q.boost_project] if q.boost_project else [])
            out[seq] = relevance[seq] * f["importance"] * f["recency"] * f["project"]
    return out


queries = st.lists(st.sampled_from(VOCAB + ["the", "and", "of", "nothingmatches"]),
                   min_size=1, max_size=12).map(" ".join)


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, STORES - 1), text=queries, limit=st.integers(1, 25),
       offset=st.integers(0, 10), project=st.sampled_from([None, *PROJECTS]),
       boost=st.sampled_from([None, *PROJECTS]), exhaustive=st.booleans(),
       budget=st.sampled_from([1, 20, topk.FIRST_BUDGET]))
def test_fast_top_k_equals_brute_force(seed: int, text: str, limit: int, offset: int,
                                       project: str | None, boost: str | None,
                                       exhaustive: bool, budget: int) -> None:
    store = _store(seed)
    q = SearchQuery(text=text, limit=limit, offset=offset, project=project, boost_project=boost)
    now = time.time()
    # A small first budget makes the rarest terms alone essential, as in a big store.
    saved, topk.FIRST_BUDGET = topk.FIRST_BUDGET, budget
    try:
        result = search(store.db, q, ReaderScope(), exhaustive=exhaustive, now=now)
    finally:
        topk.FIRST_BUDGET = saved
    brute = _brute(store, q, now)
    expected = sorted(brute.values(), reverse=True)[offset : offset + limit]
    got = [store.db.execute("SELECT seq FROM observations WHERE id = ?",
                            (h.observation.observation_id,)).fetchone()[0] for h in result.hits]
    # Same scores in the same order; ties may come in either order, so the
    # ids are compared through their brute-force scores.
    assert len(got) == len(expected)
    for seq, hit, want in zip(got, result.hits, expected, strict=True):
        assert math.isclose(brute[seq], want, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(hit.score, want, rel_tol=1e-9, abs_tol=1e-12)
    if result.total_exact:
        assert result.total == len(brute)
    else:
        assert min(limit + offset, len(brute)) <= result.total <= len(brute)
