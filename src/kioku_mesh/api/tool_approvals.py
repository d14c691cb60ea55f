"""Pre-approve kioku-mesh's read-only MCP tools in the clients that would otherwise refuse
or prompt for them (agent-clients facts: Codex `exec` refuses every unapproved MCP call;
Claude Code `-p` needs an allow rule; Gemini `-p` offers only trusted servers' tools).

Only the read tools, and only where the client can approve tool by tool:
- Codex: `[mcp_servers.<name>.tools.<tool>] approval_mode = "approve"` in the entry;
- Claude Code: `mcp__<name>__<tool>` rules in `permissions.allow` of ~/.claude/settings.json;
- Gemini CLI: has no per-tool approval, only `trust: true` for the whole server, which
  covers save and delete too; it is written only because the user asked for it.
Saving, deleting and messaging keep the client's normal confirmation everywhere else.
"""

from __future__ import annotations

import copy
from typing import Any

from ..core.errors import ConfigError
from . import config_files as cf
from .mcp_install import DEFAULT_NAME, Plan, check_name, get_client

# The tools the MCP server annotates readOnlyHint=true (a test checks they agree).
READ_TOOLS = ("search_memory", "get_memory", "recall_context", "get_memory_status",
              "check_messages", "list_agents")
APPROVE = "approve"
_UNTOUCHED = "nothing was changed"


def codex_tools() -> dict[str, dict[str, str]]:
    """The `tools` table of a Codex entry that approves the read tools."""
    return {tool: {"approval_mode": APPROVE} for tool in READ_TOOLS}


def claude_rules(name: str = DEFAULT_NAME) -> list[str]:
    return [f"mcp__{name}__{tool}" for tool in READ_TOOLS]


def what_is_approved(client: str, name: str = DEFAULT_NAME) -> str:
    """One sentence for the confirmation prompt and the docs."""
    if client == "gemini":
        return (f"Gemini CLI can only trust a whole server: `trust: true` on {name!r} lets the "
                "agent call every kioku-mesh tool without asking, saving and deleting included")
    return (f"the agent may call kioku-mesh's read-only tools ({', '.join(READ_TOOLS)}) "
            "without asking; saving, deleting and messaging still ask")


def plan_claude_rules(name: str = DEFAULT_NAME, *, remove: bool = False) -> Plan:
    """Add (or remove) our allow rules in Claude Code's ~/.claude/settings.json."""
    from .hooks_install import hooks_path  # the same settings file as the hooks

    client = get_client("claude-code")
    check_name(name)
    path = hooks_path("claude-code")
    doc = cf.read_document(path, "json")
    permissions = doc.data.get("permissions", {})
    allow = permissions.get("allow", []) if isinstance(permissions, dict) else None
    if not isinstance(allow, list):
        raise ConfigError(f"{path}: permissions.allow is not a list; fix it by hand "
                          f"({_UNTOUCHED})")
    rules = claude_rules(name)
    if remove:
        present = [r for r in rules if r in allow]
        plan = Plan(client, "remove" if present else "absent", name, path, "file",
                    {"permissions.allow": present}, before=doc.text, fmt="json")
        if plan.changes:
            plan.after, plan.remove_file = _without(doc, present)
        return plan
    missing = [r for r in rules if r not in allow]
    plan = Plan(client, "add" if missing else "unchanged", name, path, "file",
                {"permissions.allow": rules}, before=doc.text, fmt="json")
    if missing:
        data = copy.deepcopy(doc.data)
        data.setdefault("permissions", {}).setdefault("allow", []).extend(missing)
        plan.after = cf.json_text(doc, data)
    return plan


def _without(doc: cf.Document, rules: list[str]) -> tuple[str, bool]:
    data: dict[str, Any] = copy.deepcopy(doc.data)
    allow = [r for r in data["permissions"]["allow"] if r not in rules]
    if allow:
        data["permissions"]["allow"] = allow
    else:  # emptied by taking ours out: it was ours
        del data["permissions"]["allow"]
        if not data["permissions"]:
            del data["permissions"]
    if not data:
        return "", True
    return cf.json_text(doc, data), False
