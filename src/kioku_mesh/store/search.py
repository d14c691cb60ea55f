"""Search over the host store: FTS5 word and trigram indexes plus filters.

Ranking (see docs/adr/0003-search-ranking.md): BM25 relevance, scaled by
importance and by a gentle recency factor. Without query text, memories come
most important first, then newest.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field, fields

from ..core.errors import ValidationError
from ..core.models import Observation
from .db import row_to_observation
from .textindex import split_terms, trigram_expr, words_expr

# Column weights for bm25(): subject, summary, content, tags, project.
_WEIGHTS = "6.0, 3.0, 1.0, 4.0, 2.0"
_TRIGRAM_DISCOUNT = 0.5  # a substring hit is weaker evidence than a word hit
RECENCY_SCALE_S = 30 * 86400.0

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
    """(word-index expression, substring expression) for one term.

    Substring (trigram) matching is the fallback for a term the word index
    does not know at all (a mid-word fragment like "abas"): common trigrams
    have huge posting lists, and a term that matches as a word or word prefix
    is already well served (ADR 0003)."""
    wexpr = words_expr(term)
    if wexpr and db.execute(
            "SELECT 1 FROM obs_words WHERE obs_words MATCH ? LIMIT 1", (wexpr,)).fetchone():
        return wexpr, None
    return wexpr, trigram_expr(term)


def _term_set(i: int, exprs: tuple[str | None, str | None], params: dict[str, object]) -> str | None:
    parts = []
    wexpr, texpr = exprs
    if wexpr:
        params[f"w{i}"] = wexpr
        parts.append(f"SELECT rowid FROM obs_words WHERE obs_words MATCH :w{i}")
    if texpr:
        params[f"t{i}"] = texpr
        parts.append(f"SELECT rowid FROM obs_tri WHERE obs_tri MATCH :t{i}")
    return " UNION ".join(parts) if parts else None


def _run_text(
    db: sqlite3.Connection, q: SearchQuery, scope: ReaderScope, terms: list[str], combine: str
) -> tuple[list[sqlite3.Row], int]:
    params: dict[str, object] = {"now": time.time(), "limit": q.limit, "offset": q.offset}
    exprs = [_term_exprs(db, t) for t in terms]
    sets = [s for i, e in enumerate(exprs) if (s := _term_set(i, e, params))]
    if not sets:
        return [], 0
    wany = [w for w, _ in exprs if w]
    tany = [t for _, t in exprs if t]
    hits = ""
    only_hits = ""
    # Every memory matching at least one term is in `rel`: with one term, or
    # when any term will do, those are exactly the hits. Only "every term" of
    # several needs the per-term sets; then bm25() is computed for the hits
    # alone (its statistics come from the whole index, so scores are the same).
    # The unary + keeps SQLite from handing the IN list to FTS5, which would
    # re-run the full-text query once per hit.
    if combine == "all" and len(sets) > 1:
        hits = f"hits(seq) AS ({' INTERSECT '.join(f'SELECT * FROM ({s})' for s in sets)}),"
        only_hits = " AND +rowid IN hits"
    rel_parts = []
    if wany:
        params["wany"] = " OR ".join(wany)
        rel_parts.append(
            f"SELECT rowid AS seq, bm25(obs_words, {_WEIGHTS}) AS s "
            f"FROM obs_words WHERE obs_words MATCH :wany{only_hits}"
        )
    if tany:
        params["tany"] = " OR ".join(tany)
        rel_parts.append(
            f"SELECT rowid AS seq, {_TRIGRAM_DISCOUNT} * bm25(obs_tri, {_WEIGHTS}) AS s "
            f"FROM obs_tri WHERE obs_tri MATCH :tany{only_hits}"
        )
    # MATERIALIZED keeps bm25() inside its FTS query: flattened into the
    # GROUP BY below, SQLite refuses to evaluate it.
    rel_ctes = ", ".join(f"r{i} AS MATERIALIZED ({p})" for i, p in enumerate(rel_parts))
    rel_union = " UNION ALL ".join(f"SELECT seq, s FROM r{i}" for i in range(len(rel_parts)))
    where = _filters(q, scope, params)
    # Ranking sorts narrow rows; full rows and flags are read for the page only.
    sql = f"""
        WITH {hits}
        {rel_ctes},
        rel(seq, r) AS (SELECT seq, min(s) FROM ({rel_union}) GROUP BY seq),
        page AS MATERIALIZED (
            SELECT o.seq AS seq, o.created_ts AS created_ts, count(*) OVER () AS total,
                   -rel.r * {_boost()} AS score
            FROM rel JOIN observations o ON o.seq = rel.seq
            WHERE {" AND ".join(where)}
            ORDER BY score DESC, o.created_ts DESC
            LIMIT :limit OFFSET :offset
        )
        SELECT o.*, {_flags()}, page.total AS total, page.score AS score
        FROM page JOIN observations o ON o.seq = page.seq
        ORDER BY page.score DESC, page.created_ts DESC
    """
    rows = db.execute(sql, params).fetchall()
    return rows, (rows[0]["total"] if rows else 0)


def _run_browse(
    db: sqlite3.Connection, q: SearchQuery, scope: ReaderScope
) -> tuple[list[sqlite3.Row], int]:
    params: dict[str, object] = {"now": time.time(), "limit": q.limit, "offset": q.offset}
    where = " AND ".join(_filters(q, scope, params))
    rows = db.execute(
        f"SELECT o.*, {_flags()}, {_boost()} AS score FROM observations o WHERE {where} "
        "ORDER BY o.importance DESC, o.created_ts DESC LIMIT :limit OFFSET :offset",
        params,
    ).fetchall()
    if q.offset == 0 and len(rows) < q.limit:
        return rows, len(rows)
    total = db.execute(f"SELECT count(*) FROM observations o WHERE {where}", params).fetchone()[0]
    return rows, int(total)


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
        rows, total = _run_browse(db, q, scope)
        match = "browse"
    else:
        rows, total = _run_text(db, q, scope, terms, "all")
        match = "all"
        if not rows and len(terms) > 1 and q.offset == 0:
            rows, total = _run_text(db, q, scope, terms, "any")
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
    return SearchResult(hits=hits, total=total, match=match, terms=terms)


def similar_candidates(db: sqlite3.Connection, text: str, limit: int = 5) -> list[Observation]:
    """Live memories containing every word of `text` (word index only, best
    BM25 first): the cheap pre-filter of the near-duplicate check on save."""
    exprs = [e for t in split_terms(text)[:12] if (e := words_expr(t))]
    if not exprs:
        return []
    rows = db.execute(
        "SELECT o.* FROM obs_words JOIN observations o ON o.seq = obs_words.rowid "
        f"WHERE obs_words MATCH ? AND NOT {TOMBSTONED_SQL} AND NOT {SUPERSEDED_SQL} "
        "ORDER BY obs_words.rank LIMIT ?",
        (" AND ".join(exprs), limit),
    ).fetchall()
    return [row_to_observation(row) for row in rows]
