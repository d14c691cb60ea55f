"""What a search asks for besides text: the query record, the reader's scope
and the SQL that applies filters and hidden states to observation rows `o`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ...core.errors import ValidationError

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
    # Any of these projects (the names a renamed project has gone by).
    projects: list[str] = field(default_factory=list)
    # The caller's current project: its memories rank a little higher (not a
    # filter); boost_aliases are the other names it has gone by.
    boost_project: str | None = None
    boost_aliases: list[str] = field(default_factory=list)
    # Keep each hit's per-term scores and factors (search --explain).
    explain: bool = False
    # Browse only (no text): count the matches up to this many, not all of them
    # (total_exact False past it). A session-start hook needs the top memories
    # fast, not an exact count over a big project (docs/benchmarks.md, hooks).
    count_at_most: int | None = None
    # keyword, semantic or hybrid (fusion.py, ADR 0025); engine.search is
    # keyword only and ignores it.
    mode: str = "hybrid"


def filter_sql(q: SearchQuery, scope: ReaderScope, params: dict[str, object]) -> list[str]:
    where: list[str] = []

    def eq(column: str, value: str | None) -> None:
        if value is not None:
            params[column] = value
            where.append(f"o.{column} = :{column}")

    eq("project", q.project)
    if q.projects:
        where.append(f"o.project IN ({bind_list(params, 'proj', q.projects)})")
    eq("agent_family", q.agent_family)
    eq("client_id", q.client_id)
    eq("pc_id", q.pc_id)
    eq("session_id", q.session_id)
    if q.memory_types:
        names = bind_list(params, "mt", q.memory_types)
        where.append(f"o.memory_type IN ({names})")
    for i, tag in enumerate(q.tags):
        params[f"tag{i}"] = tag
        where.append(f"EXISTS (SELECT 1 FROM json_each(o.tags) WHERE value = :tag{i})")
    if q.visibility:
        tiers = ["" if v == "legacy" else v for v in q.visibility]
        where.append(f"o.visibility IN ({bind_list(params, 'vis', tiers)})")
    if q.since is not None:
        params["since"] = q.since
        where.append("o.created_ts >= :since")
    if q.until is not None:
        params["until"] = q.until
        where.append("o.created_ts <= :until")
    params["reader_user"] = scope.user_id
    teams = bind_list(params, "team", list(scope.team_ids)) if scope.team_ids else "NULL"
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


def bind_list(params: dict[str, object], prefix: str, values: list[str]) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return ", ".join(names)


def flags_sql() -> str:
    return (
        f"{TOMBSTONED_SQL} AS is_tombstoned, {SUPERSEDED_SQL} AS is_superseded, "
        f"{EXPIRED_SQL} AS is_expired"
    )


def check_text(q: SearchQuery) -> None:
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
