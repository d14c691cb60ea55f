"""`setup`: wire every installed coding agent to kioku-mesh in one go, or unwire it.

Per client up to three steps, each planned by the module that owns that file:
the MCP server entry (mcp_install, with tool_approvals for --approve-reads),
the session hooks (hooks_install) and the instruction block (instructions).
A plan is shown first and applied only on confirmation. Two steps may change
the same file (Gemini keeps MCP servers and hooks in one settings.json), so at
apply time each step is planned again against the file as it is then: the
shown diffs are each step's own change.

What setup wrote is recorded (setup_manifest) so that uninstall gives back a
file's original bytes when nothing else changed it since.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..core.errors import KiokuError
from . import hooks_install, instructions, mcp_install, tool_approvals
from . import setup_manifest as manifest
from .client_detect import SETUP_CLIENTS, Detection, detect, detect_one
from .mcp_install import Plan, get_client

KINDS = ("mcp", "approvals", "hooks", "instructions")


@dataclass
class Step:
    client: str
    kind: str  # mcp, approvals, hooks, instructions; "restore" for uninstall's original bytes
    plan: Plan
    replan: Callable[[], Plan]  # the same step planned against the file as it is now
    applier: Callable[[Plan], Path | None]
    backup: Path | None = None
    applied: bool = False


@dataclass
class SetupPlan:
    uninstall: bool
    detections: list[Detection]
    clients: list[str]  # the clients this plan is about
    steps: list[Step] = field(default_factory=list)
    project_dir: Path | None = None
    approve_reads: bool = False

    @property
    def changes(self) -> bool:
        return any(s.plan.changes for s in self.steps)


def _chosen(clients: list[str] | None, detections: list[Detection]) -> list[str]:
    if clients:
        for name in clients:
            get_client(name)  # unknown: a one-line error with the choices
            if name not in SETUP_CLIENTS:
                raise KiokuError(f"setup does not wire {name}; choose from {', '.join(SETUP_CLIENTS)}")
        return list(dict.fromkeys(clients))
    return [d.client for d in detections if d.found]


def _step(client: str, kind: str, planner: Callable[[], Plan],
          applier: Callable[[Plan], Path | None]) -> Step:
    return Step(client, kind, planner(), planner, applier)


def plan_setup(clients: list[str] | None = None, *, project_dir: Path | None = None,
               hooks: bool = True, instruction_block: bool = True,
               use_client_cli: bool = True, server_command: str | None = None,
               approve_reads: bool = False) -> SetupPlan:
    """What setup would do for these clients (default: every installed one).

    project_dir: put the instruction block in that project's file instead of the
    user-level one. The MCP server and hooks are always user-level.
    approve_reads: also let the agent call the read-only tools unasked (tool_approvals).
    """
    detections = detect()
    chosen = _chosen(clients, detections)
    plan = SetupPlan(False, detections, chosen, project_dir=project_dir,
                     approve_reads=approve_reads)
    command = server_command or (mcp_install.resolve_server_command() if chosen else None)
    for name in chosen:
        approve = approve_reads and name in mcp_install.APPROVAL_CLIENTS
        plan.steps.append(_step(name, "mcp", partial(
            mcp_install.plan_install, name, force=True, use_client_cli=use_client_cli,
            command=command, approve_reads=approve), mcp_install.apply))
        if approve and name == "claude-code":  # its approvals live in settings.json
            plan.steps.append(_step(name, "approvals", tool_approvals.plan_claude_rules,
                                    mcp_install.apply))
        if hooks and name in hooks_install.HOOK_CLIENTS:
            plan.steps.append(_step(name, "hooks", partial(hooks_install.plan_install, name),
                                    hooks_install.apply))
        if instruction_block and instructions.supported(name):
            plan.steps.append(_step(name, "instructions", partial(
                instructions.plan_install, name, project_dir=project_dir), instructions.apply))
    return plan


def plan_uninstall(clients: list[str] | None = None, *, project_dir: Path | None = None,
                   use_client_cli: bool = True) -> SetupPlan:
    """What `setup --uninstall` would take out (default: from every client setup knows)."""
    detections = detect()
    chosen = _chosen(clients, []) if clients else list(SETUP_CLIENTS)
    plan = SetupPlan(True, detections, chosen, project_dir=project_dir)
    records = manifest.load()
    for name in chosen:
        steps = [_step(name, "mcp", partial(
            mcp_install.plan_uninstall, name, use_client_cli=use_client_cli), mcp_install.apply)]
        if name == "claude-code":
            steps.append(_step(name, "approvals", partial(tool_approvals.plan_claude_rules,
                                                          remove=True), mcp_install.apply))
        if name in hooks_install.HOOK_CLIENTS:
            steps.append(_step(name, "hooks", partial(hooks_install.plan_uninstall, name),
                               hooks_install.apply))
        if instructions.supported(name):
            paths = {instructions.user_path(name)}
            if project_dir:
                paths.add(instructions.project_path(name, project_dir))
            paths |= {Path(p) for p, r in records.items()
                      if r.get("client") == name and "instructions" in r.get("kinds", [])}
            for path in sorted(paths):
                steps.append(_step(name, "instructions", partial(
                    instructions.plan_uninstall, name, path=path), instructions.apply))
        plan.steps.extend(_with_restores(name, steps, records))
    return plan


def _with_restores(client: str, steps: list[Step], records: dict[str, Any]) -> list[Step]:
    """Where a file is still what setup wrote, one step that puts the original back
    replaces the edits of its entries."""
    out: list[Step] = []
    restored: set[Path] = set()
    for step in steps:
        path = step.plan.path
        record = records.get(str(path))
        if path in restored:
            continue
        if record and step.plan.method == "file" and step.plan.changes:
            ok, _ = manifest.original_bytes(record, manifest.read_bytes(path))
            if ok:
                restored.add(path)
                out.append(_step(client, "restore", partial(_plan_restore, client, path),
                                 _apply_restore))
                continue
        out.append(step)
    return [s for s in out if s.kind == "restore" or s.plan.path not in restored]


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8")


def _plan_restore(client: str, path: Path) -> Plan:
    current = manifest.read_bytes(path)
    record = manifest.load().get(str(path), {})
    ok, original = manifest.original_bytes(record, current)
    if not ok:
        raise KiokuError(f"{path} changed while it was being edited; run the command again")
    action = "unchanged" if original == current else "remove"
    return Plan(get_client(client), action, "restore", path, "file", None,
                before=_text(current), after=_text(original))


def _apply_restore(plan: Plan) -> Path | None:
    """Put the original bytes back (no backup: the file is exactly what setup wrote)."""
    from . import config_files as cf

    cf.write_or_unlink(plan.path, plan.after)
    return None


def apply(plan: SetupPlan) -> list[Step]:
    """Carry out every step that changes something; returns those steps, with backups."""
    records = manifest.load()
    done: list[Step] = []
    actions: dict[Path, set[str]] = {}
    for step in plan.steps:
        actions.setdefault(step.plan.path, set()).add(step.plan.action)
    try:
        for step in plan.steps:
            if not step.plan.changes:
                continue
            current = step.replan()
            if not current.changes:
                continue
            track = current.method == "file"  # a client's own CLI writes a live state file
            if track and not plan.uninstall:
                manifest.before_change(records, current.path, step.client, step.kind,
                                       clean=actions.get(current.path, set()) <= {"add"})
            step.plan = current
            step.backup = step.applier(current)
            step.applied = True
            done.append(step)
            if track and not plan.uninstall:
                manifest.after_change(records, current.path, step.backup)
    finally:
        if plan.uninstall:  # a file we took our parts out of (or that had none) is settled
            settled = {str(s.plan.path) for s in plan.steps if s.applied or not s.plan.changes}
            for key in settled & set(records):
                del records[key]
        if done or plan.uninstall:
            manifest.save(records)
    return done


def next_steps(plan: SetupPlan) -> list[str]:
    """What the user still has to do, in the order to do it."""
    changed = list(dict.fromkeys(s.client for s in plan.steps if s.plan.changes))
    notes: list[str] = []
    for name in changed:
        client = get_client(name)
        if plan.uninstall:
            notes.append(f"restart {client.label} so it stops starting kioku-mesh")
        else:
            notes.append(f"restart {client.label}, then {client.verify}")
    for step in plan.steps:
        for note in getattr(step.plan, "notes", None) or []:
            if note not in notes:
                notes.append(note)
    if not plan.uninstall and plan.project_dir and any(
            s.kind == "instructions" and s.plan.changes for s in plan.steps):
        notes.append(f"commit the instruction files in {plan.project_dir} so every clone gets them")
    return notes


__all__ = ["KINDS", "SETUP_CLIENTS", "SetupPlan", "Step", "apply", "detect", "detect_one",
           "next_steps", "plan_setup", "plan_uninstall"]
