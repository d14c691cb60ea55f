"""Rank-safe top-k: the k best memories by scoring.py, without scoring
every memory that shares a word with the query (ADR 0012).

MaxScore over the query's terms. Each term has an upper bound on what it can
add to any memory's score (scoring.term_bound). The rarest terms are the
*essential* ones: one SQL statement scores every row they match (their bm25
shares, summed by FTS5, times the row's boost, filters applied) and sorts
them. If the bounds of the other terms, times the largest boost, cannot lift
a row none of the essential terms matched up to the k-th best score found,
no such row can be in the top k; the other terms are then scored, in one
more statement, only on the rows found that can still reach the top k (the
word index's `key` column names them). Otherwise the next rarest term joins
the essential ones and the step runs again. The answer is the one an
exhaustive scoring gives (`exhaustive_rank`, kept as the reference the tests
compare with); only the work differs.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from .scoring import TRIGRAM_WEIGHTS, WORD_WEIGHTS

KEY_LIST_MAX = 1000  # rows to finish scoring; past it, more terms become essential
# Naming a row in an FTS5 expression costs about as much as walking this many
# matches of the terms. Measured on the bench queries at 10k: naming rows
# costs ~0.2 us per match of the terms (FTS5 still loads a prefix term's
# doclists) plus ~25 us per row named; walking costs ~0.27 us per match.
KEY_ROW_COST = 300
FIRST_BUDGET = 1000  # matches the first essential statement may score


@dataclass
class Source:
    """One term as the ranking reads it."""

    index: int  # the term's position in the query
    table: str  # obs_words or obs_tri
    expr: str  # FTS5 expression (columns already chosen)
    discount: float
    bound: float  # upper bound of its share of any score
    matches: int = 0  # rows it matches (at least)
    capped: bool = False  # `matches` is a floor: counting stopped early


@dataclass
class Ranking:
    order: list[int]  # seqs, best first (the first k are exact)
    score: dict[int, float]
    created: dict[int, float]
    pruned: bool = False  # not every matching row was counted: len(score) is a floor
    rows: int = 0  # rows looked at that the (essential) terms match, past the filters


def _or(sources: list[Source]) -> str:
    return " OR ".join(f"({s.expr})" for s in sources)


def _walk(db: sqlite3.Connection, ess: list[Source], k: int, reach: float, max_boost: float,
          where: str, boost: str, params: dict[str, object]
          ) -> tuple[list[tuple[int, float, float, float]], float, bool, float | None]:
    """Rows the essential terms match, best share first (FTS5 alone sorts
    them), checked against the filters and boosted a chunk at a time; stops
    at the first row whose share plus `reach` (what the other terms could
    add) times the largest boost is below the k-th best score so far.
    Returns (seq, share, boost, created) of the rows that pass, the k-th best
    score, whether every match was looked at, and, when the walk gave up
    early because the other terms could add at least the k-th best share
    (so no answer can come of it), that share."""
    cur = db.execute(f"SELECT rowid, -bm25(obs_words, {WORD_WEIGHTS}) AS part FROM obs_words "
                     "WHERE obs_words MATCH ? ORDER BY part DESC", (_or(ess),))
    found: list[tuple[int, float, float, float]] = []
    best: list[float] = []  # min-heap of the k best scores
    floor, chunk, seen = float("-inf"), max(64, k), 0
    check = (f"SELECT o.seq, {boost}, o.created_ts FROM observations o "
             f"WHERE o.seq IN (SELECT value FROM json_each(:seqs)) AND {where}")
    while rows := cur.fetchmany(chunk):
        if reach > 0 and seen < k <= seen + len(rows) and reach >= rows[k - seen - 1][1]:
            cur.close()
            return found, floor, False, rows[k - seen - 1][1]
        seen += len(rows)
        cut = next((i for i, (_, part) in enumerate(rows)
                    if len(best) >= k and (part + reach) * max_boost < floor), len(rows))
        share = dict(rows[:cut])
        passing = db.execute(check, {**params, "seqs": json.dumps(list(share))}).fetchall()
        for seq, b, created in passing:
            part = share[seq]
            found.append((seq, part, b, created))
            if len(best) < k:
                heapq.heappush(best, part * b)
            elif part * b > best[0]:
                heapq.heapreplace(best, part * b)
        if len(best) >= k:
            floor = best[0]
        if cut < len(rows):
            cur.close()
            return found, floor, False, None
        chunk = min(chunk * 4, 4096)
    return found, floor, True, None


def shares_on(db: sqlite3.Connection, sources: list[Source], seqs: list[int]) -> dict[int, float]:
    """The summed shares of word-index terms on just these rows. Two ways,
    the same numbers: name the rows in the expression (a lookup per row), or
    walk the terms' matches and keep these rows (a step per match)."""
    if not seqs or not sources:
        return {}
    if len(seqs) * KEY_ROW_COST <= sum(s.matches for s in sources):
        keys = " OR ".join(str(s) for s in sorted(seqs))
        expr = f"({_or(sources)}) AND ({{key}} : ({keys}))"
        sql = (f"SELECT rowid, -bm25(obs_words, {WORD_WEIGHTS}) FROM obs_words "
               "WHERE obs_words MATCH ?")
        return dict(db.execute(sql, (expr,)).fetchall())
    # The unary + keeps SQLite from handing the IN list to FTS5 (a new query per row).
    marks = ", ".join(str(int(s)) for s in seqs)
    sql = (f"SELECT rowid, -bm25(obs_words, {WORD_WEIGHTS}) FROM obs_words "
           f"WHERE obs_words MATCH ? AND +rowid IN ({marks})")
    return dict(db.execute(sql, (_or(sources),)).fetchall())


