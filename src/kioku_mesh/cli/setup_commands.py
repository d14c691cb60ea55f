"""`kioku-mesh setup [--uninstall]`: a thin adapter over api.setup."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .render import dump_json

# Kept in step with api.client_detect.SETUP_CLIENTS (a test checks): importing it would slow start.
SETUP_CLIENTS = ("claude-code", "codex", "gemini", "cursor", "claude-desktop")
_DONE = {"add": "added", "replace": "updated", "remove": "removed"}


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "setup", parents=[common],
        help="wire the installed coding agents to kioku-mesh (MCP server, hooks, instructions)",
        description="Finds the coding agents installed for this user, shows what it would add "
                    "to each (the MCP server, session hooks, an instruction block) and adds it "
                    "once you confirm. --uninstall takes out everything it added.")
    p.add_argument("--client", action="append", default=[], choices=SETUP_CLIENTS,
                   help="only this client, installed or not (repeatable; default: every one found)")
    p.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    p.add_argument("--dry-run", action="store_true", help="show the plan and each diff; write nothing")
    p.add_argument("--uninstall", action="store_true", help="take out everything setup added")
    p.add_argument("--project-level", action="store_true",
                   help="instruction block in the project's AGENTS.md/GEMINI.md/CLAUDE.md "
                        "(the git root of the current directory) instead of the user-level file")
    p.add_argument("--project-dir", metavar="DIR",
                   help="with --project-level: this project instead of the current directory's")
    p.add_argument("--no-hooks", action="store_true", help="leave the session hooks out")
    p.add_argument("--no-instructions", action="store_true",
                   help="leave the instruction block out")
    p.add_argument("--approve-reads", action="store_true",
                   help="also let the agents call kioku-mesh's read-only tools without asking "
                        "(Gemini can only trust the whole server)")
    p.add_argument("--no-client-cli", action="store_true",
                   help="edit Claude Code's file even when its `claude` CLI is on PATH")


def cmd_setup(args: argparse.Namespace) -> int:
    from ..api import instructions, mcp_install, setup
    from ..core.errors import ValidationError

    if args.project_dir and not args.project_level:
        raise ValidationError("--project-dir goes with --project-level")
    project_dir = None
    if args.project_level:
        start = Path(args.project_dir or os.getcwd()).expanduser()
        if not start.is_dir():
            raise ValidationError(f"--project-dir {start} is not a directory")
        project_dir = instructions.project_root(start)
    use_cli = not args.no_client_cli and not mcp_install.client_cli_disabled()
    if args.uninstall:
        plan = setup.plan_uninstall(args.client or None, project_dir=project_dir,
                                    use_client_cli=use_cli)
    else:
        plan = setup.plan_setup(args.client or None, project_dir=project_dir,
                                hooks=not args.no_hooks,
                                instruction_block=not args.no_instructions,
                                use_client_cli=use_cli, approve_reads=args.approve_reads)
    if args.json:
        return _json_run(plan, args)
    _print_plan(plan, diffs=args.dry_run)
    if args.dry_run:
        print("dry run: nothing written", file=sys.stderr)
        return 0
    if not plan.changes:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():  # as every command that changes much (ADR 0016): a preview
            print(f"\n{_NOT_APPLIED}")
            return 0
        try:
            answer = input("\napply these changes? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1  # as a declined bulk delete
    done = setup.apply(plan)
    _print_done(done, setup.next_steps(plan))
    return 0


_NOT_APPLIED = "nothing written yet: add --yes to go ahead (on a terminal, setup asks)"


def _json_run(plan: Any, args: argparse.Namespace) -> int:
    from ..api import setup

    # JSON is for scripts: nobody can answer a question, so without --yes it is the preview.
    apply_now = plan.changes and args.yes and not args.dry_run
    if apply_now:
        setup.apply(plan)
    dump_json(_report(plan, args, bool(apply_now), setup.next_steps(plan)))
    return 0


def _short(path: Path) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home):] if text == home or text.startswith(home + os.sep) else text


def _print_plan(plan: Any, *, diffs: bool) -> None:
    from ..api import setup

    if not plan.uninstall:
        found = [d for d in plan.detections if d.found]
        print(f"found {len(found)} coding agent{'s' if len(found) != 1 else ''}:"
              + ("" if found else " none (use --client NAME to set one up anyway)"))
        for d in found:
            print(f"  {d.label:<15} {'; '.join(d.evidence)}")
        missing = [d.label for d in plan.detections if not d.found and d.client not in plan.clients]
        if missing:
            print(f"  not found: {', '.join(missing)}")
        for name in plan.clients:
            if not any(d.found for d in plan.detections if d.client == name):
                print(f"  {name}: not found here, set up because --client asked for it")
    steps = [s for s in plan.steps if s.plan.changes or not plan.uninstall]
    if not steps:
        print("nothing of kioku-mesh's to take out" if plan.uninstall else "nothing to set up")
        return
    head = "uninstall plan" if plan.uninstall else "plan"
    print(f"\n{head}:" if plan.changes else f"\n{head}: everything is already set up; nothing to change")
    label = None
    for step in steps:
        if step.client != label:
            label = step.client
            print(f"  {step.plan.client.label}")
        how = " (via the `claude` CLI)" if step.plan.method == "cli" else ""
        action = step.plan.action
        if step.kind == "restore":  # the file as it was before setup, or gone if it was not there
            if step.plan.after is not None:
                action, how = "original", " (unchanged since setup: back to its bytes before it)"
            else:
                action, how = "delete", " (setup created it; unchanged since)"
        print(f"    {step.kind:<13} {action:<10} {_short(step.plan.path)}{how}")
    if plan.approve_reads:
        from ..api.mcp_install import APPROVAL_CLIENTS
        from ..api.tool_approvals import what_is_approved

        said: dict[str, list[str]] = {}
        for name in plan.clients:
            if name in APPROVAL_CLIENTS:
                said.setdefault(what_is_approved(name), []).append(name)
        for text, names in said.items():
            print(f"  --approve-reads ({', '.join(names)}): {text}")
    if diffs:
        notes = setup.next_steps(plan)
        if notes:
            print("\nonce applied:")
            for note in notes:
                print(f"  - {note}")
        for step in steps:
            if step.plan.changes:
                print(f"\n# {step.plan.client.label}: {step.kind}")
                sys.stdout.write(step.plan.preview())


def _print_done(done: list[Any], notes: list[str]) -> None:
    for step in done:
        label, where = step.plan.client.label, _short(step.plan.path)
        if step.kind == "restore" and step.plan.after is None:
            line = f"deleted {where} for {label} (setup had created it)"
        elif step.kind == "restore":
            line = f"restored the original bytes for {label}: {where}"
        else:
            line = f"{_DONE.get(step.plan.action, step.plan.action)} {step.kind} for {label}: {where}"
        if step.backup:
            line += f" (backup {_short(step.backup)})"
        print(line)
    if notes:
        print("\nnext:")
        for note in notes:
            print(f"  - {note}")


def _report(plan: Any, args: argparse.Namespace, applied: bool, notes: list[str]) -> dict[str, Any]:
    return {
        "uninstall": plan.uninstall,
        "dry_run": args.dry_run,
        "applied": applied,
        "detected": [{"client": d.client, "label": d.label, "found": d.found,
                      "evidence": d.evidence} for d in plan.detections],
        "clients": plan.clients,
        "project_dir": str(plan.project_dir) if plan.project_dir else None,
        "steps": [{"client": s.client, "kind": s.kind, "action": s.plan.action,
                   "path": str(s.plan.path), "method": s.plan.method,
                   "changed": s.applied, "backup": str(s.backup) if s.backup else None,
                   "preview": s.plan.preview()} for s in plan.steps],
        "next_steps": notes,
    }
