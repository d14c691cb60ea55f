"""Install kioku-mesh's session hooks into Claude Code, Codex CLI and Gemini CLI, or remove them.

Each client reads hooks from its own JSON file, in nearly the same shape:
`{"hooks": {"<Event>": [{"matcher": ..., "hooks": [{"type": "command", ...}]}]}}`.
We own the matcher groups whose every command runs `kioku-mesh hook ...`, and
nothing else: install puts ours in (replacing an older copy of ours in place),
uninstall takes ours out, and every other hook, group and key stays as it was.

The plan, backup, atomic write and --dry-run diff are mcp_install's (same Plan,
same apply), so `setup` can show and apply MCP entries and hooks alike.
"""

from __future__ import annotations

import copy
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, ValidationError
from . import config_files as cf
from .mcp_install import DEFAULT_NAME, Plan, apply, forwarded_env, get_client, resolve_script

__all__ = ["HOOK_CLIENTS", "HookEvent", "Plan", "apply", "hook_command", "hooks_path",
           "plan_install", "plan_uninstall"]

CLI_SCRIPT = "kioku-mesh"
_UNTOUCHED = "nothing was changed"


@dataclass(frozen=True)
class HookEvent:
    name: str  # the client's own event name
    purpose: str  # what our hook does there, for docs and plans


# What each client offers that we use (docs/hooks.md says why these and not others).
# No matcher anywhere: SessionStart runs for every source (startup, resume, clear,
# compact), and the other events take none.
HOOK_EVENTS: dict[str, tuple[HookEvent, ...]] = {
    "claude-code": (
        HookEvent("SessionStart", "recall pack as additional context"),
        HookEvent("PreCompact", "tell the user when the session saved nothing yet"),
        HookEvent("Stop", "once per session, ask the agent to save what it learned"),
    ),
    "codex": (
        HookEvent("SessionStart", "recall pack as additional context"),
        HookEvent("PreCompact", "tell the user when the session saved nothing yet"),
        HookEvent("Stop", "once per session, ask the agent to save what it learned"),
    ),
    "gemini": (
        HookEvent("SessionStart", "recall pack as additional context"),
        HookEvent("PreCompress", "tell the user when the session saved nothing yet"),
    ),
}
HOOK_CLIENTS = tuple(HOOK_EVENTS)
# The client's own time-out for our command: far above our budget (the runner
# answers within about a second even when the store is stuck), so the client
# never kills us mid-write; Gemini counts in milliseconds, the others in seconds.
TIMEOUT_S = 10

CODEX_TRUST_STEP = ("Codex runs a new hook only once you trust it: start `codex` in a terminal "
                    "and choose \"Trust all and continue\" when it lists the kioku-mesh hooks "
                    "(or type /hooks and press t)")
GEMINI_TRUST_STEP = ("Gemini CLI runs hooks only in folders you trust: accept the trust prompt "
                     "when Gemini opens a project folder (or add it with /permissions)")


def hooks_path(client: str, environ: dict[str, str] | None = None, home: Path | None = None) -> Path:
    """The file the client reads its user-level hooks from."""
    environ = dict(os.environ) if environ is None else environ
    home = home or Path.home()
    if client == "claude-code":  # settings.json, not ~/.claude.json (the live state file)
        base = environ.get("CLAUDE_CONFIG_DIR")
        return (Path(base).expanduser() if base else home / ".claude") / "settings.json"
    if client == "codex":  # hooks.json beside config.toml: JSON, so no TOML arrays of tables
        base = environ.get("CODEX_HOME")
        return (Path(base).expanduser() if base else home / ".codex") / "hooks.json"
    if client == "gemini":
        return home / ".gemini" / "settings.json"
    raise ValidationError(f"hooks are for {', '.join(HOOK_CLIENTS)}; not for {client!r}")


def hook_command(client: str, event: str, *, program: str | None = None,
                 env: dict[str, str] | None = None) -> str:
    """The shell command the client runs: `[KEY=VALUE ...] /abs/kioku-mesh hook CLIENT EVENT`."""
    words = [f"{key}={shlex.quote(value)}" for key, value in (env or {}).items()]
    return " ".join([*words, shlex.join([program or resolve_script(CLI_SCRIPT), "hook",
                                         client, event])])


def is_our_command(command: Any) -> bool:
    """A command that runs `kioku-mesh hook ...` (any path, any env prefix)."""
    if not isinstance(command, str):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    for i, word in enumerate(words[:-1]):
        if os.path.basename(word) in (CLI_SCRIPT, CLI_SCRIPT + ".exe") and words[i + 1] == "hook":
            return True
    return False


def _is_ours(handler: Any) -> bool:
    return isinstance(handler, dict) and is_our_command(handler.get("command"))


