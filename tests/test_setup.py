"""`kioku-mesh setup` and doctor's client checks: the real CLI on real config files
in a temporary HOME. PATH is a directory the test controls, so no agent binary of
the machine running the tests is found or run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kioku_mesh.api import instructions
from kioku_mesh.api.client_detect import SETUP_CLIENTS
from kioku_mesh.cli.setup_commands import SETUP_CLIENTS as CLI_SETUP_CLIENTS

pytestmark = pytest.mark.skipif(os.name == "nt", reason="fake client binaries are shell scripts")
SERVER = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "kioku-mesh-mcp")

CODEX_TOML = '''\
# my codex config
model = "o3"

[tui]
notifications = true
'''
GEMINI_JSON = '{"theme": "Dracula", "mcpServers": {"other": {"command": "npx"}}}'  # compact
AGENTS_MD = "# House rules\n\nRun the tests before you commit.\n"


def path_dir(km, *binaries: str) -> Path:
    folder = km.home.parent / "bin"
    folder.mkdir(exist_ok=True)
    for name in binaries:
        script = folder / name
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
    return folder


def setup(km, *args: str, binaries: tuple[str, ...] = (), cwd: Path | None = None, **env: str):
    extra = {"PATH": str(path_dir(km, *binaries)), "CLAUDE_CONFIG_DIR": "", "CODEX_HOME": "",
             **env}
    return km.run("setup", *args, extra_env=extra, cwd=cwd)


def setup_json(km, *args: str, **kw: Any) -> dict[str, Any]:
    proc = setup(km, *args, "--json", **kw)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def doctor(km, cwd: Path | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
    proc = km.run("doctor", "--json", extra_env={"PATH": str(path_dir(km))}, cwd=cwd)
    checks = json.loads(proc.stdout)
    return proc.returncode, {c["name"]: c for c in checks}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, backups left out."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".bak-" not in p.name}


def two_clients(km) -> dict[str, bytes]:
    """Codex and Gemini installed, each with a config of the user's own."""
    (km.home / ".codex").mkdir()
    (km.home / ".codex" / "config.toml").write_text(CODEX_TOML)
    (km.home / ".codex" / "AGENTS.md").write_text(AGENTS_MD)
    (km.home / ".gemini").mkdir()
    (km.home / ".gemini" / "settings.json").write_text(GEMINI_JSON)
    return tree(km.home)


def steps(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(s["client"], s["kind"]): s for s in report["steps"]}


# ------------------------------------------------------------------ detection and plan


def test_cli_and_api_know_the_same_clients():
    assert CLI_SETUP_CLIENTS == SETUP_CLIENTS


def test_detection_by_config_dir_and_binary(km, tmp_path):
    (km.home / ".claude").mkdir()
    codex_home = tmp_path / "elsewhere-codex"
    codex_home.mkdir()
    report = setup_json(km, "--dry-run", binaries=("gemini",), CODEX_HOME=str(codex_home))
    found = {d["client"]: d for d in report["detected"]}
    assert [c for c in SETUP_CLIENTS if found[c]["found"]] == ["claude-code", "codex", "gemini"]
    assert found["claude-code"]["evidence"] == ["~/.claude exists"]
    assert found["codex"]["evidence"] == [f"{codex_home} exists"]
    assert found["gemini"]["evidence"][0].startswith("`gemini` on PATH")
    assert report["clients"] == ["claude-code", "codex", "gemini"]
    # Codex's files follow CODEX_HOME; nothing was written anywhere.
    plan = steps(report)
    assert plan["codex", "mcp"]["path"] == str(codex_home / "config.toml")
    assert plan["codex", "instructions"]["path"] == str(codex_home / "AGENTS.md")
    assert plan["claude-code", "instructions"]["path"] == str(km.home / ".claude" / "CLAUDE.md")
    assert not report["applied"] and all(not s["changed"] for s in report["steps"])
    assert list(codex_home.iterdir()) == [] and not (km.home / ".gemini").exists()


