"""`kioku-mesh mcp install|uninstall`: the real CLI against each client's own config file.

PATH is always set to a directory the test controls, so a `claude` binary on the
machine running the tests is never found, let alone run; the Claude Code CLI path
is tested with a fake `claude` that only records its arguments.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kioku_mesh.api import mcp_install
from kioku_mesh.cli.main import MCP_CLIENTS
from kioku_mesh.core.errors import KiokuError

SERVER = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "kioku-mesh-mcp")
FILES = {
    "claude-code": ".claude.json",
    "codex": ".codex/config.toml",
    "gemini": ".gemini/settings.json",
    "claude-desktop": ".config/Claude/claude_desktop_config.json",  # XDG_CONFIG_HOME=~/.config
    "cursor": ".cursor/mcp.json",
}
IDENTITY = {
    "claude-code": ("claude", "claude-code"),
    "codex": ("codex", "codex-cli"),
    "gemini": ("gemini", "gemini-cli"),
    "claude-desktop": ("claude", "claude-desktop"),
    "cursor": ("cursor", "cursor"),
}
OTHER_JSON: dict[str, Any] = {
    "theme": "dark",
    "numStartups": 7,
    "mcpServers": {
        "other": {"command": "npx", "args": ["-y", "other-server"], "env": {"TOKEN": "t0k"}},
    },
    "projects": {"/work/x": {"mcpServers": {"local-one": {"command": "x"}}, "trust": True}},
    "nested": {"list": [1, 2.5, None, {"deep": "ü"}]},
}
OTHER_TOML = '''\
# my codex config
model = "o3"
approval_policy = "on-request"
notes = """
[mcp_servers.kioku-mesh]
this is text inside a string, not a table
"""

[mcp_servers.other]
command = "npx"
args = [
  "-y",
  "other-server",
]

[mcp_servers.other.env]
TOKEN = "t0k"

# the terminal UI
[tui]
notifications = true
'''
ALL = list(FILES)
pytestmark = pytest.mark.skipif(os.name == "nt", reason="fake client CLIs are shell scripts")


def config(km, client: str) -> Path:
    return km.home / FILES[client]


def mcp(km, *args: str, path_dir: Path | None = None, **extra: str):
    bin_dir = path_dir or km.home.parent / "empty-bin"
    bin_dir.mkdir(exist_ok=True)
    # The default state dir (under HOME): nothing to forward (test_codex_gets_the_state_dir).
    env = {"PATH": str(bin_dir), "CLAUDE_CONFIG_DIR": "", "CODEX_HOME": "", "APPDATA": "",
           "KIOKU_MESH_STATE_DIR": ""}
    env.update(extra)
    return km.run("mcp", *args, extra_env=env)


def write_existing(km, client: str) -> bytes:
    path = config(km, client)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = OTHER_TOML if client == "codex" else json.dumps(OTHER_JSON, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
    return path.read_bytes()


def load(km, client: str) -> dict[str, Any]:
    text = config(km, client).read_text(encoding="utf-8")
    return tomllib.loads(text) if client == "codex" else json.loads(text)


def section(client: str) -> str:
    return "mcp_servers" if client == "codex" else "mcpServers"


def backups(km, client: str) -> list[Path]:
    path = config(km, client)
    return sorted(path.parent.glob(path.name + ".bak-*")) if path.parent.exists() else []


def snapshot(km, client: str) -> tuple[bytes, int, list[str]]:
    path = config(km, client)
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(os.listdir(path.parent))


def check_ours(client: str, entry: dict[str, Any], **extra_env: str) -> None:
    family, client_id = IDENTITY[client]
    assert entry["command"] == SERVER
    assert os.path.isabs(entry["command"])
    assert entry["args"] == []
    assert entry["env"] == {"KIOKU_MESH_AGENT_FAMILY": family, "KIOKU_MESH_CLIENT_ID": client_id,
                            **extra_env}
    if client == "claude-code":
        assert entry["type"] == "stdio"
        assert set(entry) == {"type", "command", "args", "env"}
    else:
        assert set(entry) == {"command", "args", "env"}


def check_others_kept(km, client: str, data: dict[str, Any]) -> None:
    if client == "codex":
        original = tomllib.loads(OTHER_TOML)
        assert data["mcp_servers"]["other"] == original["mcp_servers"]["other"]
        rest = {k: v for k, v in data.items() if k != "mcp_servers"}
        assert rest == {k: v for k, v in original.items() if k != "mcp_servers"}
    else:
        assert data["mcpServers"]["other"] == OTHER_JSON["mcpServers"]["other"]
        rest = {k: v for k, v in data.items() if k != "mcpServers"}
        assert rest == {k: v for k, v in OTHER_JSON.items() if k != "mcpServers"}


def one_line_error(proc, code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


# ------------------------------------------------------------------ every client


@pytest.mark.parametrize("client", ALL)
def test_install_merges_and_keeps_everything_else(km, client):
    original = write_existing(km, client)
    proc = mcp(km, "install", "--client", client, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["action"] == "add" and report["changed"] and report["method"] == "file"
    assert report["path"] == str(config(km, client))
    data = load(km, client)
    assert set(data[section(client)]) == {"other", "kioku-mesh"}
    check_ours(client, data[section(client)]["kioku-mesh"])
    check_others_kept(km, client, data)
    [backup] = backups(km, client)
    assert report["backup"] == str(backup)
    assert backup.read_bytes() == original
    if client == "codex":  # text edit: every byte of the old file is still there, in order
        assert config(km, client).read_bytes().startswith(original)


@pytest.mark.parametrize("client", ALL)
def test_second_install_is_a_no_op(km, client):
    write_existing(km, client)
    assert mcp(km, "install", "--client", client).returncode == 0
    before = snapshot(km, client)
    proc = mcp(km, "install", "--client", client)
    assert proc.returncode == 0, proc.stderr
    assert "already installed" in proc.stdout
    assert snapshot(km, client) == before
    report = json.loads(mcp(km, "install", "--client", client, "--json").stdout)
    assert report["action"] == "unchanged" and not report["changed"] and report["backup"] is None


@pytest.mark.parametrize("client", ALL)
def test_dry_run_prints_the_diff_and_writes_nothing(km, client):
    write_existing(km, client)
    before = snapshot(km, client)
    proc = mcp(km, "install", "--client", client, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"--- {config(km, client)}\n+++ {config(km, client)}\n")
    assert any(line.startswith("+") and SERVER in line for line in proc.stdout.splitlines())
    assert "nothing written" in proc.stderr
    assert snapshot(km, client) == before
    assert backups(km, client) == []


@pytest.mark.parametrize("client", ALL)
def test_dry_run_on_a_missing_file_creates_nothing(km, client):
    proc = mcp(km, "install", "--client", client, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"--- /dev/null\n+++ {config(km, client)}\n")
    assert not config(km, client).exists()
    assert not config(km, client).parent.exists() or client == "claude-code"


@pytest.mark.parametrize("client", ALL)
def test_install_creates_the_file_and_its_directory(km, client):
    proc = mcp(km, "install", "--client", client)
    assert proc.returncode == 0, proc.stderr
    assert "added MCP server 'kioku-mesh'" in proc.stdout
    data = load(km, client)
    assert list(data[section(client)]) == ["kioku-mesh"]
    check_ours(client, data[section(client)]["kioku-mesh"])
    assert backups(km, client) == []  # nothing to back up
    assert stat.S_IMODE(config(km, client).stat().st_mode) == 0o600


@pytest.mark.parametrize("client", ALL)
def test_uninstall_removes_only_ours(km, client):
    original = write_existing(km, client)
    assert mcp(km, "install", "--client", client).returncode == 0
    installed = config(km, client).read_bytes()
    before = snapshot(km, client)
    dry = mcp(km, "uninstall", "--client", client, "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("---")
    assert snapshot(km, client) == before
    proc = mcp(km, "uninstall", "--client", client, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["action"] == "remove" and report["changed"]
    assert Path(report["backup"]).read_bytes() == installed
    data = load(km, client)
    assert list(data[section(client)]) == ["other"]
    check_others_kept(km, client, data)
    if client == "codex":
        assert config(km, client).read_bytes() == original
    else:
        assert data == OTHER_JSON
    again = mcp(km, "uninstall", "--client", client)
    assert again.returncode == 0 and "not installed" in again.stdout
    assert len(backups(km, client)) == 2  # the install's and the uninstall's, none for the no-op


@pytest.mark.parametrize("client", ALL)
def test_different_entry_needs_force(km, client):
    write_existing(km, client)
    assert mcp(km, "install", "--client", client).returncode == 0
    before = snapshot(km, client)
    proc = mcp(km, "install", "--client", client, "--env", "KIOKU_MESH_USER_ID=alice")
    one_line_error(proc, 1, "already has an MCP server named 'kioku-mesh'", "--force")
    assert snapshot(km, client) == before
    proc = mcp(km, "install", "--client", client, "--env", "KIOKU_MESH_USER_ID=alice", "--force",
               "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["action"] == "replace"
    data = load(km, client)
    check_ours(client, data[section(client)]["kioku-mesh"], KIOKU_MESH_USER_ID="alice")
    check_others_kept(km, client, data)
    assert len(backups(km, client)) == 2


@pytest.mark.parametrize("client", ALL)
def test_other_name_adds_a_second_entry(km, client):
    write_existing(km, client)
    assert mcp(km, "install", "--client", client).returncode == 0
    proc = mcp(km, "install", "--client", client, "--name", "kioku-work", "--env",
               "KIOKU_MESH_TEAM_ID=core")
    assert proc.returncode == 0, proc.stderr
    servers = load(km, client)[section(client)]
    assert list(servers) == ["other", "kioku-mesh", "kioku-work"]
    check_ours(client, servers["kioku-work"], KIOKU_MESH_TEAM_ID="core")
    assert mcp(km, "uninstall", "--client", client, "--name", "kioku-work").returncode == 0
    assert list(load(km, client)[section(client)]) == ["other", "kioku-mesh"]


@pytest.mark.parametrize("client", ALL)
def test_invalid_existing_file_is_an_error_and_left_untouched(km, client):
    path = config(km, client)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[broken\nx = "' if client == "codex" else '{"mcpServers": {,}')
    before = snapshot(km, client)
    for action in ("install", "uninstall"):
        proc = mcp(km, action, "--client", client)
        one_line_error(proc, 2, str(path), "TOML" if client == "codex" else "JSON", "nothing was changed")
        assert snapshot(km, client) == before
    assert backups(km, client) == []


@pytest.mark.parametrize("client", ["claude-code", "gemini", "cursor"])
def test_json_whose_servers_are_not_an_object_is_refused(km, client):
    path = config(km, client)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"mcpServers": []}\n')
    one_line_error(mcp(km, "install", "--client", client), 2, "mcpServers")
    assert path.read_text() == '{"mcpServers": []}\n'


# ------------------------------------------------------------------ options and errors


@pytest.mark.parametrize("bad", ["FOO", "=x", "1A=b", "A-B=c", ""])
def test_bad_env_form_exits_2(km, bad):
    proc = mcp(km, "install", "--client", "cursor", "--env", bad)
    one_line_error(proc, 2, "--env expects KEY=VALUE")
    assert not config(km, "cursor").exists()


def test_env_values_may_hold_equals_signs_and_be_empty(km):
    assert mcp(km, "install", "--client", "cursor", "--env", "A=x=y", "--env", "B=").returncode == 0
    env = load(km, "cursor")["mcpServers"]["kioku-mesh"]["env"]
    assert env["A"] == "x=y" and env["B"] == ""


@pytest.mark.parametrize("bad", ["", "has space", "a.b", "x" * 65, "ü"])
def test_bad_name_exits_2(km, bad):
    one_line_error(mcp(km, "install", "--client", "gemini", "--name", bad), 2, "--name")


@pytest.mark.parametrize("args", [["install"], ["install", "--client", "vim"], [], ["frob"]])
def test_usage_errors_exit_2(km, args):
    one_line_error(mcp(km, *args), 2)


def test_parser_and_library_agree_on_clients():
    assert tuple(mcp_install.CLIENTS) == MCP_CLIENTS


def test_json_config_keeps_its_indentation_and_newlines(km):
    path = config(km, "gemini")
    path.parent.mkdir(parents=True)
    path.write_bytes(json.dumps({"theme": "x"}, indent=4).replace("\n", "\r\n").encode())
    assert mcp(km, "install", "--client", "gemini").returncode == 0
    raw = path.read_bytes()
    assert b'\r\n    "theme": "x",\r\n    "mcpServers": {\r\n        "kioku-mesh"' in raw
    assert not raw.endswith(b"\n")  # the file had no final newline and still has none
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_symlinked_config_stays_a_symlink(km):
    dotfiles = km.home / "dotfiles" / "settings.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text('{"theme": "x"}\n')
    link = config(km, "gemini")
    link.parent.mkdir()
    link.symlink_to(dotfiles)
    assert mcp(km, "install", "--client", "gemini").returncode == 0
    assert link.is_symlink()
    assert "kioku-mesh" in json.loads(dotfiles.read_text())["mcpServers"]
    assert len(list(dotfiles.parent.glob("settings.json.bak-*"))) == 1


def test_codex_honours_codex_home(km):
    home = km.home / "elsewhere"
    assert mcp(km, "install", "--client", "codex", CODEX_HOME=str(home)).returncode == 0
    assert "kioku-mesh" in tomllib.loads((home / "config.toml").read_text())["mcp_servers"]
    assert not config(km, "codex").exists()


def test_claude_code_honours_claude_config_dir(km):
    home = km.home / "claude-profile"
    assert mcp(km, "install", "--client", "claude-code", CLAUDE_CONFIG_DIR=str(home)).returncode == 0
    assert "kioku-mesh" in json.loads((home / ".claude.json").read_text())["mcpServers"]
    assert not config(km, "claude-code").exists()


# ------------------------------------------------------------------ TOML text surgery

QUOTED = '''\
model = "o3"

[mcp_servers."kioku-mesh"]
command = "/old/kioku-mesh-mcp"
args = ["--old"]
startup_timeout_sec = 20

[mcp_servers."kioku-mesh".env]
KIOKU_MESH_CLIENT_ID = "old"

# other server: keep this comment
[mcp_servers.other]
command = "x"
'''


def test_codex_quoted_table_names_are_replaced_in_place_and_removed(km):
    path = config(km, "codex")
    path.parent.mkdir()
    path.write_text(QUOTED)
    one_line_error(mcp(km, "install", "--client", "codex"), 1, "--force")
    assert mcp(km, "install", "--client", "codex", "--force").returncode == 0
    text = path.read_text()
    assert text.startswith('model = "o3"\n\n[mcp_servers.kioku-mesh]\n')
    assert "# other server: keep this comment\n[mcp_servers.other]\ncommand = \"x\"\n" in text
    assert "/old/" not in text and '"kioku-mesh"' not in text
    check_ours("codex", tomllib.loads(text)["mcp_servers"]["kioku-mesh"])
    assert mcp(km, "uninstall", "--client", "codex").returncode == 0
    assert tomllib.loads(path.read_text()) == {"model": "o3", "mcp_servers": {"other": {"command": "x"}}}
    assert "# other server: keep this comment" in path.read_text()


def test_codex_extra_keys_of_ours_count_as_installed(km):
    # A user may add startup_timeout_sec or enabled_tools to our entry: that is still ours.
    path = config(km, "codex")
    path.parent.mkdir()
    path.write_text(f'[mcp_servers.kioku-mesh]\ncommand = "{SERVER}"\nargs = []\n'
                    'startup_timeout_sec = 30\n\n[mcp_servers.kioku-mesh.env]\n'
                    'KIOKU_MESH_AGENT_FAMILY = "codex"\nKIOKU_MESH_CLIENT_ID = "codex-cli"\n')
    proc = mcp(km, "install", "--client", "codex")
    assert proc.returncode == 0 and "already installed" in proc.stdout


@pytest.mark.parametrize("text", [
    'mcp_servers = { kioku-mesh = { command = "x" } }\n',
    '[mcp_servers]\nkioku-mesh.command = "x"\n',
])
def test_codex_entry_we_cannot_rewrite_safely_is_refused(km, text):
    path = config(km, "codex")
    path.parent.mkdir()
    path.write_text(text)
    for args in (["install", "--force"], ["uninstall"]):
        proc = mcp(km, *args, "--client", "codex")
        one_line_error(proc, 2, "cannot edit", "safely", "nothing was changed")
        assert path.read_text() == text
    assert backups(km, "codex") == []


def test_codex_inline_servers_table_is_refused(km):
    path = config(km, "codex")
    path.parent.mkdir()
    text = 'mcp_servers = { other = { command = "x" } }\n'
    path.write_text(text)
    one_line_error(mcp(km, "install", "--client", "codex"), 2, "cannot edit")
    assert path.read_text() == text


def test_codex_values_are_escaped(km):
    tricky = 'a "quoted" \\path\\ with\ttab, newline\n, ü and \x7f'
    proc = mcp(km, "install", "--client", "codex", "--env", f"TRICKY={tricky}")
    assert proc.returncode == 0, proc.stderr
    env = tomllib.loads(config(km, "codex").read_text())["mcp_servers"]["kioku-mesh"]["env"]
    assert env["TRICKY"] == tricky


def test_codex_file_without_final_newline(km):
    path = config(km, "codex")
    path.parent.mkdir()
    path.write_text('model = "o3"')
    assert mcp(km, "install", "--client", "codex").returncode == 0
    assert path.read_text().startswith('model = "o3"\n\n[mcp_servers.kioku-mesh]\n')
    assert mcp(km, "uninstall", "--client", "codex").returncode == 0
    assert path.read_text() == 'model = "o3"\n'


# ------------------------------------------------------------------ Claude Code's own CLI


def fake_claude(km, exit_code: int = 0) -> tuple[Path, Path]:
    bin_dir = km.home.parent / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    log = km.home.parent / "claude-calls.log"
    script = bin_dir / "claude"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{log}"\necho "---" >> "{log}"\n'
                      f'echo "claude: simulated failure" >&2\nexit {exit_code}\n'
                      if exit_code else
                      f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{log}"\necho "---" >> "{log}"\n')
    script.chmod(0o755)
    return bin_dir, log


def calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [chunk.strip("\n").split("\n") for chunk in log.read_text().split("---\n") if chunk.strip()]


ADD = ["mcp", "add", "--scope", "user", "kioku-mesh", "-e", "KIOKU_MESH_AGENT_FAMILY=claude",
       "-e", "KIOKU_MESH_CLIENT_ID=claude-code", "--", SERVER]
REMOVE = ["mcp", "remove", "--scope", "user", "kioku-mesh"]


def test_claude_cli_is_used_when_on_path(km):
    bin_dir, log = fake_claude(km)
    original = write_existing(km, "claude-code")
    dry = mcp(km, "install", "--client", "claude-code", "--dry-run", path_dir=bin_dir)
    assert dry.returncode == 0
    assert dry.stdout.startswith("claude mcp add --scope user kioku-mesh -e ")
    assert calls(log) == [] and backups(km, "claude-code") == []
    proc = mcp(km, "install", "--client", "claude-code", "--json", path_dir=bin_dir)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["method"] == "cli"
    assert calls(log) == [ADD]
    assert [b.read_bytes() for b in backups(km, "claude-code")] == [original]


def test_claude_cli_force_removes_then_adds_and_uninstall_removes(km):
    bin_dir, log = fake_claude(km)
    write_existing(km, "claude-code")
    assert mcp(km, "install", "--client", "claude-code", "--no-client-cli").returncode == 0
    same = mcp(km, "install", "--client", "claude-code", path_dir=bin_dir)
    assert "already installed" in same.stdout and calls(log) == []
    one_line_error(mcp(km, "install", "--client", "claude-code", "--env", "X=1", path_dir=bin_dir),
                   1, "--force")
    assert mcp(km, "install", "--client", "claude-code", "--env", "X=1", "--force",
               path_dir=bin_dir).returncode == 0
    assert calls(log) == [REMOVE, ADD[:-2] + ["-e", "X=1", "--", SERVER]]
    assert mcp(km, "uninstall", "--client", "claude-code", path_dir=bin_dir).returncode == 0
    assert calls(log)[-1] == REMOVE


@pytest.mark.parametrize("how", ["flag", "env"])
def test_client_cli_can_be_turned_off(km, how):
    bin_dir, log = fake_claude(km)
    args = ["install", "--client", "claude-code"] + (["--no-client-cli"] if how == "flag" else [])
    extra = {"KIOKU_MESH_NO_CLIENT_CLI": "1"} if how == "env" else {}
    assert mcp(km, *args, path_dir=bin_dir, **extra).returncode == 0
    assert calls(log) == []
    check_ours("claude-code", load(km, "claude-code")["mcpServers"]["kioku-mesh"])


def test_failing_claude_cli_is_a_one_line_error(km):
    bin_dir, _ = fake_claude(km, exit_code=3)
    write_existing(km, "claude-code")
    proc = mcp(km, "install", "--client", "claude-code", path_dir=bin_dir)
    one_line_error(proc, 1, "claude mcp add", "exit 3", "simulated failure", ".bak-")


# ------------------------------------------------------------------ in-process units


def test_config_paths_per_platform(tmp_path):
    home = tmp_path
    path = mcp_install.config_path
    desktop = "claude-desktop"
    assert path(desktop, {}, "darwin", home) == (
        home / "Library/Application Support/Claude/claude_desktop_config.json")
    assert path(desktop, {"APPDATA": str(home / "Roaming")}, "win32", home) == (
        home / "Roaming/Claude/claude_desktop_config.json")
    assert path(desktop, {}, "linux", home) == home / ".config/Claude/claude_desktop_config.json"
    assert path(desktop, {"XDG_CONFIG_HOME": str(home / "xdg")}, "linux", home) == (
        home / "xdg/Claude/claude_desktop_config.json")
    assert path("codex", {}, "linux", home) == home / ".codex/config.toml"
    assert path("codex", {"CODEX_HOME": str(home / "c")}, "linux", home) == home / "c/config.toml"
    assert path("claude-code", {}, "darwin", home) == home / ".claude.json"
    assert path("gemini", {}, "win32", home) == home / ".gemini/settings.json"
    assert path("cursor", {}, "linux", home) == home / ".cursor/mcp.json"


def test_server_command_is_found_next_to_python_then_on_path(tmp_path, monkeypatch):
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(KiokuError, match="kioku-mesh-mcp not found"):
        mcp_install.resolve_server_command()
    on_path = tmp_path / "nowhere" / "kioku-mesh-mcp"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert mcp_install.resolve_server_command() == str(on_path)
    beside = venv_bin / "kioku-mesh-mcp"
    beside.write_text("#!/bin/sh\n")
    beside.chmod(0o755)
    assert mcp_install.resolve_server_command() == str(beside)


@pytest.mark.parametrize("text", [
    # a header-looking line inside a multi-line array, literal string or basic string
    'matrix = [\n  [1, 2],\n  ["[mcp_servers.kioku-mesh]"],\n]\n',
    "doc = '''\n[mcp_servers.kioku-mesh]\n'''\n",
    'doc = """\\\n  [mcp_servers.kioku-mesh] \\"""\n"""\n',
    # spaced, quoted and commented headers, and an array of tables under our entry
    '[ mcp_servers . "kioku-mesh" ]  # ours\ncommand = "x"\n\n'
    '[[mcp_servers.kioku-mesh.extra]]\nn = 1\n\n[mcp_servers.other]\ncommand = "y"\n',
])
def test_toml_edit_finds_only_real_headers(text):
    from kioku_mesh.api.toml_edit import replace_table

    data = tomllib.loads(text)
    servers = data.setdefault("mcp_servers", {})
    servers.pop("kioku-mesh", None)
    entry = {"command": "/bin/new", "args": [], "env": {"K": "v"}}
    expected = json.loads(json.dumps(data))
    expected["mcp_servers"]["kioku-mesh"] = entry
    result = replace_table(text, ["mcp_servers", "kioku-mesh"], entry, expected)
    assert tomllib.loads(result)["mcp_servers"]["kioku-mesh"] == entry
    if "ours" in text:  # replaced where it was, its array of tables gone with it
        assert result.startswith('[mcp_servers.kioku-mesh]\ncommand = "/bin/new"\n')
        assert "extra" not in result and result.endswith('[mcp_servers.other]\ncommand = "y"\n')
    else:  # nothing matched: the text is kept whole and the table appended
        assert result.startswith(text)
    del expected["mcp_servers"]["kioku-mesh"]
    removed = replace_table(result, ["mcp_servers", "kioku-mesh"], None, expected)
    assert tomllib.loads(removed).get("mcp_servers", {}) == expected["mcp_servers"]
    if "ours" not in text:
        assert removed == text


def test_apply_refuses_when_the_file_changed_since_it_was_read(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = tmp_path / ".gemini" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"theme": "x"}\n')
    plan = mcp_install.plan_install("gemini", command="/bin/kioku-mesh-mcp")
    settings.write_text('{"theme": "changed by gemini"}\n')
    with pytest.raises(KiokuError, match="changed while"):
        mcp_install.apply(plan)
    assert settings.read_text() == '{"theme": "changed by gemini"}\n'
    assert list(settings.parent.glob("*.bak-*")) == []
