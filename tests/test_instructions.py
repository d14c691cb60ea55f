"""The managed instruction block: its text, and its edits of a file's other bytes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kioku_mesh.api import instructions as ins
from kioku_mesh.core.errors import ConfigError

SERVER_PY = Path(__file__).resolve().parents[1] / "src" / "kioku_mesh" / "mcp" / "server.py"
P = Path("AGENTS.md")
# Text a user might have in an instruction file: any characters, several line endings.
user_text = st.text(st.sampled_from(list("ab #-\t\r\n\x0cü\u2028")), max_size=60).filter(
    lambda t: "kioku-mesh" not in t)


@pytest.mark.parametrize("client", sorted(ins.FILE_NAMES))
def test_block_is_small_and_names_real_tools(client):
    block = ins.block_text(client)
    assert len(block) < 1500
    assert block.startswith(ins.START + "\n") and block.endswith(ins.END + "\n")
    named = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", re.sub(r"mcp_+kioku[-_]mesh_*", " ", block)))
    assert {"recall_context", "search_memory", "get_memory", "save_observation",
            "check_messages", "ack_message"} <= named
    # every other snake_case word is a tool or one of save_observation's arguments
    assert named <= mcp_tools() | {"memory_type", "source_files"}, named - mcp_tools()


def mcp_tools() -> set[str]:
    """The names of the functions server.py registers with @server.tool(...)."""
    names = set()
    for node in ast.walk(ast.parse(SERVER_PY.read_text())):
        if isinstance(node, ast.AsyncFunctionDef) and any(
                isinstance(d, ast.Call) and ast.unparse(d.func) == "server.tool"
                for d in node.decorator_list):
            names.add(node.name)
    return names


def test_block_names_tools_as_each_client_shows_them():
    assert "mcp__kioku-mesh__recall_context" in ins.block_text("claude-code")
    assert "mcp__kioku_mesh tool" in ins.block_text("codex")
    assert "mcp_kioku-mesh_recall_context" in ins.block_text("gemini")


@given(user_text)
def test_add_then_remove_gives_back_the_text(text):
    block = ins.block_text("codex")
    added = ins.with_block(text, block, P)
    assert added.startswith(text)
    assert ins.with_block(added, block, P) == added  # a second install changes nothing
    removed = ins.without_block(added, P)
    # A last line without a newline gets one, in the file's style (the block needs a
    # line of its own): the one byte that does not come back.
    newline = "\r\n" if "\r\n" in text else "\n"
    assert removed == (text if text == "" or text.endswith("\n") else text + newline)


@given(user_text, user_text)
def test_update_in_place_keeps_every_byte_around_the_block(head, tail):
    head = head if head == "" or head.endswith("\n") else head + "\n"
    tail = "after\n" + tail  # (a block at the very end takes the blank line before it along)
    old = ins.block_text("gemini").replace("recall_context", "recall")
    text = head + old + tail
    new = ins.with_block(text, ins.block_text("gemini"), P)
    assert new == head + ins.block_text("gemini") + tail
    assert ins.without_block(new, P) == head + tail


@pytest.mark.parametrize("text", [
    ins.START + "\nno end\n",
    "x\n" + ins.END + "\n",
    ins.END + "\n" + ins.START + "\n",
    ins.block_text("codex") + ins.block_text("codex"),
])
def test_broken_or_doubled_block_is_an_error(text):
    with pytest.raises(ConfigError, match="broken kioku-mesh block"):
        ins.with_block(text, ins.block_text("codex"), P)


def test_user_level_paths_follow_the_clients_own_variables(tmp_path):
    home = tmp_path
    assert ins.user_path("claude-code", {}, home) == home / ".claude" / "CLAUDE.md"
    assert ins.user_path("claude-code", {"CLAUDE_CONFIG_DIR": str(home / "c")}, home) == (
        home / "c" / "CLAUDE.md")
    assert ins.user_path("gemini", {}, home) == home / ".gemini" / "GEMINI.md"
    assert ins.user_path("codex", {"CODEX_HOME": str(home / "x")}, home) == home / "x" / "AGENTS.md"
    # Codex reads AGENTS.override.md instead when it is not empty: the block goes there.
    (home / ".codex").mkdir()
    (home / ".codex" / "AGENTS.override.md").write_text("")
    assert ins.user_path("codex", {}, home) == home / ".codex" / "AGENTS.md"
    (home / ".codex" / "AGENTS.override.md").write_text("temporary rules\n")
    assert ins.user_path("codex", {}, home) == home / ".codex" / "AGENTS.override.md"
