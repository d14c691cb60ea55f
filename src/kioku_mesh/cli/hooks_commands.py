"""`kioku-mesh hooks install|uninstall`: a thin adapter over api.hooks_install.

(`kioku-mesh hook CLIENT EVENT`, the command the clients run, is cli.hook_runner.)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .render import dump_json

# Kept in step with api.hooks_install.HOOK_CLIENTS (a test checks): importing it would slow start.
HOOK_CLIENTS = ("claude-code", "codex", "gemini")
_DONE = {"add": "added", "replace": "updated", "remove": "removed"}


def add_parsers(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    p = sub.add_parser("hooks", help="add session hooks (recall at start, save reminders) to a "
                                     "coding agent, or remove them")
    actions = p.add_subparsers(dest="hooks_command", metavar="ACTION", required=True,
                               parser_class=parser_class)
    for action, text in (("install", "add kioku-mesh's hooks to a client's settings"),
                         ("uninstall", "remove kioku-mesh's hooks from a client's settings")):
        q = actions.add_parser(action, parents=[common], help=text)
        q.add_argument("--client", required=True, choices=HOOK_CLIENTS, help="which coding agent")
        q.add_argument("--dry-run", action="store_true", help="print the exact change; write nothing")
    p = sub.add_parser("hook", help="run one hook event (what the coding agents call; reads the "
                                    "event JSON on stdin)")
    p.add_argument("client", choices=HOOK_CLIENTS, help="the client that runs it")
    p.add_argument("event", help="the client's event name, e.g. SessionStart")


def cmd_hooks(args: argparse.Namespace) -> int:
    from ..api import hooks_install

    if args.hooks_command == "install":
        plan = hooks_install.plan_install(args.client)
    else:
        plan = hooks_install.plan_uninstall(args.client)
    backup = None if args.dry_run else hooks_install.apply(plan)
    if args.json:
        dump_json(report(plan, backup, args.dry_run))
    else:
        _print(plan, backup, args.dry_run)
    return 0


def run_from_args(args: argparse.Namespace) -> int:
    # Reached only through the parser (cli.main short-cuts `hook` otherwise).
    from .hook_runner import run

    return run([args.client, args.event])


def report(plan: Any, backup: Any, dry_run: bool) -> dict[str, Any]:
    return {
        "client": plan.client.name,
        "action": plan.action,
        "changed": plan.changes and not dry_run,
        "dry_run": dry_run,
        "path": str(plan.path),
        "backup": str(backup) if backup else None,
        "removed_file": plan.remove_file and plan.changes and not dry_run,
        "hooks": plan.entry,
        "preview": plan.preview(),
        "next_steps": plan.notes,
    }


def _print(plan: Any, backup: Any, dry_run: bool) -> None:
    label, where = plan.client.label, plan.path
    if plan.action == "unchanged":
        print(f"already installed: kioku-mesh hooks for {label} in {where}; nothing changed")
        return
    if plan.action == "absent":
        print(f"not installed: no kioku-mesh hooks in {where}; nothing changed")
        return
    if dry_run:
        sys.stdout.write(plan.preview())  # stdout: only the change, to pipe or review
        print(f"dry run: would write {where}; nothing written", file=sys.stderr)
        return
    events = ", ".join(plan.entry or {})
    preposition = "from" if plan.action == "remove" else "in"
    print(f"{_DONE[plan.action]} kioku-mesh hooks ({events}) for {label} {preposition} {where}")
    if plan.remove_file:
        print("  the file held nothing else, so it is gone")
    if backup:
        print(f"  backup:  {backup}")
    for note in plan.notes:
        print(f"  next:    {note}")
    if plan.action != "remove":
        print(f"  verify:  restart {label}; `kioku-mesh hook {plan.client.name} SessionStart "
              "< /dev/null` shows what a new session receives")
