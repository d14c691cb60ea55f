"""`kioku-mesh hooks install|uninstall`: the real CLI against each client's own settings file
in a temporary HOME: merged field by field, idempotent, uninstall restores the bytes."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from kioku_mesh.api import hooks_install, mcp_install
from kioku_mesh.cli import hook_runner, hooks_commands

PROGRAM = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "kioku-mesh")
FILES = {
    "claude-code": ".claude/settings.json",
    "codex": ".codex/hooks.json",
    "gemini": ".gemini/settings.json",
}
EVENTS = {
    "claude-code": ["SessionStart", "PreCompact", "Stop"],
    "codex": ["SessionStart", "PreCompact", "Stop"],
    "gemini": ["SessionStart", "PreCompress"],
}
ALL = list(FILES)
THEIR_GROUP = {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/audit.sh",
                                            "timeout": 5}]}
THEIR_START = {"hooks": [{"type": "command", "command": "echo hello"}]}


def their_settings(client: str) -> dict[str, Any]:
    """A realistic file of that client, with hooks of the user's own."""
    data: dict[str, Any] = {
        "hooks": {"PreToolUse": [THEIR_GROUP], "SessionStart": [THEIR_START]},
    }
    if client == "claude-code":
        data = {"model": "opus", "permissions": {"allow": ["Bash(ls:*)"]}, **data,
                "statusLine": {"type": "command", "command": "x"}}
    elif client == "gemini":
        data = {"security": {"auth": {"selectedType": "gemini-api-key"}},
                "mcpServers": {"other": {"command": "npx"}}, **data, "ui": {"theme": "ANSI"}}
    return data


def path_of(km, client: str) -> Path:
    return km.home / FILES[client]


def write(km, client: str, data: dict[str, Any]) -> bytes:
    path = path_of(km, client)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path.read_bytes()


def hooks(km, *args: str):
    env = {"CLAUDE_CONFIG_DIR": "", "CODEX_HOME": ""}
    return km.run("hooks", *args, extra_env=env)


def ours(data: dict[str, Any], client: str) -> dict[str, list[str]]:
    """Our commands per event, parsed as a shell would."""
    found: dict[str, list[str]] = {}
    for event, groups in data.get("hooks", {}).items():
        for group in groups:
            for handler in group["hooks"]:
                if hooks_install.is_our_command(handler["command"]):
                    found.setdefault(event, []).append(handler["command"])
    return found


def check_ours(km, client: str, data: dict[str, Any]) -> None:
    found = ours(data, client)
    assert sorted(found) == sorted(EVENTS[client])
    for event, commands in found.items():
        assert len(commands) == 1
        words = shlex.split(commands[0])
        # The state dir of the installing shell is forwarded: the client may start
        # hooks with another environment.
        assert words == [f"KIOKU_MESH_STATE_DIR={km.state_dir}", PROGRAM, "hook", client, event]
        [group] = [g for g in data["hooks"][event]
                   if any(h["command"] == commands[0] for h in g["hooks"])]
        assert "matcher" not in group  # every source of SessionStart, and the rest take none
        [handler] = group["hooks"]
        assert handler["type"] == "command"
        assert handler["timeout"] == (10000 if client == "gemini" else 10)
        if client == "gemini":
            assert handler["name"] == f"kioku-mesh-{event}"


