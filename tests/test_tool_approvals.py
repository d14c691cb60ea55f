"""`mcp install --approve-reads`: each client's own approval setting for the read-only tools,
asked for first; and the state dir forwarded to the client that drops the user's environment."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from kioku_mesh.api.tool_approvals import READ_TOOLS

WRITE_TOOLS = ("save_observation", "delete_memory", "send_message", "ack_message",
               "purge_expired_messages")


def mcp(km, *args: str, default_state: bool = True, **extra: str):
    bin_dir = km.home.parent / "empty-bin"
    bin_dir.mkdir(exist_ok=True)
    env = {"PATH": str(bin_dir), "CLAUDE_CONFIG_DIR": "", "CODEX_HOME": ""}
    if default_state:
        env["KIOKU_MESH_STATE_DIR"] = ""
    env.update(extra)
    return km.run("mcp", *args, extra_env=env)


def test_codex_approves_each_read_tool_and_nothing_else(km):
    proc = mcp(km, "install", "--client", "codex", "--approve-reads", "--yes")
    assert proc.returncode == 0, proc.stderr
    entry = tomllib.loads((km.home / ".codex/config.toml").read_text())["mcp_servers"]["kioku-mesh"]
    assert entry["tools"] == {tool: {"approval_mode": "approve"} for tool in READ_TOOLS}
    assert "default_tools_approval_mode" not in entry  # writes keep asking
    # A second install without the flag keeps the approvals (keys we do not write are the user's).
    proc = mcp(km, "install", "--client", "codex")
    assert "already installed" in proc.stdout


def test_gemini_trust_is_the_whole_server(km):
    proc = mcp(km, "install", "--client", "gemini", "--approve-reads", "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    entry = json.loads((km.home / ".gemini/settings.json").read_text())["mcpServers"]["kioku-mesh"]
    assert entry["trust"] is True


def test_claude_code_gets_allow_rules_beside_its_settings_and_uninstall_restores_bytes(km):
    settings = km.home / ".claude/settings.json"
    settings.parent.mkdir()
    theirs = {"permissions": {"allow": ["Bash(git status:*)"], "deny": ["Read(.env)"]},
              "model": "opus"}
    settings.write_text(json.dumps(theirs, indent=2) + "\n")
    original = settings.read_bytes()
    proc = mcp(km, "install", "--client", "claude-code", "--approve-reads", "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["approvals"]["action"] == "add"
    data = json.loads(settings.read_text())
    assert data["permissions"]["allow"] == ["Bash(git status:*)"] + [
        f"mcp__kioku-mesh__{tool}" for tool in READ_TOOLS]
    assert data["permissions"]["deny"] == ["Read(.env)"] and data["model"] == "opus"
    assert not any(tool in json.dumps(data) for tool in WRITE_TOOLS)
    # The server entry itself went to ~/.claude.json, as without the flag.
    assert "kioku-mesh" in json.loads((km.home / ".claude.json").read_text())["mcpServers"]

    proc = mcp(km, "uninstall", "--client", "claude-code")
    assert proc.returncode == 0, proc.stderr
    assert "removed allow rules" in proc.stdout
    assert settings.read_bytes() == original


@pytest.mark.parametrize("client", ["claude-code", "codex", "gemini"])
def test_approvals_are_asked_for_first(km, client):
    # Not a terminal and no --yes: refused, nothing written anywhere.
    proc = mcp(km, "install", "--client", client, "--approve-reads", input="y\n")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--yes" in lines[0]
    assert list(km.home.iterdir()) == []  # no config file, no backup, no directory


def test_dry_run_shows_the_approvals_without_asking(km):
    proc = mcp(km, "install", "--client", "claude-code", "--approve-reads", "--dry-run",
               "--no-client-cli")
    assert proc.returncode == 0, proc.stderr
    assert "+      \"mcp__kioku-mesh__search_memory\"," in proc.stdout
    assert not (km.home / ".claude").exists()


def test_approve_reads_is_refused_where_there_is_nothing_to_write(km):
    proc = mcp(km, "install", "--client", "cursor", "--approve-reads", "--yes")
    assert proc.returncode == 2
    assert "--approve-reads is for claude-code, codex, gemini" in proc.stderr


def test_codex_gets_the_state_dir_and_config_the_shell_uses(km):
    config = km.home / "elsewhere" / "kioku.yaml"
    proc = mcp(km, "install", "--client", "codex", default_state=False,
               KIOKU_MESH_CONFIG=str(config))
    assert proc.returncode == 0, proc.stderr
    env = tomllib.loads((km.home / ".codex/config.toml").read_text())[
        "mcp_servers"]["kioku-mesh"]["env"]
    assert env["KIOKU_MESH_STATE_DIR"] == str(km.state_dir)
    assert env["KIOKU_MESH_CONFIG"] == str(config)
    # Gemini and Claude Code pass the user's environment on: their entries stay minimal.
    for client, path in (("gemini", ".gemini/settings.json"), ("claude-code", ".claude.json")):
        assert mcp(km, "install", "--client", client, default_state=False).returncode == 0
        entry = json.loads(Path(km.home / path).read_text())["mcpServers"]["kioku-mesh"]
        assert set(entry["env"]) == {"KIOKU_MESH_AGENT_FAMILY", "KIOKU_MESH_CLIENT_ID"}
