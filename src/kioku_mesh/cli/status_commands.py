"""`status` and `doctor`: what this host is, and whether its set-up works."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..api import Memory
from .render import Style, dump_json, use_color


def _fmt(args: argparse.Namespace) -> str:
    return "json" if getattr(args, "json", False) else "text"


def _since(epoch: float | None) -> str:
    from ..core.timeutil import age_seconds

    if not epoch:
        return "never"
    seconds = max(0.0, time.time() - float(epoch))
    return f"{int(seconds)}s ago" if seconds < 60 else f"{age_seconds(seconds)} ago"


def cmd_status(args: argparse.Namespace) -> int:
    from ..api.maintenance import status

    with Memory() as mem:
        info = status(mem)
    if _fmt(args) == "json":
        dump_json(info)
        return 0
    c = info["counts"]
    ident = info["identity"]
    mesh = info["mesh"]
    mode = info["mode"]
    if mode == "local" and mesh["node_running"]:
        mode += f" (config); a {mesh['role']} node runs anyway (mesh start/join)"
    print(f"mode:      {mode}")
    print(f"config:    {info['config_path']}" + ("" if info["config_exists"] else " (defaults)"))
    if info["project_config_path"]:
        print(f"project:   {info['project_config_path']}")
    print(f"store:     {info['db_path']} ({info['db_bytes'] / 1024:.0f} KiB)")
    print(f"identity:  {ident['agent_family']}/{ident['client_id']} pc {ident['pc_id'][:8]}")
    if info["mode"] != "local" or mesh.get("role"):
        _print_node(mesh)
    if mesh["backlog"] and (info["mode"] != "local" or mesh.get("role")):
        print(f"backlog:   {mesh['backlog']} local changes not yet published")
    print(f"memories:  {c['live']} live, {c['tombstoned']} deleted, {c['superseded']} superseded, "
          f"{c['expired']} expired ({c['total']} stored, {c['purged_ids']} purged ids)")
    print(_semantic_line(info["semantic"]))
    if info["saves_7d"]:
        print("saves, last 7 days (agent family / project):")
        for row in info["saves_7d"][:10]:
            print(f"  {row['saves']:>5}  {row['agent_family'] or '-'} / {row['project'] or '-'}")
    return 0


def _semantic_line(sem: dict[str, Any]) -> str:
    """Vectors so far, as a bar while a new model or an old store catches up."""
    line = f"meaning:   {sem['embedded']:,} of {sem['memories']:,} memories embedded ({sem['model']})"
    if sem["pending"]:
        filled = int(20 * sem["embedded"] / max(sem["memories"], 1))
        line += (f"\n           [{'#' * filled}{'.' * (20 - filled)}] {sem['pending']:,} to go; "
                 "the next search or a running MCP server embeds them")
    return line


def _print_node(mesh: dict[str, Any]) -> None:
    """Node and peers as facts with their age: nothing from a stopped node reads as current."""
    running = mesh["node_running"]
    if running:
        print(f"node:      running ({mesh['role']}, pid {mesh['pid']}), "
              f"reported {_since(mesh.get('updated'))}")
    elif mesh.get("role"):
        print(f"node:      not running (the {mesh['role']} node, pid {mesh.get('last_pid')}, "
              f"last reported {_since(mesh.get('updated'))})")
    else:
        print("node:      not running")
    if mesh.get("error") and mesh.get("state") in ("connecting", "stopped"):
        print(f"  {mesh['error']}")
    for pc, peer in sorted((mesh.get("peers") or {}).items()):
        synced = f"synced {_since(peer['last_sync'])}" if peer.get("last_sync") else "not synced"
        if peer.get("online"):
            state = "connected"
        else:
            state = f"last heard {_since(peer.get('last_heard'))}"
        if not running:
            state += " (node not running: not current)"
        error = f"; last sync failed: {peer['error']}" if peer.get("error") else ""
        print(f"  peer {pc[:8]} ({peer.get('role')}): {state}, {synced}{error}")
    if mesh.get("rejected"):
        print("  rejected samples: " + ", ".join(f"{k} {v}" for k, v in mesh["rejected"].items()))


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..api.maintenance import run_doctor
    from ..api.wiring import check_clients

    checks = run_doctor() + check_clients()
    failed = [c for c in checks if not c.ok]
    if _fmt(args) == "json":
        dump_json([{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks])
    else:
        style = Style(use_color(sys.stdout))
        for c in checks:
            mark = style.accent("ok  ") if c.ok else style.warn("FAIL")
            print(f"{mark} {c.name}: {c.detail}")
    return 1 if failed else 0
