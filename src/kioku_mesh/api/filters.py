"""Search filters given as text (command-line flags, a web form's fields)
turned into one checked `SearchQuery`: every adapter filters the same way."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.errors import ValidationError
from ..core.timeutil import parse_when
from ..store.search import SearchQuery


def text_list(values: str | Sequence[str] | None) -> list[str]:
    """"a,b", ["a", "b,c"] -> ["a", "b", "c"]: repeated and comma-separated alike."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [v.strip() for item in items for v in str(item).split(",") if v.strip()]


def _opt(value: str | None) -> str | None:
    return None if value is None else value.strip()


def search_query(
    text: str = "",
    *,
    project: str | None = None,
    memory_types: str | Sequence[str] | None = None,
    tags: str | Sequence[str] | None = None,
    agent_family: str | None = None,
    client_id: str | None = None,
    pc_id: str | None = None,
    session_id: str | None = None,
    visibility: str | Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    include_tombstoned: bool = False,
    include_superseded: bool = False,
    include_expired: bool = False,
    include_hidden: bool = False,
    limit: int = 10,
    offset: int = 0,
    boost_project: str | None = None,
    explain: bool = False,
    mode: str = "hybrid",
) -> SearchQuery:
    """None means "no filter"; a time is ISO or an age like 7d."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValidationError("limit must be a positive number")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError("offset must be zero or more")
    since_s, until_s = _opt(since), _opt(until)
    return SearchQuery(
        text=text or "",
        project=_opt(project),
        memory_types=text_list(memory_types),
        tags=text_list(tags),
        agent_family=_opt(agent_family),
        client_id=_opt(client_id),
        pc_id=_opt(pc_id),
        session_id=_opt(session_id),
        visibility=text_list(visibility),
        since=parse_when(since_s) if since_s else None,
        until=parse_when(until_s) if until_s else None,
        include_tombstoned=include_tombstoned or include_hidden,
        include_superseded=include_superseded or include_hidden,
        include_expired=include_expired or include_hidden,
        limit=limit,
        offset=offset,
        boost_project=_opt(boost_project),
        explain=explain,
        mode=mode,
    )
