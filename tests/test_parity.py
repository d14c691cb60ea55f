"""Issue 12 §5: project renames (replicated), save counts per agent and
project, and agent transcript residue refused."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, save_id, search_ids
from mcp_helpers import connect, spawned  # noqa: F401 - spawned checks every server exits
from mesh_helpers import wait_until

from kioku_mesh.core.projects import ProjectRename, names_of, resolve

# ----------------------------------------------------------------- renames


def test_renamed_project_keeps_its_history_in_search_recall_and_new_saves(km):
    old = save_id(km, "Refunds go through the ledger", "Refund path", "-p", "payments")
    other = save_id(km, "Unrelated", "Infra note", "-p", "infra")
    res = km.run("project", "rename", "payments", "billing", check=True)
    assert "'payments'" in res.stdout and "'billing'" in res.stdout
    new = json.loads(km.run("save", "Invoices are immutable", "-s", "Invoices", "-p", "payments",
                            "--json", check=True).stdout)["observation"]
    assert new["project"] == "billing"  # a save under the old name goes to the new one
    assert set(search_ids(km, "-p", "billing")) == {old, new["observation_id"]}
    assert set(search_ids(km, "-p", "payments")) == {old, new["observation_id"]}
    assert set(search_ids(km, "ledger", "-p", "billing")) == {old}
    assert other not in search_ids(km, "-p", "billing")
    recall = km.run("recall", "-p", "billing", check=True).stdout
    assert "Refund path" in recall and "Invoices" in recall and "Infra note" not in recall
    listed = json.loads(km.run("project", "list", "--json", check=True).stdout)
    assert {"project": "billing", "memories": 2, "old_names": ["payments"]} in listed
    assert "billing: 2 memories (was 'payments')" in km.run("project", "list", check=True).stdout
    # Renaming back undoes it; a stale or unknown name is refused.
    assert_one_line_error(km.run("project", "rename", "payments", "x"), 2, contains="already")
    assert_one_line_error(km.run("project", "rename", "nosuch", "x"), 1, contains="no memories")
    km.run("project", "rename", "billing", "payments", check=True)
    assert set(search_ids(km, "-p", "payments")) == {old, new["observation_id"]}


def test_rename_order_is_the_same_on_every_host():
    a = ProjectRename("1" * 32, "a", "b", "2026-01-01T00:00:00.000000Z")
    b = ProjectRename("2" * 32, "b", "c", "2026-01-02T00:00:00.000000Z")
    back = ProjectRename("3" * 32, "c", "a", "2026-01-03T00:00:00.000000Z")
    assert resolve([b, a]) == resolve([a, b]) == {"a": "c", "b": "c"}
    assert names_of("b", [a, b]) == ["c", "a", "b"]
    assert resolve([back, a, b]) == {"b": "a", "c": "a"}
    with pytest.raises(ValueError):
        ProjectRename.from_wire({"rename_id": "4" * 32, "old": "x", "new": "x",
                                 "created_at": "2026-01-01T00:00:00Z"})


def test_a_rename_replicates_and_search_on_the_other_host_honours_it(cluster):
    hub, spoke = cluster.connected_pair()
    oid = spoke.save("kept under the old name", "old name memory", "-p", "payments")
    wait_until(lambda: oid in hub.obs_ids(), 10)
    hub.run("project", "rename", "payments", "billing")

    def spoke_follows() -> bool:
        listed = json.loads(spoke.run("project", "list", "--json").stdout)
        return any(e["project"] == "billing" and e["old_names"] == ["payments"] for e in listed)

    wait_until(spoke_follows, 15)
    found = json.loads(spoke.run("search", "-p", "billing", "--json").stdout)["hits"]
    assert [h["observation_id"] for h in found] == [oid]
    # A host that was offline during the rename catches up on reconnect.
    spoke.node.stop()
    hub.run("project", "rename", "billing", "ledger")
    spoke.node.start()
    wait_until(lambda: any(e["project"] == "ledger"
                           for e in json.loads(spoke.run("project", "list", "--json").stdout)), 20)
    spoke.node.stop()
    hub.node.stop()


def test_a_rename_crosses_a_secured_hub_with_access_control(cluster):
    """In a secured mesh any enrolled peer may rename (project names are
    mesh-wide): the hub's access control lets kioku/projects/** through."""
    from test_security_mesh import connected, secured_hub, secured_spoke

    hub = secured_hub(cluster)
    alice = secured_spoke(cluster, "alice", hub, "alice")
    bob = secured_spoke(cluster, "bob", hub, "bob")
    for host in (hub, alice, bob):
        host.node.start()
    connected(hub, alice, bob)
    oid = bob.save("a mesh memory under the old name", "old", "-p", "payments")
    wait_until(lambda: oid in alice.obs_ids(), 20)
    alice.run("project", "rename", "payments", "billing")

    def follows(host) -> bool:
        found = json.loads(host.run("search", "-p", "billing", "--json").stdout)["hits"]
        return [h["observation_id"] for h in found] == [oid]

    wait_until(lambda: follows(hub) and follows(bob), 20)
    for host in (alice, bob, hub):
        host.node.stop()


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
