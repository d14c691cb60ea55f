"""What clients decide from before calling a tool (annotations, titles) and what some of them
give the model afterwards (Gemini: the text part only), seen through a real MCP client."""

from __future__ import annotations

import pytest
from mcp_helpers import TOOLS, connect, spawned  # noqa: F401 - spawned is used by pytestmark

from kioku_mesh.api.tool_approvals import READ_TOOLS

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("spawned")]

DESTRUCTIVE = {"delete_memory", "purge_expired_messages"}
IDEMPOTENT_WRITES = {"delete_memory", "ack_message", "purge_expired_messages"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_every_tool_is_annotated_for_the_clients(km):
    async with connect(km) as c:
        tools = {t.name: t for t in (await c.session.list_tools()).tools}
    assert set(tools) == TOOLS
    reads = set()
    for name, tool in tools.items():
        notes = tool.annotations
        assert notes is not None, name
        assert tool.title and notes.title == tool.title, name
        assert notes.open_world_hint is False, name  # our store and our own mesh only
        if notes.read_only_hint:
            reads.add(name)
            assert notes.destructive_hint is False and notes.idempotent_hint is True, name
        else:
            assert notes.read_only_hint is False, name  # said, not left to a default
            assert notes.destructive_hint is (name in DESTRUCTIVE), name
            assert notes.idempotent_hint is (name in IDEMPOTENT_WRITES), name
    # What `mcp install --approve-reads` approves is exactly what the server calls read-only.
    assert reads == set(READ_TOOLS)


async def test_text_parts_carry_what_the_structured_part_has(km):
    async with connect(km, KIOKU_MESH_AGENT_FAMILY="gemini", KIOKU_MESH_CLIENT_ID="gemini-cli") as c:
        old = await c.save("first take", "Cache keys include the tenant", project="web")
        res = await c.ok("save_observation", content="keys are tenant/user/path",
                         subject="Cache key layout", summary="Keys are tenant, user, path.",
                         project="web", references=["#41"], supersedes=[old],
                         ttl_sec=3600, tags=["cache"], source_files=["web/cache.py"])
        oid = res.structured_content["observation_id"]
        text = (await c.ok("get_memory", id=oid)).content[0].text
        for fact in ("Cache key layout", "summary: Keys are tenant, user, path.",
                     "references: #41", f"supersedes: {old}", "expires: ", "tags: cache",
                     "files: web/cache.py", "project web", "by gemini/gemini-cli",
                     "keys are tenant/user/path"):
            assert fact in text, (fact, text)

        empty = (await c.ok("recall_context", project="nosuch")).content[0].text
        assert "no memories in project 'nosuch'" in empty and "web" in empty

        status = await c.ok("get_memory_status")
        info = status.structured_content
        stext = status.content[0].text
        for fact in (info["db_path"], f"visibility {info['identity']['default_visibility']}",
                     "mesh node not running", f"session {info['identity']['session_id']}"):
            assert fact in stext, (fact, stext)

        deleted = (await c.ok("delete_memory", id=oid, reason="superseded by design")).content
        assert deleted[0].text == f"deleted {oid} (superseded by design)"
