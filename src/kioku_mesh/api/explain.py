"""Why a hit ranked where it did, as text and as data (search --explain and
the MCP `explain` flag share these)."""

from __future__ import annotations

from typing import Any

from ..store.search import Explanation


def explanation_dict(e: Explanation) -> dict[str, Any]:
    boost = 1.0
    for value in e.factors.values():
        boost *= value
    return {"score": round(e.score, 6), "relevance": round(e.relevance, 6),
            "boost": round(boost, 6), "factors": {k: round(v, 6) for k, v in e.factors.items()},
            "terms": e.terms}


def explanation_text(e: Explanation) -> str:
    """score 9.1 = relevance 8.3 (cache 6.1, timeout 2.2, retry -) x boost 1.10
    (importance 1.20, recency 0.92, project 1.00)"""
    d = explanation_dict(e)
    terms = ", ".join(f"{t} {v:.2f}" if v else f"{t} -" for t, v in e.terms.items())
    factors = ", ".join(f"{k} {v:.2f}" for k, v in e.factors.items())
    return (f"score {e.score:.2f} = relevance {e.relevance:.2f} ({terms}) "
            f"x boost {d['boost']:.2f} ({factors})")
