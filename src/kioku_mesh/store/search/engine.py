"""One search, start to end: terms -> sources with bounds -> top k -> hits.
Without query text, memories come most important first, then newest."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ...core.models import Observation
from ..db import row_to_observation
from .filters import (
    SUPERSEDED_SQL,
    TOMBSTONED_SQL,
    ReaderScope,
    SearchQuery,
    check_text,
    filter_sql,
    flags_sql,
)
from .query import Term, parse_terms
from .scoring import (
    TRIGRAM_DISCOUNT,
    TRIGRAM_WEIGHTS,
    WORD_COLUMNS,
    boost_parts,
    boost_sql,
    max_boost,
    term_bound,
)
from .topk import Source, exhaustive_rank, rank, shares_on


@dataclass
class Explanation:
    """Why a hit ranked where it did: score = boost x sum(term shares)."""

    terms: dict[str, float]  # term label -> its bm25 share (0: not matched)
    factors: dict[str, float]  # importance, recency, project
    relevance: float
    score: float


@dataclass
class Hit:
    observation: Observation
    score: float
    tombstoned: bool
    superseded: bool
    expired: bool
    explanation: Explanation | None = None


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    # "all": the best hit has every term; "any": it lacks some; "browse": no text.
    match: str
    terms: list[str]
    # False when not every matching row was looked at (ADR 0012): `total` is
    # then a floor, shown as "N+".
    total_exact: bool = True
    matched_terms: list[str] = field(default_factory=list)  # terms that matched anything

    @property
    def total_text(self) -> str:
        return f"{self.total:,}" + ("" if self.total_exact else "+")


def _count_at_most(db: sqlite3.Connection, table: str, expr: str, cap: int) -> int:
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ? LIMIT ?)"
    return int(db.execute(sql, (expr, cap)).fetchone()[0])


def _sources(db: sqlite3.Connection, terms: list[Term]) -> tuple[list[Source], int]:
    """Each term as the word index (word, stem or word prefix) finds it, else
    as a substring (trigram index) for a fragment no word starts with; and
    the most rows the store can hold (for the terms' bounds)."""
    rows_at_most = db.execute("SELECT coalesce(max(seq), 0) FROM observations").fetchone()[0]
    # Counting a common term's rows is cheap next to scoring them, but not
    # free: past a sixteenth of the store, only when its bound matters.
    cap = max(256, rows_at_most // 16)
    out = []
    for i, term in enumerate(terms):
        expr = f"{WORD_COLUMNS} : {term.words_expr()}"
        df = _count_at_most(db, "obs_words", expr, cap)
        if not df and not term.prefix and term.may_be_prefix:
            expr = f"{WORD_COLUMNS} : {term.words_expr(prefix=True)}"
            df = _count_at_most(db, "obs_words", expr, cap)
        if df:
            out.append(Source(i, "obs_words", expr, 1.0, term_bound(rows_at_most, df), df,
                              df >= cap))
            continue
        tri = term.trigram_expr()
        if tri and _count_at_most(db, "obs_tri", tri, 1):
            out.append(Source(i, "obs_tri", tri, TRIGRAM_DISCOUNT, float("inf")))
    return out, rows_at_most


def _refiner(db: sqlite3.Connection, rows_at_most: int) -> Callable[[Source], None]:
    def refine(src: Source) -> None:
        # Past half the rows FTS5's idf is at its floor: no need to count on.
        src.matches = _count_at_most(db, src.table, src.expr, rows_at_most // 2 + 1)
        src.bound = term_bound(rows_at_most, src.matches)
        src.capped = False
    return refine


def _has_every_term(db: sqlite3.Connection, sources: list[Source], terms: int, seq: int) -> bool:
    if len(sources) < terms:
        return False
    if terms == 1:
        return True  # a ranked row matched the one term
    for table in ("obs_words", "obs_tri"):
        mine = [s for s in sources if s.table == table]
        if not mine:
            continue
        expr = " AND ".join(f"({s.expr})" for s in mine)
        sql = f"SELECT 1 FROM {table} WHERE {table} MATCH ? AND rowid = ?"
        if db.execute(sql, (expr, seq)).fetchone() is None:
            return False
    return True


def _term_shares(db: sqlite3.Connection, sources: list[Source], seqs: list[int]
                 ) -> dict[int, dict[int, float]]:
    """Each term's share on each of these rows (for explanations): one
    statement per term."""
    out: dict[int, dict[int, float]] = {s: {} for s in seqs}
    for src in sources:
        if src.table == "obs_words":
            found = shares_on(db, [src], seqs)
        else:
            marks = ", ".join(str(int(s)) for s in seqs)
            sql = (f"SELECT rowid, -bm25(obs_tri, {TRIGRAM_WEIGHTS}) * {src.discount} FROM obs_tri "
                   f"WHERE obs_tri MATCH ? AND +rowid IN ({marks})")
            found = dict(db.execute(sql, (src.expr,)).fetchall())
        for seq, share in found.items():
            out[seq][src.index] = share
    return out


def _fetch(db: sqlite3.Connection, seqs: list[int], params: dict[str, object]) -> list[sqlite3.Row]:
    if not seqs:
        return []
    marks = ", ".join(str(int(s)) for s in seqs)
    rows = db.execute(
        f"SELECT o.*, {flags_sql()} FROM observations o WHERE o.seq IN ({marks})",
        {"now": params["now"]},
    ).fetchall()
    by_seq = {row["seq"]: row for row in rows}
    return [by_seq[s] for s in seqs]


def _hit(row: sqlite3.Row, score: float) -> Hit:
    return Hit(observation=row_to_observation(row), score=score,
               tombstoned=bool(row["is_tombstoned"]), superseded=bool(row["is_superseded"]),
               expired=bool(row["is_expired"]))


def _boosted(q: SearchQuery) -> list[str]:
    return [q.boost_project, *q.boost_aliases] if q.boost_project is not None else []


def _explain(score: float, parts: dict[int, float], terms: list[Term], row: sqlite3.Row,
             q: SearchQuery, now: float) -> Explanation:
    shares = {t.label: round(parts.get(i, 0.0), 6) for i, t in enumerate(terms)}
    factors = boost_parts(row["importance"], row["created_ts"], row["project"], now,
                          _boosted(q), bool(row["is_superseded"]))
    return Explanation(shares, factors, sum(parts.values()), score)


def _run_text(db: sqlite3.Connection, q: SearchQuery, scope: ReaderScope, terms: list[Term],
              now: float, *, exhaustive: bool = False) -> SearchResult:
    labels = [t.label for t in terms]
    sources, rows_at_most = _sources(db, terms)
    if not sources:
        return SearchResult([], 0, "any", labels, True, [])
    params: dict[str, object] = {"now": now}
    if q.boost_project is not None:
        params["boost_projects"] = json.dumps(_boosted(q))
    where = " AND ".join(filter_sql(q, scope, params))
    boosting = q.boost_project is not None
    boost = boost_sql(boosting, q.include_superseded)
    if exhaustive or any(s.table != "obs_words" for s in sources):
        ranking = exhaustive_rank(db, sources, where, boost, params)
    else:
        # One aggregate per statement: SQLite reads a lone max() off an index.
        top_importance = db.execute("SELECT max(importance) FROM observations").fetchone()[0]
        newest = db.execute("SELECT max(created_ts) FROM observations").fetchone()[0]
        bound = max_boost(top_importance, newest, now, boosting)
        ranking = rank(db, sources, q.offset + q.limit, where, boost, params, bound,
                       _refiner(db, rows_at_most))
    page = ranking.order[q.offset : q.offset + q.limit]
    rows = _fetch(db, page, params)
    hits = [_hit(row, ranking.score[row["seq"]]) for row in rows]
    if q.explain:
        parts = _term_shares(db, sources, page)
        for hit, row in zip(hits, rows, strict=True):
            hit.explanation = _explain(hit.score, parts[row["seq"]], terms, row, q, now)
    every = bool(page) and _has_every_term(db, sources, len(terms), page[0])
    matched = [terms[s.index].label for s in sorted(sources, key=lambda s: s.index)]
    return SearchResult(hits, ranking.rows, "all" if every else "any", labels,
                        not ranking.pruned, matched)


def _run_browse(db: sqlite3.Connection, q: SearchQuery, scope: ReaderScope) -> SearchResult:
    params: dict[str, object] = {"now": time.time(), "limit": q.limit, "offset": q.offset}
    where = " AND ".join(filter_sql(q, scope, params))
    source = "observations o"
    capped: int | None = None
    if q.count_at_most is not None:
        params["cap"] = q.count_at_most
        capped = int(db.execute(f"SELECT count(*) FROM (SELECT 1 FROM observations o WHERE "
                                f"{where} LIMIT :cap)", params).fetchone()[0])
        if capped >= q.count_at_most:
            # Many matches: walking the importance index until the page is full beats
            # sorting them all (SQLite picks the project index: 106 -> 1.7 ms for a
            # project of 16k memories in 100k). Few matches: its own plan is best.
            source = "observations o INDEXED BY obs_rank"
    rows = db.execute(
        f"SELECT o.*, {flags_sql()}, {boost_sql(False)} AS score FROM {source} "
        f"WHERE {where} ORDER BY o.importance DESC, o.created_ts DESC "
        "LIMIT :limit OFFSET :offset",
        params,
    ).fetchall()
    hits = [_hit(row, float(row["score"])) for row in rows]
    if capped is not None:
        return SearchResult(hits, capped, "browse", [], capped < (q.count_at_most or 0))
    if q.offset == 0 and len(rows) < q.limit:
        total = len(rows)
    else:
        total = int(db.execute(f"SELECT count(*) FROM observations o WHERE {where}",
                               params).fetchone()[0])
    return SearchResult([_hit(row, float(row["score"])) for row in rows], total, "browse", [])


def search(db: sqlite3.Connection, q: SearchQuery, scope: ReaderScope, *,
           exhaustive: bool = False, now: float | None = None) -> SearchResult:
    """`exhaustive` scores every match of every term: the same answer, slower
    (the reference for tests). `now` (default: the clock) is what recency and
    expiry are measured from."""
    check_text(q)
    terms = parse_terms(q.text)
    if not terms:
        return _run_browse(db, q, scope)
    return _run_text(db, q, scope, terms, time.time() if now is None else now,
                     exhaustive=exhaustive)
def similar_candidates(
    db: sqlite3.Connection, subject: str, keep: Callable[[str], bool] = lambda _: True,
    limit: int = 20,
) -> list[Observation]:
    """Live memories that may duplicate one titled `subject`: the newest
    `limit` whose subject has the longest word of `subject` (a rare word,
    usually, so the walk is short; every word made it ~10x slower), narrowed
    by `keep(their subject)` before their full rows are read. The cheap
    pre-filter of the near-duplicate check on save."""
    words = [t.words_expr().rstrip("*") for t in parse_terms(subject)[:12]]
    if not words:
        return []
    longest = max(words, key=len)
    rows = db.execute(
        "SELECT o.seq, o.subject FROM obs_words JOIN observations o ON o.seq = obs_words.rowid "
        f"WHERE obs_words MATCH ? AND NOT {TOMBSTONED_SQL} AND NOT {SUPERSEDED_SQL} "
        "ORDER BY obs_words.rowid DESC LIMIT ?",
        ("{subject} : " + longest, limit),
    ).fetchall()
    seqs = [row["seq"] for row in rows if keep(row["subject"])]
    if not seqs:
        return []
    marks = ", ".join("?" * len(seqs))
    full = db.execute(
        f"SELECT * FROM observations WHERE seq IN ({marks}) ORDER BY seq DESC", seqs
    ).fetchall()
    return [row_to_observation(row) for row in full]
