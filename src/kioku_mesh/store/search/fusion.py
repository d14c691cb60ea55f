"""Search by mode: keyword (engine.py), semantic (vectors), or hybrid, the two
fused (ADR 0025).

Hybrid takes the keyword ranking's top KEYWORD_CANDIDATES and the vector
ranking's top CANDIDATES, both under the same filters, scopes and hidden states
(filter_sql), and scores each candidate

    W_KEYWORD * keyword / best keyword  +  (1 - W_KEYWORD) * cosine

(a candidate the keyword side did not return has keyword 0; every candidate's
cosine is exact). Reciprocal rank fusion measured worse than keyword alone on
the relevance set: a static model's ranking is too weak to get an equal vote.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from typing import Any

from ...core.errors import ValidationError
from .engine import Hit, SearchResult, _fetch, _hit, search
from .filters import ReaderScope, SearchQuery, filter_sql
from .vectors import VectorIndex

MODES = ("keyword", "semantic", "hybrid")
DEFAULT_MODE = "hybrid"
CANDIDATES = 100
# The keyword side's depth. On the relevance set 50 ranks as 100 does (MRR@10
# 0.6245) and 20 nearly so (0.6226), but at 100k memories a query of common
# words took 214 ms with 50 and 74 ms with 20 (the rank-safe top-k of ADR 0012
# stops pruning and scores every match when k is large).
KEYWORD_CANDIDATES = 20
W_KEYWORD = 0.5
# Semantic mode has no "does not match": below this cosine a memory is not
# shown at all (unrelated text with a static model sits around 0-0.2).
MIN_COSINE = 0.3
# In hybrid, a memory the keyword side did not find joins only this close.
# The relevance set's fused ranking is the same with any floor up to 0.6 (its
# queries always have keyword hits); on hand-made paraphrases the right
# memory sat at 0.43-0.48 and unrelated ones at 0.28-0.34.
HYBRID_FLOOR = 0.4


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValidationError(f"invalid search mode {mode!r}: choose {', '.join(MODES)}")
    return mode


def _allowed(db: sqlite3.Connection, q: SearchQuery, scope: ReaderScope, now: float):  # noqa: ANN202
    params: dict[str, object] = {"now": now}
    where = " AND ".join(filter_sql(q, scope, params))

    def keep(seqs: list[int]) -> set[int]:
        marks = ", ".join(str(int(s)) for s in seqs)
        rows = db.execute(f"SELECT o.seq FROM observations o WHERE o.seq IN ({marks}) AND {where}",
                          params).fetchall()
        return {int(r[0]) for r in rows}
    return keep


def _nearest(db: sqlite3.Connection, index: VectorIndex, q: SearchQuery, scope: ReaderScope,
             now: float, k: int) -> tuple[dict[int, float], Any]:
    index.sync(db)
    vector = index.query_vector(q.text)
    found = index.nearest(vector, _allowed(db, q, scope, now), k)
    return dict(found), vector


def run(db: sqlite3.Connection, index: VectorIndex, q: SearchQuery, scope: ReaderScope,
        mode: str = DEFAULT_MODE) -> SearchResult:
    check_mode(mode)
    if mode == "keyword" or not q.text.strip():
        return search(db, q, scope)
    now = time.time()
    want = q.offset + q.limit
    if mode == "semantic":
        near, _ = _nearest(db, index, q, scope, now, want)
        ranked = [(s, c) for s, c in near.items() if c >= MIN_COSINE]
        return _result(db, q, ranked, len(ranked), True, "meaning", [], now)
    kw = search(db, replace(q, offset=0, limit=max(KEYWORD_CANDIDATES, want), explain=q.explain), scope,
                now=now)
    kw_scores = {h_seq: h.score for h_seq, h in _seqs(db, kw.hits)}
    near, vector = _nearest(db, index, q, scope, now, max(CANDIDATES, want))
    cos = dict(near)
    missing = [s for s in kw_scores if s not in cos]
    if missing:
        cos.update(index.cosines_of(vector, missing))
    top = max(kw_scores.values(), default=0.0) or 1.0
    fused = {s: W_KEYWORD * kw_scores.get(s, 0.0) / top + (1 - W_KEYWORD) * cos.get(s, 0.0)
             for s in set(kw_scores) | {s for s, c in near.items() if c >= HYBRID_FLOOR}}
    ranked = sorted(fused.items(), key=lambda sc: (-sc[1], -sc[0]))
    extra = sum(1 for s in fused if s not in kw_scores)
    explained = {s: h.explanation for s, h in _seqs(db, kw.hits)} if q.explain else {}
    match = "meaning" if ranked and not kw.hits else kw.match
    result = _result(db, q, ranked, kw.total + extra, kw.total_exact, match, kw.terms, now,
                     explained)
    result.matched_terms = kw.matched_terms
    return result


def _seqs(db: sqlite3.Connection, hits: list[Hit]) -> list[tuple[int, Hit]]:
    """Hits carry observations, not row numbers: look the seqs up once."""
    if not hits:
        return []
    ids = [h.observation.observation_id for h in hits]
    marks = ", ".join("?" * len(ids))
    seq_of = dict(db.execute(f"SELECT id, seq FROM observations WHERE id IN ({marks})", ids))
    return [(int(seq_of[h.observation.observation_id]), h) for h in hits]


def _result(db: sqlite3.Connection, q: SearchQuery, ranked: list[tuple[int, float]], total: int,
            exact: bool, match: str, terms: list[str], now: float,
            explained: dict | None = None) -> SearchResult:
    page = ranked[q.offset:q.offset + q.limit]
    rows = _fetch(db, [s for s, _ in page], {"now": now})
    hits = []
    for row, (seq, score) in zip(rows, page, strict=True):
        hit = _hit(row, round(score, 6))
        if explained:
            hit.explanation = explained.get(seq)
        hits.append(hit)
    return SearchResult(hits, max(total, len(ranked)), match, terms, exact)
