"""Housekeeping on the host store: status, doctor checks and garbage collection."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from ..store.search import EXPIRED_SQL, SUPERSEDED_SQL, TOMBSTONED_SQL
from .memory import Memory


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def status(mem: Memory) -> dict[str, Any]:
    s = mem.settings
    db = mem.store.db
    now = time.time()
    row = db.execute(
        f"""SELECT count(*) AS total,
                   sum({TOMBSTONED_SQL}) AS tombstoned,
                   sum(NOT {TOMBSTONED_SQL} AND {SUPERSEDED_SQL}) AS superseded,
                   sum(NOT {TOMBSTONED_SQL} AND {EXPIRED_SQL}) AS expired
            FROM observations o""",
        {"now": now},
    ).fetchone()
    total = row["total"] or 0
    hidden = (row["tombstoned"] or 0) + (row["superseded"] or 0) + (row["expired"] or 0)
    size = sum(
        os.path.getsize(p) for p in (str(s.db_path), f"{s.db_path}-wal") if os.path.exists(p)
    )
    ident = mem.identity
    return {
        "mode": s.mode,
        "config_path": str(s.config_path),
        "config_exists": s.config_path.exists(),
        "project_config_path": str(s.project_config_path) if s.project_config_path else None,
        "state_dir": str(s.state_dir),
        "db_path": str(s.db_path),
        "db_bytes": size,
        "identity": {
            "agent_family": ident.agent_family,
            "client_id": ident.client_id,
            "pc_id": ident.pc_id,
            "session_id": ident.session_id,
            "user_id": ident.user_id,
            "team_id": ident.team_id,
            "default_visibility": s.default_visibility,
        },
        "mesh": mesh_status(mem),
        "semantic": semantic_status(mem),
        "saves_7d": save_counts(mem),
        "counts": {
            "total": total,
            "live": total - hidden,
            "tombstoned": row["tombstoned"] or 0,
            "superseded": row["superseded"] or 0,
            "expired": row["expired"] or 0,
            "tombstones": db.execute("SELECT count(*) FROM tombstones").fetchone()[0],
            "purged_ids": db.execute("SELECT count(*) FROM purged").fetchone()[0],
        },
    }


def mesh_status(mem: Memory) -> dict[str, Any]:
    """What the node last reported, each fact with the time it was true.

    Nothing from a node that is not running reads as current: its peers are
    not "online", only "last heard" at the moment it last saw them."""
    from ..mesh.status import read_status
    from ..store.replication import backlog

    node = read_status(mem.settings.state_dir)
    running = bool(node and node["running"])
    out: dict[str, Any] = {"node_running": running, "backlog": backlog(mem.store)}
    if node:
        updated = float(node.get("updated") or 0)
        peers = node.get("peers") or {}
        out.update(
            role=node.get("role"),
            pid=node.get("pid") if running else None,
            last_pid=node.get("pid"),
            listen=node.get("listen"),
            connect=node.get("connect"),
            peers_online=sorted(pc for pc, p in peers.items() if running and p.get("online")),
            peers={pc: _peer_facts(p, running, updated) for pc, p in peers.items()},
            rejected={k.split(".", 1)[1]: v for k, v in (node.get("stats") or {}).items()
                      if k.startswith("rejected.")},
            stats=node.get("stats") or {},
            updated=updated,
            state=node.get("state") if running or node.get("state") != "running" else "stopped",
            error=node.get("error"),
        )
    return out


def _peer_facts(peer: dict[str, Any], running: bool, updated: float) -> dict[str, Any]:
    seen_online = bool(peer.get("online"))
    return {
        "role": peer.get("role"),
        "online": running and seen_online,
        # Online at the node's last report: heard then; else when it went away.
        "last_heard": updated if seen_online else peer.get("changed"),
        "last_sync": peer.get("last_sync"),
        "last_sync_error": peer.get("last_sync_error"),
        "error": peer.get("error"),
    }


def save_counts(mem: Memory, days: int = 7) -> list[dict[str, Any]]:
    """Memories written in the last `days` days per agent family and project,
    busiest first: who is using the shared memory, and for what."""
    since = time.time() - days * 86400
    rows = mem.store.db.execute(
        "SELECT agent_family, project, count(*) AS n FROM observations "
        "WHERE created_ts >= ? GROUP BY agent_family, project ORDER BY n DESC, agent_family, project",
        (since,),
    ).fetchall()
    return [{"agent_family": r[0], "project": r[1], "saves": r[2]} for r in rows]


def semantic_status(mem: Memory) -> dict[str, Any]:
    """How far the store's meaning vectors are (ADR 0025): a new model or a
    store from before vectors is embedded by the next search, or in the
    background by a running MCP server."""
    from ..store.search import embedder, vectors

    model = embedder.model_id()
    total, done = vectors.counts(mem.store.db, model)
    return {"model": model, "memories": total, "embedded": done, "pending": total - done}


def run_doctor() -> list[Check]:
    """Every check, also when the config cannot be read (that is then the finding)."""
    from ..core.config import load_settings
    from ..core.errors import ConfigError

    try:
        settings = load_settings(warn=False)
    except ConfigError as exc:
        return [Check("config", False, f"{exc}; fix it, nothing else can be checked until then")]
    with Memory(settings) as mem:
        return doctor(mem)


def doctor(mem: Memory) -> list[Check]:
    checks: list[Check] = []
    s = mem.settings
    checks.append(Check("config", True, f"mode {s.mode}; config {s.config_path}"
                        + ("" if s.config_path.exists() else " (not created: defaults in use)")))
    for problem in s.problems:
        checks.append(Check("config", False, str(problem)))
    try:
        s.state_dir.mkdir(parents=True, exist_ok=True)
        probe = s.state_dir / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
        checks.append(Check("state dir", True, f"{s.state_dir} is writable"))
    except OSError as exc:
        checks.append(Check("state dir", False, f"{s.state_dir}: {exc}"))
        return checks
    db = mem.store.db
    result = db.execute("PRAGMA quick_check").fetchone()[0]
    checks.append(Check("database integrity", result == "ok", f"quick_check: {result}"))
    mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    checks.append(Check("journal mode", mode == "wal", f"journal_mode={mode}"))
    try:
        db.execute("INSERT INTO obs_tri(obs_tri) VALUES ('integrity-check')")
        checks.append(Check("search index", True, "trigram index matches the rows"))
    except sqlite3.DatabaseError as exc:
        checks.append(Check("search index", False, f"{exc}: run `kioku-mesh doctor --repair`"))
    from ..core.keyspace import is_valid_chunk

    ident = mem.identity
    bad = [n for n in ("agent_family", "client_id", "session_id") if not is_valid_chunk(getattr(ident, n))]
    checks.append(Check(
        "identity", not bad,
        f"{ident.agent_family}/{ident.client_id} on pc {ident.pc_id[:8]}"
        + (f"; invalid: {', '.join(bad)}" if bad else ""),
    ))
    vis = s.default_visibility
    needs = {"user": s.user_id, "team": s.team_id}.get(vis, "set")
    checks.append(Check(
        "default visibility", bool(needs),
        f"{vis}" + ("" if needs else f": set {'user_id' if vis == 'user' else 'team_id'}"),
    ))
    checks.append(_semantic_check(mem))
    if s.mode != "local":
        checks.extend(_mesh_checks(mem))
    return checks


def _semantic_check(mem: Memory) -> Check:
    from ..core.errors import StoreError
    from ..store.search.embedder import shared_embedder

    try:
        model = shared_embedder()
        vector = model.encode(["offline semantic search check"])[0]
    except StoreError as exc:
        return Check("semantic search", False, f"{exc}; reinstall kioku-mesh (the model ships "
                                               "inside the package)")
    if not vector.any():
        return Check("semantic search", False, f"model {model.model_id} gives empty vectors: "
                                               "reinstall kioku-mesh")
    info = semantic_status(mem)
    detail = f"model {info['model']}; {info['embedded']:,} of {info['memories']:,} memories embedded"
    if info["pending"]:
        detail += "; the next search (or a running MCP server) embeds the rest"
    return Check("semantic search", True, detail)


def _mesh_checks(mem: Memory) -> list[Check]:
    from ..core.errors import ConfigError
    from ..mesh.config import from_settings
    from ..mesh.status import read_status

    try:
        cfg = from_settings(mem.settings)
    except ConfigError as exc:
        return [Check("mesh config", False, str(exc))]
    where = ", ".join(cfg.listen if cfg.role == "hub" else cfg.connect)
    checks = [Check("mesh config", True, f"{cfg.role}: {where}")]
    node = read_status(mem.settings.state_dir)
    if not node or not node["running"]:
        checks.append(Check("mesh node", False,
                            "not running: start it with `kioku-mesh node run` (or the service)"))
        return checks
    online = [pc for pc, p in (node.get("peers") or {}).items() if p.get("online")]
    checks.append(Check("mesh node", True, f"running (pid {node['pid']})"))
    if cfg.role == "spoke":
        checks.append(Check("hub reachable", bool(online),
                            f"{len(online)} peer(s) online" if online
                            else f"no hub online: check that {where} is reachable"))
    return checks


@dataclass
class GcReport:
    ids: list[str]
    executed: bool
    # (id, subject) of each, for the preview; a deletion whose memory this host
    # never held has no subject.
    items: list[tuple[str, str]] = field(default_factory=list)


def _items(mem: Memory, ids: list[str]) -> list[tuple[str, str]]:
    subjects = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        subjects.update(mem.store.db.execute(
            f"SELECT id, subject FROM observations WHERE id IN ({marks})", chunk).fetchall())
    return [(oid, subjects.get(oid, "(a deletion record only)")) for oid in ids]


def gc_retention(mem: Memory, retention_days: float, *, execute: bool = False) -> GcReport:
    """Physically drop tombstoned and expired memories older than the retention."""
    from ..core.errors import ValidationError

    if retention_days < 0:
        raise ValidationError("retention days must be zero or more")
    cutoff = time.time() - retention_days * 86400
    db = mem.store.db
    ids = [
        r[0]
        for r in db.execute(
            "SELECT o.id FROM observations o JOIN tombstones t ON t.id = o.id "
            "WHERE t.deleted_ts < :cut "
            "UNION SELECT o.id FROM observations o WHERE o.expires_ts < :cut "
            "UNION SELECT t.id FROM tombstones t WHERE t.deleted_ts < :cut "
            "AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.id = t.id)",
            {"cut": cutoff},
        )
    ]
    items = _items(mem, ids)
    if execute and ids:
        mem.store.purge(ids, f"gc retention {retention_days}d")
    return GcReport(ids, execute, items)


def gc_by_pc(mem: Memory, pc_id: str, *, execute: bool = False) -> GcReport:
    pc_id = mem.resolve_pc_id(pc_id)
    ids = [r[0] for r in mem.store.db.execute("SELECT id FROM observations WHERE pc_id = ?", (pc_id,))]
    items = _items(mem, ids)
    if execute and ids:
        mem.store.purge(ids, f"gc by pc_id {pc_id}")
    return GcReport(ids, execute, items)
