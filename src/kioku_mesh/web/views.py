"""API results as JSON-ready dicts: the shapes the dashboard's pages read.
Texts pass unchanged (the page renders them as text, never as HTML)."""

from __future__ import annotations

from typing import Any

from ..api import SearchResult
from ..api.explain import explanation_dict, explanation_text


def search_view(result: SearchResult, took_ms: float) -> dict[str, Any]:
    hits = []
    for h in result.hits:
        flags = [n for n, on in (("deleted", h.tombstoned), ("superseded", h.superseded),
                                 ("expired", h.expired)) if on]
        hits.append({
            "observation": h.observation.to_wire(),
            "score": round(h.score, 6),
            "flags": flags,
            "explain": explanation_dict(h.explanation) if h.explanation else None,
            "why": explanation_text(h.explanation) if h.explanation else None,
        })
    return {"match": result.match, "total": result.total, "total_text": result.total_text,
            "total_exact": result.total_exact, "terms": result.terms, "took_ms": round(took_ms, 2),
            "hits": hits}


def message_view(stored: Any) -> dict[str, Any]:
    """A StoredMessage (api.messaging) with its acks and delivery state."""
    msg = stored.message
    return {**msg.to_wire(), "acks": [a.to_wire() for a in stored.acks],
            "expired": stored.expired, "delivery": stored.delivery,
            # Flat, for the page (the wire nests them under sender / recipient).
            "from_agent": msg.sender_agent_id, "from_session": msg.sender_session_id,
            "to_kind": msg.recipient_kind, "to_id": msg.recipient_id}
