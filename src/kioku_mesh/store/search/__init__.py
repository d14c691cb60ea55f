"""Search over the host store (ADR 0012).

query.py turns text into terms, filters.py applies what the caller asked
besides text, scoring.py defines a memory's score, topk.py finds the k best
without scoring every match, and engine.py runs one search through them.
"""

from .engine import Explanation, Hit, SearchResult, search, similar_candidates
from .filters import EXPIRED_SQL, SUPERSEDED_SQL, TOMBSTONED_SQL, ReaderScope, SearchQuery

__all__ = [
    "EXPIRED_SQL", "SUPERSEDED_SQL", "TOMBSTONED_SQL", "Explanation", "Hit", "ReaderScope",
    "SearchQuery", "SearchResult", "search", "similar_candidates",
]