def _group(client: str, event: str, command: str) -> dict[str, Any]:
    handler: dict[str, Any] = {"type": "command", "command": command}
    if client == "gemini":
        handler = {"name": f"kioku-mesh-{event}", **handler, "timeout": TIMEOUT_S * 1000}
    else:
        handler["timeout"] = TIMEOUT_S
    return {"hooks": [handler]}


def desired_groups(client: str, *, program: str | None = None,
                   env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Our one matcher group per event of this client."""
    env = forwarded_env() if env is None else env
    program = program or resolve_script(CLI_SCRIPT)
    return {e.name: _group(client, e.name, hook_command(client, e.name, program=program, env=env))
            for e in HOOK_EVENTS[client]}


def _hooks_table(doc: cf.Document) -> dict[str, Any]:
    value = doc.data.get("hooks", {})
    if not isinstance(value, dict):
        raise ConfigError(f"{doc.path}: hooks is not an object; fix it by hand ({_UNTOUCHED})")
    return value


def _strip_ours(hooks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int], dict[str, Any]]:
    """hooks without our handlers; where our first group was per event; what was ours.

    Events and groups left empty by taking ours out go too (they were ours);
    ones that were empty before stay, as does every value we do not understand.
    """
    out: dict[str, Any] = {}
    first: dict[str, int] = {}
    found: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            out[event] = copy.deepcopy(groups)
            continue
        kept = []
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(handlers, list) or not any(_is_ours(h) for h in handlers):
                kept.append(copy.deepcopy(group))
                continue
            first.setdefault(event, len(kept))
            found.setdefault(event, copy.deepcopy(group))
            rest = [copy.deepcopy(h) for h in handlers if not _is_ours(h)]
            if rest:  # a group the user shares with ours: keep theirs
                kept.append({**copy.deepcopy(group), "hooks": rest})
        if kept or not groups or event not in first:
            out[event] = kept
    return out, first, found


def _new_text(doc: cf.Document, hooks: dict[str, Any]) -> tuple[str | None, bool]:
    """The document's text with this hooks table (None and True: delete the file)."""
    data = copy.deepcopy(doc.data)
    if hooks:
        data["hooks"] = hooks
    else:
        data.pop("hooks", None)
    if not data and doc.text is not None:
        return None, True  # nothing but our hooks was in it: we created the file
    return cf.json_text(doc, data), False


def plan_install(client_name: str, *, program: str | None = None,
                 env: dict[str, str] | None = None) -> Plan:
    """What installing our hooks into the client's file would change.

    program: the kioku-mesh executable (default: the one beside this Python, else PATH);
    env: variables to put before the command (default: forwarded_env(), the state dir
    and config file when they are not the defaults).
    """
    client = get_client(client_name)
    path = hooks_path(client.name)
    doc = cf.read_document(path, "json")
    hooks = _hooks_table(doc)
    want = desired_groups(client.name, program=program, env=env)
    stripped, first, found = _strip_ours(hooks)
    new = stripped
    for event, group in want.items():
        groups = new.get(event)
        if not isinstance(groups, list):
            if event in new:
                raise ConfigError(f"{path}: hooks.{event} is not a list; fix it by hand "
                                  f"({_UNTOUCHED})")
            groups = new[event] = []
        groups.insert(first.get(event, len(groups)), group)
    new = _in_order(hooks, new)
    if new == hooks:
        action = "unchanged"
    else:
        action = "replace" if found else "add"
    plan = Plan(client, action, DEFAULT_NAME, path, "file", want, before=doc.text, fmt="json")
    if plan.changes:
        plan.after, _ = _new_text(doc, new)
        if client.name == "codex":
            plan.notes.append(CODEX_TRUST_STEP)
        elif client.name == "gemini":
            plan.notes.append(GEMINI_TRUST_STEP)
    return plan


def _in_order(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    # Events that were there keep their place; ours that are new come last.
    ordered = {k: new[k] for k in old if k in new}
    ordered.update((k, v) for k, v in new.items() if k not in ordered)
    return ordered


def plan_uninstall(client_name: str) -> Plan:
    """What removing our hooks from the client's file would change."""
    client = get_client(client_name)
    path = hooks_path(client.name)
    doc = cf.read_document(path, "json")
    hooks = _hooks_table(doc)
    stripped, _, found = _strip_ours(hooks)
    action = "remove" if found else "absent"
    plan = Plan(client, action, DEFAULT_NAME, path, "file", found or None, before=doc.text,
                fmt="json")
    if plan.changes:
        after, delete = _new_text(doc, stripped)
        plan.after, plan.remove_file = after or "", delete
    return plan