@pytest.mark.parametrize("client", ALL)
def test_install_merges_keeps_theirs_and_uninstall_restores_bytes(km, client):
    original = write(km, client, their_settings(client))
    proc = hooks(km, "install", "--client", client, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["action"] == "add" and report["changed"]
    assert report["path"] == str(path_of(km, client))
    assert Path(report["backup"]).read_bytes() == original
    data = json.loads(path_of(km, client).read_text())
    check_ours(km, client, data)
    before = their_settings(client)
    # Every other key, field by field, is what it was.
    assert {k: v for k, v in data.items() if k != "hooks"} == \
        {k: v for k, v in before.items() if k != "hooks"}
    assert list(data) == list(before)  # and in the same order
    assert data["hooks"]["PreToolUse"] == [THEIR_GROUP]
    assert data["hooks"]["SessionStart"][0] == THEIR_START  # theirs first, ours after
    if client == "codex":
        assert report["next_steps"] and "trust" in report["next_steps"][0].lower()

    proc = hooks(km, "uninstall", "--client", client, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["action"] == "remove"
    assert path_of(km, client).read_bytes() == original


@pytest.mark.parametrize("client", ALL)
def test_second_install_changes_nothing(km, client):
    write(km, client, their_settings(client))
    assert hooks(km, "install", "--client", client).returncode == 0
    path = path_of(km, client)
    snap = (path.read_bytes(), path.stat().st_mtime_ns, sorted(os.listdir(path.parent)))
    proc = hooks(km, "install", "--client", client)
    assert proc.returncode == 0, proc.stderr
    assert "already installed" in proc.stdout
    assert (path.read_bytes(), path.stat().st_mtime_ns, sorted(os.listdir(path.parent))) == snap


@pytest.mark.parametrize("client", ALL)
def test_missing_file_is_created_and_uninstall_removes_it(km, client):
    path = path_of(km, client)
    proc = hooks(km, "install", "--client", client, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"--- /dev/null\n+++ {path}\n")
    assert "nothing written" in proc.stderr
    assert not path.parent.exists()
    assert hooks(km, "install", "--client", client).returncode == 0
    check_ours(km, client, json.loads(path.read_text()))
    proc = hooks(km, "uninstall", "--client", client, "--json")
    report = json.loads(proc.stdout)
    assert report["removed_file"] is True
    assert not path.exists()
    assert report["backup"] and Path(report["backup"]).exists()  # the copy stays, as always
    report = json.loads(hooks(km, "uninstall", "--client", client, "--json").stdout)
    assert report["action"] == "absent" and not report["changed"]


@pytest.mark.parametrize("client", ALL)
def test_reinstall_from_another_path_replaces_ours_in_place(km, client):
    data = their_settings(client)
    stale = f"/old/venv/bin/kioku-mesh hook {client} SessionStart"
    data["hooks"]["SessionStart"] = [{"hooks": [{"type": "command", "command": stale}]},
                                     THEIR_START]
    data["hooks"]["Notification"] = [{"hooks": [{"type": "command",
                                                 "command": f"/old/kioku-mesh hook {client} X"}]}]
    write(km, client, data)
    report = json.loads(hooks(km, "install", "--client", client, "--json").stdout)
    assert report["action"] == "replace"
    new = json.loads(path_of(km, client).read_text())
    check_ours(km, client, new)
    assert hooks_install.is_our_command(new["hooks"]["SessionStart"][0]["hooks"][0]["command"])
    assert new["hooks"]["SessionStart"][1] == THEIR_START  # ours stayed where it was
    assert "Notification" not in new["hooks"]  # a hook of ours we no longer install is gone


def test_a_group_shared_with_the_user_keeps_their_handler(km):
    mine = f"{PROGRAM} hook claude-code Stop"
    write(km, "claude-code", {"hooks": {"Stop": [{"hooks": [
        {"type": "command", "command": "notify-send done"},
        {"type": "command", "command": mine}]}]}})
    assert hooks(km, "uninstall", "--client", "claude-code").returncode == 0
    data = json.loads(path_of(km, "claude-code").read_text())
    assert data == {"hooks": {"Stop": [{"hooks": [
        {"type": "command", "command": "notify-send done"}]}]}}


@pytest.mark.parametrize("text,words", [
    ('{"hooks": [1, 2]}\n', ["hooks is not an object"]),
    ('{"hooks": {"Stop": {"command": "x"}}}\n', ["hooks.Stop is not a list"]),
    ('{"hooks": {,}}\n', ["not valid JSON", "line 1"]),
])
def test_unusable_files_are_left_alone(km, text, words):
    path = path_of(km, "claude-code")
    path.parent.mkdir(parents=True)
    path.write_text(text)
    proc = hooks(km, "install", "--client", "claude-code")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]
    assert path.read_text() == text
    assert sorted(os.listdir(path.parent)) == ["settings.json"]


def test_config_dirs_follow_the_clients_env(km):
    env = {"CLAUDE_CONFIG_DIR": str(km.home / "cc"), "CODEX_HOME": str(km.home / "cx")}
    for client, expected in (("claude-code", km.home / "cc" / "settings.json"),
                             ("codex", km.home / "cx" / "hooks.json")):
        proc = km.run("hooks", "install", "--client", client, "--json", extra_env=env)
        assert json.loads(proc.stdout)["path"] == str(expected)
        assert expected.is_file()


def test_no_forwarded_env_when_the_defaults_are_used(km):
    env = dict(km.env)
    for key in ("KIOKU_MESH_STATE_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env.pop(key)
    env.update(CLAUDE_CONFIG_DIR="", CODEX_HOME="")
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "kioku_mesh.cli.main", "hooks", "install",
                           "--client", "gemini"], env=env, cwd=km.home, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(path_of(km, "gemini").read_text())
    command = data["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    assert shlex.split(command) == [PROGRAM, "hook", "gemini", "SessionStart"]


def test_cli_lists_stay_in_step_with_the_library():
    assert hooks_commands.HOOK_CLIENTS == hooks_install.HOOK_CLIENTS
    assert set(hook_runner.FAMILY) == set(hooks_install.HOOK_CLIENTS)
    for client, family in hook_runner.FAMILY.items():
        assert mcp_install.CLIENTS[client].agent_family == family
    kinds = {e.name for events in hooks_install.HOOK_EVENTS.values() for e in events}
    assert kinds <= set(hook_runner.KIND)
