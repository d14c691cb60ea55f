"""`kioku-mesh mcp install|uninstall`: a thin adapter over api.mcp_install."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .render import dump_json

_DONE = {"add": "added", "replace": "replaced", "remove": "removed"}


def cmd_mcp(args: argparse.Namespace) -> int:
    from ..api import mcp_install, tool_approvals  # only this command needs them

    use_cli = not args.no_client_cli and not mcp_install.client_cli_disabled()
    extra = None  # Claude Code keeps tool approvals in another file: a second plan
    if args.mcp_command == "install":
        extra_env = mcp_install.parse_env_pairs(args.env)
        approve = args.approve_reads and _confirm(args, tool_approvals)
        plan = mcp_install.plan_install(args.client, name=args.name, extra_env=extra_env,
                                        force=args.force, use_client_cli=use_cli,
                                        approve_reads=approve)
        if approve and args.client == "claude-code":
            extra = tool_approvals.plan_claude_rules(args.name)
    else:
        plan = mcp_install.plan_uninstall(args.client, name=args.name, use_client_cli=use_cli)
        if args.client == "claude-code":
            extra = tool_approvals.plan_claude_rules(args.name, remove=True)
    backup = None if args.dry_run else mcp_install.apply(plan)
    extra_backup = None if args.dry_run or extra is None else mcp_install.apply(extra)
    if args.json:
        report = _report(plan, backup, args.dry_run)
        if extra is not None:
            report["approvals"] = _report(extra, extra_backup, args.dry_run)
        dump_json(report)
    else:
        _print(plan, backup, args.dry_run)
        if extra is not None and extra.changes:
            _print_approvals(extra, extra_backup, args.dry_run)
    return 0


def _confirm(args: argparse.Namespace, tool_approvals: Any) -> bool:
    """Ask before changing what the agent may do unasked; --yes answers for scripts."""
    from ..core.errors import ValidationError

    what = tool_approvals.what_is_approved(args.client, args.name)
    if args.yes or args.dry_run:
        return True
    if sys.stdin is None or not sys.stdin.isatty():
        raise ValidationError("--approve-reads changes what the agent may do without asking: "
                              "add --yes to confirm it (or run the command in a terminal)")
    print(f"--approve-reads: {what}.", file=sys.stderr)
    try:
        answer = input("Write that to the client's settings? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("not approving any tools; installing the server entry only", file=sys.stderr)
    return False


def _print_approvals(plan: Any, backup: Any, dry_run: bool) -> None:
    if dry_run:
        sys.stdout.write(plan.preview())
        print(f"dry run: would write {plan.path}; nothing written", file=sys.stderr)
        return
    verb = "removed" if plan.action == "remove" else "added"
    print(f"{verb} allow rules for the read-only tools in {plan.path}"
          + ("; the file held nothing else, so it is gone" if plan.remove_file else ""))
    if backup:
        print(f"  backup:  {backup}")


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
