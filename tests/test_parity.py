"""Issue 12 §5: save counts per agent and project, and agent transcript
residue refused."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, save_id
from mcp_helpers import connect, spawned  # noqa: F401 - spawned checks every server exits


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ------------------------------------------------------------- save counts


@pytest.mark.anyio
@pytest.mark.usefixtures("spawned")
async def test_save_counts_per_agent_family_and_project_in_status_and_mcp(km):
    save_id(km, "one", "One", "-p", "alpha", extra_env={"KIOKU_MESH_AGENT_FAMILY": "codex"})
    save_id(km, "two", "Two", "-p", "alpha", extra_env={"KIOKU_MESH_AGENT_FAMILY": "codex"})
    save_id(km, "three", "Three", "-p", "beta", extra_env={"KIOKU_MESH_AGENT_FAMILY": "claude"})
    info = json.loads(km.run("status", "--json", check=True).stdout)
    assert info["saves_7d"] == [
        {"agent_family": "codex", "project": "alpha", "saves": 2},
        {"agent_family": "claude", "project": "beta", "saves": 1},
    ]
    text = km.run("status", check=True).stdout
    assert "saves, last 7 days" in text and "2  codex / alpha" in text
    async with connect(km) as c:
        result = await c.ok("get_memory_status")
        assert result.structured_content["saves_7d"][0]["saves"] == 2
        assert "codex/alpha 2" in result.content[0].text  # some clients show the model only text


# ------------------------------------------------------------------ residue

RESIDUE = [
    '<function_calls>\n<invoke name="save_observation">\n<parameter name="subject">x</parameter>',
    '</invoke>\n</function_calls>',
    '{"type": "tool_use", "id": "toolu_01", "name": "search", "input": {}}',
    'assistant said: {"tool_calls": [{"id": "call_1", "function": {"name": "f"}}]}',
    "<tool_call>{\"name\": \"get_weather\"}</tool_call>",
    "<|im_start|>assistant\nok<|im_end|>",
    "Human: fix the bug\n\nAssistant: I will look at the code",
]


@pytest.mark.parametrize("content", RESIDUE)
def test_tool_call_fragments_and_transcripts_are_refused(km, content):
    res = km.run("save", content, "-s", "Looks like residue")
    assert_one_line_error(res, 2, contains="tool-call markup or transcript")
    assert json.loads(km.run("status", "--json", check=True).stdout)["counts"]["total"] == 0


def test_markup_in_code_is_a_memory_about_markup(km):
    ok = km.run("save", "The parser chokes on `<invoke name=\"x\">` tags:\n```\n<function_calls>\n```",
                "-s", "Parser bug with tool markup", check=True)
    assert ok.returncode == 0
    assert km.run("save", "Use the Human: prefix in prompts", "-s", "Prompt style",
                  check=True).returncode == 0


@pytest.mark.anyio
@pytest.mark.usefixtures("spawned")
async def test_mcp_refuses_residue_too(km):
    async with connect(km) as c:
        text = await c.fail("save_observation", content=RESIDUE[0], subject="residue")
        assert "tool-call markup" in text