def test_nothing_installed_sets_up_nothing(km):
    proc = setup(km, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "found 0 coding agents: none (use --client NAME" in proc.stdout
    assert tree(km.home) == {}


def test_dry_run_shows_each_diff_and_writes_nothing(km):
    before = two_clients(km)
    proc = setup(km, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "found 2 coding agents:" in out and "Codex CLI       ~/.codex exists" in out
    assert "not found: Claude Code, Cursor, Claude Desktop" in out
    for line in ("mcp           add        ~/.codex/config.toml",
                 "instructions  add        ~/.codex/AGENTS.md",
                 "mcp           add        ~/.gemini/settings.json",
                 "instructions  add        ~/.gemini/GEMINI.md"):
        assert line in out, out
    assert "+[mcp_servers.kioku-mesh]" in out and f'+command = "{SERVER}"' in out
    assert f"+++ {km.home / '.gemini' / 'GEMINI.md'}" in out and "+<!-- kioku-mesh:end -->" in out
    assert proc.stderr == "dry run: nothing written\n"
    assert tree(km.home) == before and not km.state_dir.exists()


def test_without_yes_and_without_a_terminal_it_is_a_preview(km):
    before = two_clients(km)
    proc = setup(km)
    assert proc.returncode == 0, proc.stderr
    assert "instructions  add" in proc.stdout
    assert proc.stdout.endswith("nothing written yet: add --yes to go ahead (on a terminal, setup asks)\n")
    report = setup_json(km)
    assert report["applied"] is False and not any(s["changed"] for s in report["steps"])
    assert any("trust" in note for note in report["next_steps"])  # what to do once applied
    assert tree(km.home) == before and not km.state_dir.exists()


def test_on_a_terminal_it_asks(km):
    from test_cli_commands import _run_in_pty

    before = two_clients(km)
    env = {"PATH": str(path_dir(km)), "CODEX_HOME": "", "NO_COLOR": "1"}
    code, out = _run_in_pty(km, "setup", "--client", "codex", extra_env=env, typed=b"n\n")
    assert "apply these changes? [y/N]" in out and "nothing changed" in out and code == 1
    assert tree(km.home) == before
    code, out = _run_in_pty(km, "setup", "--client", "codex", extra_env=env, typed=b"y\n")
    assert code == 0 and "added hooks for Codex CLI: ~/.codex/hooks.json" in out
    assert (km.home / ".codex" / "hooks.json").exists()


def test_unknown_client_is_a_usage_error(km):
    proc = setup(km, "--client", "vim")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "invalid choice" in proc.stderr


# ------------------------------------------------------------------ apply, again, uninstall


def test_apply_then_unchanged_then_uninstall_restores_the_original_bytes(km):
    before = two_clients(km)
    proc = setup(km, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "added mcp for Codex CLI: ~/.codex/config.toml (backup ~/.codex/config.toml.bak-" in proc.stdout
    assert "restart Codex CLI, then run `codex mcp list`" in proc.stdout
    assert "Codex runs a new hook only once you trust it" in proc.stdout
    assert json.loads((km.home / ".codex" / "hooks.json").read_text())["hooks"]["SessionStart"]
    codex = tomllib.loads((km.home / ".codex" / "config.toml").read_text())
    assert codex["model"] == "o3" and codex["tui"] == {"notifications": True}
    assert codex["mcp_servers"]["kioku-mesh"]["command"] == SERVER
    gemini = json.loads((km.home / ".gemini" / "settings.json").read_text())
    assert gemini["theme"] == "Dracula" and set(gemini["mcpServers"]) == {"other", "kioku-mesh"}
    agents = (km.home / ".codex" / "AGENTS.md").read_text()
    assert agents.startswith(AGENTS_MD + "\n<!-- kioku-mesh:start")
    assert agents.endswith("<!-- kioku-mesh:end -->\n")
    assert (km.home / ".gemini" / "GEMINI.md").read_text() == instructions.block_text("gemini")

    written = tree(km.home)
    mtimes = {p: p.stat().st_mtime_ns for p in km.home.rglob("*") if p.is_file()}
    again = setup_json(km, "--yes")
    assert {s["action"] for s in again["steps"]} == {"unchanged"} and not again["applied"]
    assert tree(km.home) == written
    assert {p: p.stat().st_mtime_ns for p in km.home.rglob("*") if p.is_file()} == mtimes

    dry = setup(km, "--uninstall", "--dry-run")
    assert "restore       original   ~/.codex/config.toml" in dry.stdout
    assert "restore       delete     ~/.gemini/GEMINI.md" in dry.stdout
    assert tree(km.home) == written
    proc = setup(km, "--uninstall", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "restored the original bytes for Gemini CLI: ~/.gemini/settings.json" in proc.stdout
    assert "deleted ~/.gemini/GEMINI.md for Gemini CLI (setup had created it)" in proc.stdout
    assert tree(km.home) == before  # byte for byte, and GEMINI.md (which setup created) is gone
    assert not (km.state_dir / "setup-manifest.json").exists()
    assert not any(s["changed"] for s in setup_json(km, "--uninstall", "--yes")["steps"])
    assert tree(km.home) == before


def test_uninstall_after_the_user_edited_takes_out_only_ours(km):
    two_clients(km)
    assert setup(km, "--yes").returncode == 0
    gemini_md = km.home / ".gemini" / "GEMINI.md"
    gemini_md.write_text(gemini_md.read_text() + "\n# My own notes\nUse tabs.\n")
    settings = km.home / ".gemini" / "settings.json"
    data = json.loads(settings.read_text())
    data["theme"] = "Light"
    settings.write_text(json.dumps(data, indent=4) + "\n")
    report = setup_json(km, "--uninstall", "--yes")
    kinds = {(s["client"], s["kind"]) for s in report["steps"] if s["changed"]}
    assert kinds == {("codex", "restore"), ("gemini", "mcp"), ("gemini", "hooks"),
                     ("gemini", "instructions")}
    # The block went, with the blank line before it; the user's lines stayed.
    assert gemini_md.read_text() == "\n# My own notes\nUse tabs.\n"
    assert json.loads(settings.read_text()) == {"theme": "Light", "mcpServers": {
        "other": {"command": "npx"}}}
    assert (km.home / ".codex" / "config.toml").read_text() == CODEX_TOML


def test_instruction_block_is_updated_in_place(km):
    (km.home / ".codex").mkdir()
    agents = km.home / ".codex" / "AGENTS.md"
    old_block = instructions.block_text("codex").replace("call recall_context", "call recall")
    head, tail = "# Mine\r\n\r\nBefore.\r\n\r\n", "\r\nAfter, by hand.\r\n"
    agents.write_bytes((head + old_block.replace("\n", "\r\n") + tail).encode())
    code, checks = doctor(km)
    assert code == 1 and not checks["codex instructions"]["ok"]
    assert "differs from what this version writes" in checks["codex instructions"]["detail"]
    report = setup_json(km, "--yes", "--client", "codex", "--no-hooks")
    assert steps(report)["codex", "instructions"]["action"] == "replace"
    new = agents.read_bytes().decode()
    assert new == head + instructions.block_text("codex").replace("\n", "\r\n") + tail
    code, checks = doctor(km)
    assert checks["codex instructions"]["ok"] and checks["codex mcp server"]["ok"], checks
    # Uninstall takes out the block (the file was there before: surgical, CRLF kept).
    assert setup(km, "--uninstall", "--yes", "--client", "codex").returncode == 0
    assert agents.read_bytes().decode() == head + tail


def test_a_broken_block_is_left_alone(km):
    (km.home / ".gemini").mkdir()
    gemini_md = km.home / ".gemini" / "GEMINI.md"
    gemini_md.write_text("notes\n" + instructions.START + "\nhalf a block, no end marker\n")
    before = tree(km.home)
    proc = setup(km, "--yes")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "broken kioku-mesh block" in proc.stderr and str(gemini_md) in proc.stderr
    assert tree(km.home) == before


def test_project_level_instead_of_user_level(km):
    (km.home / ".codex").mkdir()
    (km.home / ".claude").mkdir()
    repo = km.home / "src" / "app"
    (repo / ".git").mkdir(parents=True)
    (repo / "pkg").mkdir()
    (repo / "CLAUDE.md").write_text("# app\n")
    report = setup_json(km, "--yes", "--project-level", "--no-hooks", cwd=repo / "pkg")
    assert report["project_dir"] == str(repo)
    assert (repo / "AGENTS.md").read_text() == instructions.block_text("codex")
    assert (repo / "CLAUDE.md").read_text() == "# app\n\n" + instructions.block_text("claude-code")
    assert not (km.home / ".codex" / "AGENTS.md").exists()
    assert not (km.home / ".claude" / "CLAUDE.md").exists()
    assert "commit the instruction files in" in " ".join(report["next_steps"])
    # A user-level run puts the block in the user-level files, beside the project's.
    user = setup_json(km, "--yes", "--client", "codex", "--no-hooks")
    assert steps(user)["codex", "instructions"]["path"] == str(km.home / ".codex" / "AGENTS.md")
    code, checks = doctor(km, cwd=repo)
    assert code == 0, checks
    assert setup(km, "--uninstall", "--yes").returncode == 0  # the manifest knows the project
    assert (repo / "CLAUDE.md").read_text() == "# app\n" and not (repo / "AGENTS.md").exists()
    assert not (km.home / ".codex" / "AGENTS.md").exists()


# ------------------------------------------------------------------ doctor


def test_doctor_finds_a_deleted_server_a_broken_hook_and_a_lost_block(km, tmp_path):
    two_clients(km)
    # The entry points at an install that later goes away (a rebuilt virtualenv, say).
    moved = tmp_path / "old-venv" / "kioku-mesh-mcp"
    moved.parent.mkdir()
    shutil.copy2(SERVER, moved)
    settings = km.home / ".gemini" / "settings.json"
    assert setup(km, "--yes").returncode == 0
    settings.write_text(settings.read_text().replace(SERVER, str(moved)))
    code, checks = doctor(km)
    assert code == 0, checks
    assert checks["gemini mcp server"]["detail"].startswith(f"{moved} (in {settings})")
    assert checks["codex hooks"]["detail"].startswith("3 ran with exit 0, slowest ")
    assert checks["gemini hooks"]["ok"] and checks["codex instructions"]["ok"]

    moved.unlink()
    hooks = km.home / ".codex" / "hooks.json"
    cli = os.path.join(os.path.dirname(SERVER), "kioku-mesh")
    hooks.write_text(hooks.read_text().replace(f"{cli} hook codex Stop", "/gone/kioku-mesh hook codex Stop"))
    (km.home / ".codex" / "AGENTS.md").write_text(AGENTS_MD)  # the block edited away by hand
    code, checks = doctor(km)
    assert code == 1
    assert f"{moved} (in {settings}) no longer exists" in checks["gemini mcp server"]["detail"]
    assert not checks["codex hooks"]["ok"] and checks["codex hooks"]["detail"].startswith("Stop: exit 127")
    assert "it is gone" in checks["codex instructions"]["detail"]
    assert checks["codex mcp server"]["ok"] and checks["gemini hooks"]["ok"]
    # setup repairs all three.
    report = setup_json(km, "--yes")
    assert {k for k, s in steps(report).items() if s["changed"]} == {
        ("gemini", "mcp"), ("codex", "hooks"), ("codex", "instructions")}
    assert doctor(km)[0] == 0


def test_doctor_names_an_installed_client_that_is_not_wired(km):
    (km.home / ".gemini").mkdir()
    code, checks = doctor(km)
    assert code == 0
    assert "`kioku-mesh setup --client gemini`" in checks["gemini"]["detail"]
    assert "codex" not in checks  # not installed, nothing of ours: not mentioned


# ------------------------------------------------------------------ Claude Code's own CLI


def test_claude_code_mcp_goes_through_its_cli_and_the_rest_through_files(km):
    log = km.home.parent / "claude-calls.log"
    folder = path_dir(km)
    (folder / "claude").write_text(f'#!/bin/sh\necho "$@" >> "{log}"\n')
    (folder / "claude").chmod(0o755)
    proc = setup(km, "--dry-run")
    assert "Claude Code     `claude` on PATH" in proc.stdout
    assert "mcp           add        ~/.claude.json (via the `claude` CLI)" in proc.stdout
    assert not log.exists()
    assert setup(km, "--yes").returncode == 0
    assert log.read_text().startswith("mcp add --scope user kioku-mesh -e ")
    assert (km.home / ".claude" / "CLAUDE.md").read_text() == instructions.block_text("claude-code")
    # What `claude mcp add` would have written (the fake only logs).
    entry = {"type": "stdio", "command": SERVER, "args": [], "env": {}}
    (km.home / ".claude.json").write_text(json.dumps({"mcpServers": {"kioku-mesh": entry}}))
    assert setup(km, "--uninstall", "--yes").returncode == 0
    assert log.read_text().splitlines()[-1] == "mcp remove --scope user kioku-mesh"
    assert not (km.home / ".claude" / "CLAUDE.md").exists()


def test_approve_reads_is_opt_in_and_uninstall_takes_the_approvals_out(km):
    (km.home / ".codex").mkdir()
    claude_settings = km.home / ".claude" / "settings.json"
    claude_settings.parent.mkdir()
    claude_settings.write_text(json.dumps({"permissions": {"allow": ["Bash(ls)"]}}, indent=2) + "\n")
    plain = setup_json(km, "--dry-run")
    assert ("claude-code", "approvals") not in steps(plain)
    preview = setup(km, "--approve-reads")
    assert "--approve-reads (claude-code, codex): the agent may call kioku-mesh's read-only" in preview.stdout
    report = setup_json(km, "--approve-reads", "--yes")
    assert steps(report)["claude-code", "approvals"]["changed"]
    allow = json.loads(claude_settings.read_text())["permissions"]["allow"]
    assert allow[0] == "Bash(ls)" and "mcp__kioku-mesh__search_memory" in allow
    assert "mcp__kioku-mesh__save_observation" not in allow
    codex = tomllib.loads((km.home / ".codex" / "config.toml").read_text())
    assert codex["mcp_servers"]["kioku-mesh"]["tools"]["search_memory"] == {"approval_mode": "approve"}
    assert "save_observation" not in codex["mcp_servers"]["kioku-mesh"]["tools"]
    # The user changes the settings file afterwards: uninstall takes out only ours.
    data = json.loads(claude_settings.read_text())
    data["model"] = "opus"
    claude_settings.write_text(json.dumps(data, indent=2) + "\n")
    assert setup(km, "--uninstall", "--yes").returncode == 0
    assert json.loads(claude_settings.read_text()) == {"permissions": {"allow": ["Bash(ls)"]},
                                                       "model": "opus"}
    assert not (km.home / ".codex" / "config.toml").exists()
