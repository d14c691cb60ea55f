"""This host on the mesh, as one picture: mode, node and peers (what the node
last reported, each fact with its age), TLS identity and certificate expiry,
and, on a hub, team membership. The dashboard's mesh page and `tls info`."""

from __future__ import annotations

from typing import Any

from ..core.config import Settings, load_settings
from .maintenance import mesh_status
from .memory import Memory


def tls_info(settings: Settings) -> dict[str, Any]:
    """This host's peer certificate, trusted CA and the CA it runs (if any);
    raises TlsError when it has none of them. Imports cryptography."""
    from ..tls import pki

    return pki.info(settings)


def tls_summary(settings: Settings) -> dict[str, Any]:
    """tls_info, or why there is none, never an exception: {"configured": bool,
    "info": ..., "error": ...}."""
    from ..tls.errors import TlsError

    configured = isinstance(settings.raw_global.get("tls"), dict) or bool(
        (settings.raw_global.get("mesh") or {}).get("tls"))
    try:
        return {"configured": configured, "info": tls_info(settings), "error": None}
    except TlsError as exc:
        return {"configured": configured, "info": None, "error": str(exc)}


def overview(mem: Memory) -> dict[str, Any]:
    """Everything the mesh page shows. Settings are read afresh: `team add`
    and `tls install` change them while the dashboard runs."""
    from .teams import load_acl

    settings = load_settings(warn=False)
    ident = mem.identity
    mesh = mesh_status(mem)
    hub = settings.mode == "hub" or mesh.get("role") == "hub"
    return {
        "mode": settings.mode,
        "pc_id": ident.pc_id,
        "user_id": ident.user_id,
        "team_id": ident.team_id,
        "mesh": mesh,
        "tls": tls_summary(settings),
        "teams": load_acl(settings) if hub else None,
    }


def peer_signature(mem: Memory) -> tuple[object, ...]:
    """What changes when a peer comes, goes or syncs (cheap: one small file)."""
    from ..mesh.status import read_status

    node = read_status(mem.settings.state_dir) or {}
    peers = node.get("peers") or {}
    return (bool(node.get("running")), node.get("state"),
            tuple(sorted((pc, bool(p.get("online")), p.get("last_sync"), p.get("error"))
                         for pc, p in peers.items())))
