"""`kioku-mesh mcp install|uninstall`: a thin adapter over api.mcp_install."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .render import dump_json

_DONE = {"add": "added", "replace": "replaced", "remove": "removed"}


def cmd_mcp(args: argparse.Namespace) -> int:
    from ..api import mcp_install  # only this command needs it

    use_cli = not args.no_client_cli and not mcp_install.client_cli_disabled()
    if args.mcp_command == "install":
        extra_env = mcp_install.parse_env_pairs(args.env)
        plan = mcp_install.plan_install(args.client, name=args.name, extra_env=extra_env,
                                        force=args.force, use_client_cli=use_cli)
    else:
        plan = mcp_install.plan_uninstall(args.client, name=args.name, use_client_cli=use_cli)
    backup = None if args.dry_run else mcp_install.apply(plan)
    if args.json:
        dump_json(_report(plan, backup, args.dry_run))
    else:
        _print(plan, backup, args.dry_run)
    return 0


def _report(plan: Any, backup: Any, dry_run: bool) -> dict[str, Any]:
    return {
        "client": plan.client.name,
        "name": plan.name,
        "action": plan.action,
        "changed": plan.changes and not dry_run,
        "dry_run": dry_run,
        "path": str(plan.path),
        "method": plan.method,
        "backup": str(backup) if backup else None,
        "entry": plan.entry,
        "preview": plan.preview(),
        "verify": plan.client.verify,
    }


def _print(plan: Any, backup: Any, dry_run: bool) -> None:
    label, where = plan.client.label, plan.path
    if plan.action == "unchanged":
        print(f"already installed: MCP server {plan.name!r} for {label} in {where}; nothing changed")
        return
    if plan.action == "absent":
        print(f"not installed: no MCP server {plan.name!r} in {where}; nothing changed")
        return
    if dry_run:
        # stdout carries only the change itself, so it can be piped or reviewed as is.
        sys.stdout.write(plan.preview())
        how = "would run the commands above" if plan.method == "cli" else f"would write {where}"
        print(f"dry run: {how}; nothing written", file=sys.stderr)
        return
    verb = _DONE[plan.action]
    preposition = "from" if plan.action == "remove" else "in"
    via = f" (via `{plan.client.cli} mcp`)" if plan.method == "cli" else ""
    print(f"{verb} MCP server {plan.name!r} for {label} {preposition} {where}{via}")
    if backup:
        print(f"  backup:  {backup}")
    if plan.action != "remove":
        print(f"  command: {plan.entry['command']}")
        print(f"  verify:  restart {label}, then {plan.client.verify}")
