"""`doctor`'s look at each coding agent: is what setup wired still working?

Config files outlive the install they point at: a virtualenv is rebuilt
elsewhere, a package is uninstalled, a block was edited. So for every client
that is installed or carries our entries we check that the MCP server command
still exists, that each of our hook commands runs (a tiny event on stdin,
exit 0 within a time budget, as the client would run it) and that the
instruction block is present and what this version writes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import KiokuError
from . import config_files as cf
from . import hooks_install, instructions
from . import setup_manifest as manifest
from .client_detect import SETUP_CLIENTS, detect_one
from .maintenance import Check
from .mcp_install import DEFAULT_NAME, config_path, get_client

# A hook answers in well under a second (it has its own budget and fails open);
# this allows for a cold Python start on a busy machine.
HOOK_BUDGET_S = 3.0


def check_clients(cwd: Path | None = None) -> list[Check]:
    """Checks for every client that is installed or still carries our wiring."""
    checks: list[Check] = []
    try:
        records = manifest.load()
    except KiokuError as exc:
        checks.append(Check("setup manifest", False, str(exc)))
        records = {}
    for name in SETUP_CLIENTS:
        found = detect_one(name).found
        here = cwd or Path.cwd()
        client_checks = (_mcp_checks(name) + _hook_checks(name, here)
                         + _instruction_checks(name, records, here))
        wired = any(c.ok is not None for c in client_checks)
        if not found and not wired:
            continue
        if not wired:
            checks.append(Check(f"{name}", True, "installed, not wired to kioku-mesh: "
                                f"`kioku-mesh setup --client {name}` does it"))
            continue
        checks.extend(Check(c.name, bool(c.ok), c.detail) for c in client_checks
                      if c.ok is not None)
    return checks


@dataclass
class _Finding:
    """A check, or (ok None) nothing of ours to check."""

    name: str
    ok: bool | None
    detail: str = ""


def _mcp_checks(name: str) -> list[_Finding]:
    client = get_client(name)
    label = f"{name} mcp server"
    path = config_path(name)
    try:
        doc = cf.read_document(path, client.fmt)
        entry = cf.section_of(doc, client.section).get(DEFAULT_NAME)
    except KiokuError as exc:
        return [_Finding(label, False, str(exc))]
    if entry is None:
        return [_Finding(label, None)]
    command = entry.get("command") if isinstance(entry, dict) else None
    if not isinstance(command, str) or not command:
        return [_Finding(label, False, f"{path}: the {DEFAULT_NAME!r} entry has no command")]
    resolved = command if os.path.isabs(command) else shutil.which(command)
    if not resolved or not os.path.isfile(resolved) or not os.access(resolved, os.X_OK):
        return [_Finding(label, False, f"{command} (in {path}) no longer exists or cannot run: "
                         f"run `kioku-mesh setup --client {name}` again")]
    return [_Finding(label, True, f"{command} (in {path})")]


def _hook_checks(name: str, cwd: Path) -> list[_Finding]:
    if name not in hooks_install.HOOK_CLIENTS:
        return []
    label = f"{name} hooks"
    path = hooks_install.hooks_path(name)
    try:
        doc = cf.read_document(path, "json")
    except KiokuError as exc:
        return [_Finding(label, False, str(exc))]
    ours = _our_hooks(doc.data.get("hooks"), hooks_install.is_our_command)
    if not ours:
        return [_Finding(label, None)]
    failures, slowest = [], 0.0
    for event, command in ours:
        ok, took, why = run_hook(command, event, cwd)
        slowest = max(slowest, took)
        if not ok:
            failures.append(f"{event}: {why}")
    if failures:
        return [_Finding(label, False, "; ".join(failures) + f" (in {path}): run "
                         f"`kioku-mesh setup --client {name}` again")]
    return [_Finding(label, True, f"{len(ours)} ran with exit 0, slowest {slowest * 1000:.0f} ms "
                     f"(in {path})")]


def _our_hooks(table: Any, is_ours: Any) -> list[tuple[str, str]]:
    """(event, command) of every hook handler of ours in a client's hooks table."""
    found: list[tuple[str, str]] = []
    if not isinstance(table, dict):
        return found
    for event, groups in table.items():
        for group in groups if isinstance(groups, list) else []:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            for handler in handlers if isinstance(handlers, list) else []:
                command = handler.get("command") if isinstance(handler, dict) else None
                if isinstance(command, str) and is_ours(command):
                    found.append((str(event), command))
    return found


def run_hook(command: str, event: str, cwd: Path,
             budget: float = HOOK_BUDGET_S) -> tuple[bool, float, str]:
    """Run a hook command as a client does (a shell, the event JSON on stdin):
    (exit 0 within the budget, seconds taken, what went wrong)."""
    payload = json.dumps({"session_id": "kioku-mesh-doctor", "transcript_path": "",
                          "cwd": str(cwd), "hook_event_name": event, "source": "startup"})
    start = time.monotonic()
    try:
        proc = subprocess.run(command, shell=True, input=payload, capture_output=True, text=True,
                              timeout=budget * 2, cwd=cwd)
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - start, f"no answer within {budget * 2:.0f} s"
    except OSError as exc:
        return False, time.monotonic() - start, f"cannot run: {exc.strerror or exc}"
    took = time.monotonic() - start
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()
        return False, took, f"exit {proc.returncode}" + (f" ({last[-1][:200]})" if last else "")
    if took > budget:
        return False, took, f"took {took:.1f} s (budget {budget:.0f} s)"
    return True, took, ""


def _instruction_checks(name: str, records: dict[str, Any], cwd: Path) -> list[_Finding]:
    if not instructions.supported(name):
        return []
    recorded = {Path(p) for p, r in records.items()
                if r.get("client") == name and "instructions" in r.get("kinds", [])}
    paths = sorted({instructions.user_path(name),
                    instructions.project_path(name, instructions.project_root(cwd))} | recorded)
    out = []
    for path in paths:
        label = f"{name} instructions"
        try:
            state = instructions.state(name, path)
        except KiokuError as exc:
            out.append(_Finding(label, False, str(exc)))
            continue
        if state == "current":
            out.append(_Finding(label, True, f"block in {path} is current"))
        elif state == "outdated":
            out.append(_Finding(label, False, f"the block in {path} differs from what this "
                                "version writes: `kioku-mesh setup` updates it in place"))
        elif path in recorded:
            out.append(_Finding(label, False, f"setup put a block in {path} and it is gone: "
                                "`kioku-mesh setup` puts it back"))
    return out or [_Finding(f"{name} instructions", None)]
