"""Search over the host store: FTS5 word and trigram indexes plus filters.

Ranking (see docs/adr/0003-search-ranking.md): BM25 relevance, scaled by
importance and by a gentle recency factor. Without query text, memories come
most important first, then newest.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from ..core.errors import ValidationError
from ..core.models import Observation
from .db import row_to_observation
from .textindex import QUERY_TOKEN, split_terms, trigram_expr, words_expr

# Column weights for bm25(): subject, summary, content, tags, project.
_WEIGHTS = "6.0, 3.0, 1.0, 4.0, 2.0"
_WEIGHTS_NO_PROJECT = "6.0, 3.0, 1.0, 4.0, 0.0"
_TRIGRAM_DISCOUNT = 0.5  # a substring hit is weaker evidence than a word hit
RECENCY_SCALE_S = 30 * 86400.0
# Newest matches per FTS query that are ranked (ADR 0010).
CANDIDATE_WINDOW = 200

TOMBSTONED_SQL = "EXISTS (SELECT 1 FROM tombstones t WHERE t.id = o.id)"
SUPERSEDED_SQL = (
    "EXISTS (SELECT 1 FROM supersessions s WHERE s.old_id = o.id "
    "AND NOT EXISTS (SELECT 1 FROM tombstones t2 WHERE t2.id = s.new_id))"
)
EXPIRED_SQL = "(o.expires_ts IS NOT NULL AND o.expires_ts <= :now)"


@dataclass
class ReaderScope:
    """Which user/team tiers the reader may see; mesh and legacy are open."""

    user_id: str = ""
    team_ids: tuple[str, ...] = ()


@dataclass
class SearchQuery:
    text: str = ""
    project: str | None = None
    memory_types: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    agent_family: str | None = None
    client_id: str | None = None
    pc_id: str | None = None
    session_id: str | None = None
    visibility: list[str] = field(default_factory=list)  # tiers; "legacy" means ""
    since: float | None = None
    until: float | None = None
    include_tombstoned: bool = False
    include_superseded: bool = False
    include_expired: bool = False
    limit: int = 20
    offset: int = 0


@dataclass
class Hit:
    observation: Observation
    score: float
    tombstoned: bool
    superseded: bool
    expired: bool


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    match: str  # "all" (every term), "any" (fallback), "browse" (no query text)
    terms: list[str]
    # False when a very common term filled the candidate window: `total` is
    # then a lower bound ("200+").
    total_exact: bool = True

    @property
    def total_text(self) -> str:
        return f"{self.total:,}" + ("" if self.total_exact else "+")


def _filters(q: SearchQuery, scope: ReaderScope, params: dict[str, object]) -> list[str]:
    where: list[str] = []

    def eq(column: str, value: str | None) -> None:
        if value is not None:
            params[column] = value
            where.append(f"o.{column} = :{column}")

    eq("project", q.project)
    eq("agent_family", q.agent_family)
    eq("client_id", q.client_id)
    eq("pc_id", q.pc_id)
    eq("session_id", q.session_id)
    if q.memory_types:
        names = _bind_list(params, "mt", q.memory_types)
        where.append(f"o.memory_type IN ({names})")
    for i, tag in enumerate(q.tags):
        params[f"tag{i}"] = tag
        where.append(f"EXISTS (SELECT 1 FROM json_each(o.tags) WHERE value = :tag{i})")
    if q.visibility:
        tiers = ["" if v == "legacy" else v for v in q.visibility]
        where.append(f"o.visibility IN ({_bind_list(params, 'vis', tiers)})")
    if q.since is not None:
        params["since"] = q.since
        where.append("o.created_ts >= :since")
    if q.until is not None:
        params["until"] = q.until
        where.append("o.created_ts <= :until")
    params["reader_user"] = scope.user_id
    teams = _bind_list(params, "team", list(scope.team_ids)) if scope.team_ids else "NULL"
    where.append(
        "(o.visibility NOT IN ('user', 'team') "
        "OR (o.visibility = 'user' AND o.scope_id = :reader_user AND :reader_user != '') "
        f"OR (o.visibility = 'team' AND o.scope_id IN ({teams})))"
    )
    if not q.include_tombstoned:
        where.append(f"NOT {TOMBSTONED_SQL}")
    if not q.include_superseded:
        where.append(f"NOT {SUPERSEDED_SQL}")
    if not q.include_expired:
        where.append(f"NOT {EXPIRED_SQL}")
    return where


def _bind_list(params: dict[str, object], prefix: str, values: list[str]) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return ", ".join(names)


def _term_exprs(db: sqlite3.Connection, term: str) -> tuple[str | None, str | None]:
    """(word-index expression, substring expression) for one term; exactly
    one is set when the term can match at all.

    Substring (trigram) matching is the fallback for a term the word index
    does not know at all (a mid-word fragment like "abas"): common trigrams
    have huge posting lists, and a term that matches as a word or word prefix
    is already well served (ADR 0003). The probe tries the whole word before
    the prefix: a prefix lookup merges every word it covers."""
    wexpr = words_expr(term)
    if wexpr and (
        _matches_any(db, "obs_words", wexpr.rstrip("*"))
        or (wexpr.endswith("*") and _matches_any(db, "obs_words", wexpr))
    ):
        return wexpr, None
    texpr = trigram_expr(term)
    if texpr and _matches_any(db, "obs_tri", texpr):
        return None, texpr
    return None, None  # matches nothing anywhere


def _matches_any(db: sqlite3.Connection, table: str, expr: str) -> bool:
    sql = f"SELECT 1 FROM {table} WHERE {table} MATCH ? LIMIT 1"
    return db.execute(sql, (expr,)).fetchone() is not None


@dataclass
class _Source:
    """One FTS query whose newest matches are ranking candidates."""

    table: str
    expr: str
    weights: str
    discount: float = 1.0
    restrict_table: str | None = None  # the rows must also match here
    restrict_expr: str | None = None


def _project_clause(project: str | None) -> str | None:
    """An FTS5 clause on the indexed project column: narrows a project-filtered
    search inside FTS5 instead of reading every match's row to compare (the
    exact filter still runs in SQL)."""
    if project is None or len(project) < 3 or not QUERY_TOKEN.search(project):
        return None
    return '{project} : "' + project.replace('"', '""') + '"'


def _sources(
    exprs: list[tuple[str | None, str | None]], combine: str, project: str | None
) -> list[_Source]:
    if combine == "all" and any(e == (None, None) for e in exprs):
        return []  # a term nothing can match: no memory has every term
    words = [w for w, _ in exprs if w]
    subs = [t for _, t in exprs if t]
    joiner = " OR " if combine == "any" else " AND "
    narrow = _project_clause(project)
    # With the project clause in the expression its column must weigh 0, or
    # bm25() would score the clause itself.
    weights = _WEIGHTS_NO_PROJECT if narrow else _WEIGHTS

    def expr(parts: list[str]) -> str:
        text = "(" + joiner.join(parts) + ")"
        return f"{text} AND {narrow}" if narrow else text

    if combine == "any":
        out = []
        if words:
            out.append(_Source("obs_words", expr(words), weights))
        if subs:
            out.append(_Source("obs_tri", expr(subs), weights, _TRIGRAM_DISCOUNT))
        return out
    if words:
        return [_Source("obs_words", expr(words), weights, 1.0,
                        "obs_tri" if subs else None, " AND ".join(subs) or None)]
    return [_Source("obs_tri", expr(subs), weights, _TRIGRAM_DISCOUNT)]


def _run_text(
    db: sqlite3.Connection, q: SearchQuery, scope: ReaderScope, terms: list[str], combine: str
) -> tuple[list[sqlite3.Row], int, bool]:
    """Rank the newest CANDIDATE_WINDOW matches of each source that pass the
    filters (ADR 0010): the work stays bounded when a term is in half of a
    large store, and is exact whenever a source has fewer matches."""
    exprs = [_term_exprs(db, t) for t in terms]
    if combine == "any":
        exprs = [e for e in exprs if e != (None, None)]
    sources = _sources(exprs, combine, q.project)
    if not sources:
        return [], 0, True
    window = max(CANDIDATE_WINDOW, q.offset + q.limit)
    params: dict[str, object] = {"now": time.time(), "limit": q.limit, "offset": q.offset,
                                 "window": window}
    where = " AND ".join(_filters(q, scope, params))
    ctes = []
    for i, src in enumerate(sources):
        params[f"e{i}"] = src.expr
        restrict = ""
        if src.restrict_table:
            params[f"r{i}"] = src.restrict_expr
            # The unary + keeps SQLite from handing the IN list to FTS5, which
            # would re-run the full-text query once per row.
            restrict = (f" AND +{src.table}.rowid IN (SELECT rowid FROM {src.restrict_table} "
                        f"WHERE {src.restrict_table} MATCH :r{i})")
        # FTS5 walks its matches newest first (rowid = seq) and stops after
        # `window` rows pass the filters; bm25() runs for those rows only.
        ctes.append(
            f"c{i} AS MATERIALIZED (SELECT {src.table}.rowid AS seq, o.created_ts AS ts, "
            f"-{src.discount} * bm25({src.table}, {src.weights}) * {_boost()} AS score "
            f"FROM {src.table} JOIN observations o INDEXED BY obs_search_cols "
            f"ON o.seq = {src.table}.rowid "
            f"WHERE {src.table} MATCH :e{i}{restrict} AND {where} "
            f"ORDER BY {src.table}.rowid DESC LIMIT :window)"
        )
    if len(sources) == 1:
        cand = "c0"
    else:
        union = " UNION ALL ".join(f"SELECT * FROM c{i}" for i in range(len(sources)))
        ctes.append(f"cand AS MATERIALIZED (SELECT seq, ts, max(score) AS score "
                    f"FROM ({union}) GROUP BY seq)")
        cand = "cand"
    counts = ", ".join(f"(SELECT count(*) FROM c{i})" for i in range(len(sources)))
    sql = f"""
        WITH {", ".join(ctes)},
        page AS MATERIALIZED (
            SELECT seq, ts, score FROM {cand} ORDER BY score DESC, ts DESC
            LIMIT :limit OFFSET :offset
        )
        SELECT o.*, {_flags()}, page.score AS score, (SELECT count(*) FROM {cand}) AS total,
               max({counts}, 0) AS fullest
        FROM page JOIN observations o ON o.seq = page.seq
        ORDER BY page.score DESC, page.ts DESC
    """
    rows = db.execute(sql, params).fetchall()
    if not rows:
        return rows, 0, True
    return rows, rows[0]["total"], rows[0]["fullest"] < window


def _run_browse(
    db: sqlite3.Connection, q: SearchQuery, scope: ReaderScope
) -> tuple[list[sqlite3.Row], int, bool]:
    params: dict[str, object] = {"now": time.time(), "limit": q.limit, "offset": q.offset}
    where = " AND ".join(_filters(q, scope, params))
    rows = db.execute(
        f"SELECT o.*, {_flags()}, {_boost()} AS score FROM observations o WHERE {where} "
        "ORDER BY o.importance DESC, o.created_ts DESC LIMIT :limit OFFSET :offset",
        params,
    ).fetchall()
    if q.offset == 0 and len(rows) < q.limit:
        return rows, len(rows), True
    total = db.execute(f"SELECT count(*) FROM observations o WHERE {where}", params).fetchone()[0]
    return rows, int(total), True


def _flags() -> str:
    return (
        f"{TOMBSTONED_SQL} AS is_tombstoned, {SUPERSEDED_SQL} AS is_superseded, "
        f"{EXPIRED_SQL} AS is_expired"
    )


def _boost() -> str:
    """Importance 2 (the default) scores 1.0; a memory a month old keeps 75%."""
    return (
        "(0.6 + 0.2 * o.importance) * "
        f"(0.5 + 0.5 / (1.0 + max(0.0, :now - o.created_ts) / {RECENCY_SCALE_S}))"
    )


def _check_text(q: SearchQuery) -> None:
    """Lone surrogates (possible in JSON from a client) cannot be bound by SQLite."""
    for f in fields(q):
        value = getattr(q, f.name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    name = "query" if f.name == "text" else f.name
                    raise ValidationError(f"{name} is not valid UTF-8 text") from None


def search(db: sqlite3.Connection, q: SearchQuery, scope: ReaderScope) -> SearchResult:
    _check_text(q)
    terms = split_terms(q.text)
    if not terms:
        rows, total, exact = _run_browse(db, q, scope)
        match = "browse"
    else:
        rows, total, exact = _run_text(db, q, scope, terms, "all")
        match = "all"
        if not rows and len(terms) > 1 and q.offset == 0:
            rows, total, exact = _run_text(db, q, scope, terms, "any")
            match = "any"
    hits = [
        Hit(
            observation=row_to_observation(row),
            score=float(row["score"]),
            tombstoned=bool(row["is_tombstoned"]),
            superseded=bool(row["is_superseded"]),
            expired=bool(row["is_expired"]),
        )
        for row in rows
    ]
    return SearchResult(hits=hits, total=total, match=match, terms=terms, total_exact=exact)


def similar_candidates(
    db: sqlite3.Connection, subject: str, keep: Callable[[str], bool] = lambda _: True,
    limit: int = 20,
) -> list[Observation]:
    """Live memories that may duplicate one titled `subject`: the newest
    `limit` whose subject has the longest word of `subject` (a rare word,
    usually, so the walk is short; every word made it ~10x slower), narrowed
    by `keep(their subject)` before their full rows are read. The cheap
    pre-filter of the near-duplicate check on save."""
    words = [e.rstrip("*") for t in split_terms(subject)[:12] if (e := words_expr(t))]
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