def rank(db: sqlite3.Connection, sources: list[Source], k: int, where: str, boost: str,
         params: dict[str, object], max_boost: float,
         refine: Callable[[Source], None] | None = None) -> Ranking:
    """The top `k` rows by boost x sum of term shares (word-index terms only).
    `refine` tightens a capped term's bound (counts its rows on)."""
    rest = sorted(sources, key=lambda s: -s.bound)  # rarest first
    ess = [rest.pop(0)]
    while rest and sum(s.matches for s in ess) + rest[0].matches <= FIRST_BUDGET:
        if rest[0].capped and refine is not None:
            # Its count is a floor: count on before it joins (counting costs
            # about a twentieth of scoring the same rows), else a term in
            # half the memories could pass for a rare one.
            refine(rest[0])
            rest.sort(key=lambda s: -s.bound)
            continue
        ess.append(rest.pop(0))
    while True:
        if not rest:
            return _all_in_sql(db, ess, k, where, boost, params)
        reach = sum(s.bound for s in rest)
        found, floor, complete, ceiling = _walk(db, ess, k, reach, max_boost, where, boost,
                                                 params)
        if ceiling is None and reach * max_boost < floor:
            alive = [r for r in found if (r[1] + reach) * r[2] >= floor]
            if len(alive) <= KEY_LIST_MAX:
                extra = shares_on(db, rest, [r[0] for r in alive])
                return _finish(alive, extra, len(found), pruned=True)
        # The terms left must be able to add less than this for the next walk
        # to settle: move the rarest into the essential ones (a capped term is
        # counted on first: its true bound may already be small enough).
        target = floor / max_boost if ceiling is None else ceiling
        moved = False
        while rest and (sum(s.bound for s in rest) >= target or not moved):
            head = rest[0]
            if head.capped and refine is not None:
                refine(head)
                rest.sort(key=lambda s: -s.bound)
                continue
            ess.append(rest.pop(0))
            moved = True


def _all_in_sql(db: sqlite3.Connection, sources: list[Source], k: int, where: str, boost: str,
                params: dict[str, object]) -> Ranking:
    """Every term essential: one statement scores, filters, boosts and sorts
    every match in SQLite and keeps the best k (and counts them all)."""
    sql = (f"WITH m AS MATERIALIZED (SELECT obs_words.rowid AS seq, "
           f"-bm25(obs_words, {WORD_WEIGHTS}) AS part, {boost} AS b, o.created_ts AS ts "
           "FROM obs_words JOIN observations o INDEXED BY obs_search_cols "
           f"ON o.seq = obs_words.rowid WHERE obs_words MATCH :expr AND {where}) "
           "SELECT seq, part, b, ts, (SELECT count(*) FROM m) FROM m "
           "ORDER BY part * b DESC, ts DESC, seq DESC LIMIT :k")
    rows = db.execute(sql, {**params, "expr": _or(sources), "k": k}).fetchall()
    total = rows[0][4] if rows else 0
    return _finish([r[:4] for r in rows], {}, total, pruned=False)


def _finish(rows: list[tuple[int, float, float, float]], extra: dict[int, float],
            matching: int, *, pruned: bool) -> Ranking:
    score = {seq: (part + extra.get(seq, 0.0)) * b for seq, part, b, _ in rows}
    created = {seq: c for seq, _, _, c in rows}
    ranked = sorted(score, key=lambda d: (-score[d], -created[d], -d))
    return Ranking(ranked, score, created, pruned, matching)


def exhaustive_rank(db: sqlite3.Connection, sources: list[Source], where: str, boost: str,
                    params: dict[str, object]) -> Ranking:
    """Every match of every term, one term at a time: the reference ranking,
    and the way substring (trigram) terms are ranked."""
    total: dict[int, float] = {}
    boosts: dict[int, float] = {}
    created: dict[int, float] = {}
    for src in sources:
        t = src.table
        weights = WORD_WEIGHTS if t == "obs_words" else TRIGRAM_WEIGHTS
        sql = (f"SELECT {t}.rowid, -bm25({t}, {weights}) * {src.discount}, {boost}, "
               f"o.created_ts FROM {t} JOIN observations o INDEXED BY obs_search_cols "
               f"ON o.seq = {t}.rowid WHERE {t} MATCH :expr AND {where}")
        for seq, share, b, ts in db.execute(sql, {**params, "expr": src.expr}):
            total[seq] = total.get(seq, 0.0) + share
            boosts[seq], created[seq] = b, ts
    score = {d: s * boosts[d] for d, s in total.items()}
    ranked = sorted(score, key=lambda d: (-score[d], -created[d], -d))
    return Ranking(ranked, score, created, False, len(score))
