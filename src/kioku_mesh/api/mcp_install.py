"""Register the kioku-mesh MCP server with a coding agent, or remove it again.

Each client keeps MCP servers in its own config file; we change only our one
entry there (backing the file up first). Claude Code is the exception when its
`claude` CLI is on PATH: ~/.claude.json is also its live state file, rewritten
while sessions run, so we let `claude mcp add/remove` do the write instead of
racing it. Every other client is edited as a file, which keeps the result
deterministic and lets --dry-run show the exact bytes.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import env as config_env
from ..core.errors import KiokuError, ValidationError
from . import config_files as cf

DEFAULT_NAME = "kioku-mesh"
SERVER_SCRIPT = "kioku-mesh-mcp"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what Codex and Claude Code accept as a server name
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Clients that start MCP servers with only a few variables of the user's environment
# (agent-clients facts): a non-default state dir or config must be in the entry itself.
DROPS_ENVIRONMENT = ("codex",)
# Clients whose read-only tools `--approve-reads` can pre-approve (api.tool_approvals).
APPROVAL_CLIENTS = ("claude-code", "codex", "gemini")


@dataclass(frozen=True)
class Client:
    name: str
    label: str
    agent_family: str
    client_id: str
    fmt: str  # "json" or "toml"
    section: str  # the key (JSON) or table (TOML) holding the MCP servers
    verify: str  # how a user checks the server is loaded
    stdio_type: bool = False  # Claude Code writes "type": "stdio" in each entry
    cli: str | None = None  # the client's own CLI, preferred when on PATH


CLIENTS: dict[str, Client] = {c.name: c for c in (
    Client("claude-code", "Claude Code", "claude", "claude-code", "json", "mcpServers",
           "run `claude mcp list` (or /mcp in a session)", stdio_type=True, cli="claude"),
    Client("codex", "Codex CLI", "codex", "codex-cli", "toml", "mcp_servers",
           "run `codex mcp list` (or /mcp in a session)"),
    Client("gemini", "Gemini CLI", "gemini", "gemini-cli", "json", "mcpServers",
           "run `gemini mcp list` (or /mcp in a session)"),
    Client("claude-desktop", "Claude Desktop", "claude", "claude-desktop", "json", "mcpServers",
           "check Settings > Developer, which lists the server"),
    Client("cursor", "Cursor", "cursor", "cursor", "json", "mcpServers",
           "check Cursor Settings > MCP, where the server is listed and switched on"),
)}


def get_client(name: str) -> Client:
    try:
        return CLIENTS[name]
    except KeyError:
        raise ValidationError(f"unknown client {name!r}; choose one of: {', '.join(CLIENTS)}") from None


def config_path(client: str, environ: dict[str, str] | None = None, platform: str | None = None,
                home: Path | None = None) -> Path:
    """Where the client reads its user-level MCP servers from."""
    environ = dict(os.environ) if environ is None else environ
    platform = platform or sys.platform
    home = home or Path.home()
    if client == "claude-code":  # CLAUDE_CONFIG_DIR moves ~/.claude.json too
        base = environ.get("CLAUDE_CONFIG_DIR")
        return (Path(base).expanduser() if base else home) / ".claude.json"
    if client == "codex":
        base = environ.get("CODEX_HOME")
        return (Path(base).expanduser() if base else home / ".codex") / "config.toml"
    if client == "gemini":
        return home / ".gemini" / "settings.json"
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "claude-desktop":
        if platform == "darwin":
            folder = home / "Library" / "Application Support"
        elif platform.startswith("win"):
            folder = Path(environ.get("APPDATA") or home / "AppData" / "Roaming")
        else:
            folder = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        return folder / "Claude" / "claude_desktop_config.json"
    raise ValidationError(f"unknown client {client!r}")


def resolve_server_command() -> str:
    """Absolute path of kioku-mesh-mcp: next to this Python first (the same install), else PATH."""
    return resolve_script(SERVER_SCRIPT)


def resolve_script(script: str) -> str:
    """Absolute path of one of our console scripts, found as resolve_server_command says."""
    bin_dir = Path(os.path.abspath(sys.executable)).parent  # not resolved: keep the venv's bin
    names = [script + ".exe", script] if os.name == "nt" else [script]
    for name in names:
        candidate = bin_dir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(script)
    if found:
        return os.path.abspath(found)
    raise KiokuError(f"{script} not found next to {sys.executable} nor on PATH; "
                     "reinstall kioku-mesh (pip install kioku-mesh) and try again")


def forwarded_env(home: Path | None = None) -> dict[str, str]:
    """KIOKU_MESH_STATE_DIR and KIOKU_MESH_CONFIG, each only when this environment points
    somewhere other than the default: a client that starts our processes with a bare
    environment (Codex) would otherwise open another, empty store."""
    from ..core.config import default_state_dir, global_config_path

    home = home or Path.home()
    out = {}
    state = os.path.abspath(default_state_dir())
    if state != str(home / ".local" / "share" / "kioku-mesh"):
        out["KIOKU_MESH_STATE_DIR"] = state
    config = os.path.abspath(global_config_path())
    if config != str(home / ".config" / "kioku-mesh" / "config.yaml"):
        out["KIOKU_MESH_CONFIG"] = config
    return out


def parse_env_pairs(pairs: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not _ENV_KEY.fullmatch(key):
            raise ValidationError(f"--env expects KEY=VALUE, KEY made of letters, digits and _ "
                                  f"(got {item!r})")
        result[key] = value
    return result


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValidationError(f"--name must be 1-64 letters, digits, '-' or '_' (got {name!r})")
    return name


def build_entry(client: Client, command: str, extra_env: dict[str, str] | None = None,
                approve_reads: bool = False) -> dict[str, Any]:
    env = {"KIOKU_MESH_AGENT_FAMILY": client.agent_family, "KIOKU_MESH_CLIENT_ID": client.client_id}
    if client.name in DROPS_ENVIRONMENT:
        env.update(forwarded_env())
    env.update(extra_env or {})
    entry: dict[str, Any] = {"type": "stdio"} if client.stdio_type else {}
    entry.update(command=command, args=[], env=env)
    if approve_reads:  # Claude Code's approvals live in another file: tool_approvals
        from .tool_approvals import codex_tools

        if client.name == "codex":
            entry["tools"] = codex_tools()
        elif client.name == "gemini":
            entry["trust"] = True
    return entry


def client_cli_disabled() -> bool:
    value = config_env("NO_CLIENT_CLI") or ""
    return value.lower() not in ("", "0", "false", "no")


@dataclass
class Plan:
    """What install/uninstall would do; apply() does it."""

    client: Client
    action: str  # add, replace, unchanged, remove, absent
    name: str
    path: Path
    method: str  # "file", or "cli" when the client's own CLI does the write
    entry: dict[str, Any] | None
    before: str | None = None
    after: str | None = None
    commands: list[list[str]] = field(default_factory=list)
    fmt: str = ""  # the file's format when it is not the client's MCP config format
    remove_file: bool = False  # uninstall emptied a file we had created: delete it
    notes: list[str] = field(default_factory=list)  # what the user still has to do, if anything

    @property
    def file_format(self) -> str:
        return self.fmt or self.client.fmt

    @property
    def changes(self) -> bool:
        return self.action in ("add", "replace", "remove")

    def preview(self) -> str:
        """The exact change: a unified diff of the file, or the commands to run."""
        if not self.changes:
            return ""
        if self.method == "cli":
            return "".join(shlex.join(cmd) + "\n" for cmd in self.commands)
        return cf.unified_diff(self.path, self.before, self.after or "")


def _matches(current: Any, entry: dict[str, Any]) -> bool:
    # Keys we do not write (timeouts, trust, ...) may be the user's own: they do not count.
    return isinstance(current, dict) and all(current.get(k) == v for k, v in entry.items())


def _use_cli(client: Client, allowed: bool) -> bool:
    return bool(allowed and client.cli and shutil.which(client.cli))


def plan_install(client_name: str, *, name: str = DEFAULT_NAME, extra_env: dict[str, str] | None = None,
                 force: bool = False, use_client_cli: bool = True, command: str | None = None,
                 approve_reads: bool = False) -> Plan:
    """approve_reads: also approve the read-only tools in the entry (Codex per tool, Gemini
    `trust`); for Claude Code that is a second file, see tool_approvals.plan_claude_rules."""
    client = get_client(client_name)
    check_name(name)
    if approve_reads and client.name not in APPROVAL_CLIENTS:
        raise ValidationError(f"--approve-reads is for {', '.join(APPROVAL_CLIENTS)}; "
                              f"{client.label} has no approval setting we write")
    entry = build_entry(client, command or resolve_server_command(), extra_env, approve_reads)
    path = config_path(client.name)
    doc = cf.read_document(path, client.fmt)
    current = cf.section_of(doc, client.section).get(name)
    if current is None:
        action = "add"
    elif _matches(current, entry):
        action = "unchanged"
    elif force:
        action = "replace"
    else:
        raise KiokuError(f"{path} already has an MCP server named {name!r} set up differently; "
                         "use --force to replace it, or --name to add another")
    plan = Plan(client, action, name, path, "cli" if _use_cli(client, use_client_cli) else "file",
                entry, before=doc.text)
    if not plan.changes:
        return plan
    if plan.method == "cli":
        env_args = [a for k, v in entry["env"].items() for a in ("-e", f"{k}={v}")]
        if action == "replace":  # `claude mcp add` refuses a name that exists
            plan.commands.append([client.cli or "", "mcp", "remove", "--scope", "user", name])
        plan.commands.append([client.cli or "", "mcp", "add", "--scope", "user", name, *env_args,
                              "--", entry["command"], *entry["args"]])
    else:
        plan.after = cf.with_entry(doc, client.section, name, entry)
    return plan


def plan_uninstall(client_name: str, *, name: str = DEFAULT_NAME, use_client_cli: bool = True) -> Plan:
    client = get_client(client_name)
    check_name(name)
    path = config_path(client.name)
    doc = cf.read_document(path, client.fmt)
    current = cf.section_of(doc, client.section).get(name)
    action = "absent" if current is None else "remove"
    plan = Plan(client, action, name, path, "cli" if _use_cli(client, use_client_cli) else "file",
                current, before=doc.text)
    if plan.changes:
        if plan.method == "cli":
            plan.commands.append([client.cli or "", "mcp", "remove", "--scope", "user", name])
        else:
            plan.after = cf.with_entry(doc, client.section, name, None)
    return plan


def apply(plan: Plan) -> Path | None:
    """Carry the plan out; returns the backup made of the previous file, if any."""
    if not plan.changes:
        return None
    if plan.method == "file" and cf.read_document(plan.path, plan.file_format).text != plan.before:
        # Someone (the client itself, often) wrote the file since we read it: do not undo that.
        raise KiokuError(f"{plan.path} changed while it was being edited; run the command again")
    saved = cf.backup(plan.path)
    if plan.method == "file" and plan.remove_file:
        cf.remove(plan.path)
    elif plan.method == "file":
        cf.write_atomic(plan.path, plan.after or "")
    else:
        try:
            for cmd in plan.commands:
                _run(cmd)
        except KiokuError as exc:
            if saved:
                raise KiokuError(f"{exc}; the previous file is saved as {saved}") from None
            raise
    return saved


def _run(cmd: list[str]) -> None:
    exe = shutil.which(cmd[0]) or cmd[0]
    try:
        proc = subprocess.run([exe, *cmd[1:]], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KiokuError(f"{shlex.join(cmd)} could not run: {exc}") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise KiokuError(f"{shlex.join(cmd)} failed (exit {proc.returncode})"
                         + (f": {lines[-1]}" if lines else ""))
