"""The score of a memory for a query (ADR 0012), in one place.

    score = boost(memory) x sum over query terms of bm25_term(memory)

bm25_term is FTS5's own bm25() of the term alone, with the column weights
below: per term it is exactly that term's share of bm25() over all the terms
OR'ed, so a term can be scored on its own, or only on some rows, and the sum
is the same. boost = importance x recency x current project. Every factor is
bounded, which is what lets topk.py skip work without changing the answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .filters import SUPERSEDED_SQL

# Column weights: subject, summary, content, tags, project (and the row key,
# which must weigh nothing). Measured on the public relevance set: ADR 0012.
WEIGHTS = (3.0, 2.0, 1.0, 2.0, 1.0)
WORD_WEIGHTS = ", ".join(str(w) for w in (*WEIGHTS, 0.0))
# The substring index holds subjects and tags only.
TRIGRAM_WEIGHTS = f"{WEIGHTS[0]}, {WEIGHTS[3]}"
# The columns a query may match (never the key column).
WORD_COLUMNS = "{subject summary content tags_text project}"
TRIGRAM_DISCOUNT = 0.5  # a substring hit is weaker evidence than a word hit
K1 = 1.2  # FTS5's bm25 constant: one term's share never reaches idf x (K1 + 1)

IMPORTANCE_BASE, IMPORTANCE_STEP = 0.6, 0.2  # importance 2 (the default) -> 1.0
IMPORTANCE_MAX = IMPORTANCE_BASE + IMPORTANCE_STEP * 5
RECENCY_FLOOR = 0.8  # a very old memory keeps 80% of its score
RECENCY_SCALE_S = 90 * 86400.0  # ... and one 90 days old 90%
PROJECT_BOOST = 1.25
# A replaced memory, shown only when asked for, ranks below what replaced it.
SUPERSEDED_FACTOR = 0.5


def boost_sql(boost_project: bool, superseded: bool = False) -> str:
    """SQL for boost(o): needs :now (and :boost_projects, a JSON list, when asked);
    `superseded`: replaced memories can be among the rows."""
    sql = (
        f"({IMPORTANCE_BASE} + {IMPORTANCE_STEP} * min(max(o.importance, 1), 5)) * "
        f"({RECENCY_FLOOR} + {1 - RECENCY_FLOOR} / "
        f"(1.0 + max(0.0, :now - o.created_ts) / {RECENCY_SCALE_S}))"
    )
    if boost_project:
        sql += (" * (CASE WHEN o.project IN (SELECT value FROM json_each(:boost_projects)) "
                f"THEN {PROJECT_BOOST} ELSE 1.0 END)")
    if superseded:
        sql += f" * (CASE WHEN {SUPERSEDED_SQL} THEN {SUPERSEDED_FACTOR} ELSE 1.0 END)"
    return sql


def boost_parts(importance: int, created_ts: float, project: str, now: float,
                boost_projects: Sequence[str] = (), superseded: bool = False
                ) -> dict[str, float]:
    """The factors of boost_sql, computed in Python (for explanations)."""
    imp = IMPORTANCE_BASE + IMPORTANCE_STEP * min(max(importance, 1), 5)
    age = max(0.0, now - created_ts)
    rec = RECENCY_FLOOR + (1 - RECENCY_FLOOR) / (1.0 + age / RECENCY_SCALE_S)
    proj = PROJECT_BOOST if project in boost_projects else 1.0
    parts = {"importance": imp, "recency": rec, "project": proj}
    if superseded:
        parts["superseded"] = SUPERSEDED_FACTOR
    return parts


def max_boost(max_importance: int | None, newest_ts: float | None, now: float,
              boost_project: bool) -> float:
    """The largest boost any stored row can have: from the highest importance
    and the newest created_at in the store (both read off an index)."""
    if max_importance is None or newest_ts is None:
        return IMPORTANCE_MAX * (PROJECT_BOOST if boost_project else 1.0)
    parts = boost_parts(max_importance, newest_ts, "", now)
    bound = parts["importance"] * parts["recency"] * (PROJECT_BOOST if boost_project else 1.0)
    return bound * 1.000001  # float rounding in SQL vs here


def idf(rows: int, df: int) -> float:
    """FTS5's idf (sqlite fts5_aux.c): never below 1e-6."""
    value = math.log((rows - df + 0.5) / (df + 0.5))
    return value if value > 0.0 else 1e-6


def term_bound(rows_at_most: int, df_at_least: int, discount: float = 1.0) -> float:
    """Upper bound of one term's bm25 share in any row: idf can only be
    smaller with more rows matching and fewer rows in all; the tf part of
    bm25 stays below K1 + 1. A small margin absorbs float rounding."""
    return idf(max(rows_at_most, df_at_least), df_at_least) * (K1 + 1.0) * discount * 1.000001
