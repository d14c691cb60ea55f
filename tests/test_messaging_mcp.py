"""Messaging through the MCP tools: two real `kioku-mesh-mcp` servers (two agent
sessions) on one host store exchange a message and an ack, and see each other
online while their servers run."""

from __future__ import annotations

import json
import time

import pytest
from mcp_helpers import connect, spawned  # noqa: F401 - spawned is used by pytestmark

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("spawned")]

A = {"KIOKU_MESH_CLIENT_ID": "alice-agent", "KIOKU_MESH_SESSION_ID": "mcp-alice-1",
     "KIOKU_MESH_AGENT_FAMILY": "claude"}
B = {"KIOKU_MESH_CLIENT_ID": "bob-agent", "KIOKU_MESH_SESSION_ID": "mcp-bob-1",
     "KIOKU_MESH_AGENT_FAMILY": "codex"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def sessions_of(conn) -> dict[str, dict]:
    data = (await conn.ok("list_agents")).structured_content
    return {s["session_id"]: s for s in data["sessions"]}


async def poll(check, timeout: float = 15.0, interval: float = 0.05):
    """Await `check()` until it is truthy (async wait_until)."""
    import anyio

    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await anyio.sleep(interval)


async def test_two_sessions_exchange_message_and_ack(km):
    async with connect(km, **A) as a:
        async with connect(km, **B) as b:
            # presence: each server registered its session in the store
            seen = await sessions_of(a)
            assert {"mcp-alice-1", "mcp-bob-1"} <= seen.keys()
            assert seen["mcp-bob-1"]["agent_id"] == "bob-agent"
            assert seen["mcp-bob-1"]["agent_family"] == "codex"
            assert seen["mcp-bob-1"]["host"] == "local"
            assert (await a.ok("list_agents")).structured_content["you"] == "mcp-alice-1"

            sent = await a.ok("send_message", body="codex, please run the migrations",
                              to_agent="bob-agent", requires_ack=True, correlation_id="job-7")
            msg_id = sent.structured_content["msg_id"]
            assert sent.structured_content["scope"] == "mesh"
            assert msg_id in sent.content[0].text

            got = (await b.ok("check_messages")).structured_content
            assert (got["session_id"], got["agent_id"]) == ("mcp-bob-1", "bob-agent")
            [message] = got["messages"]
            assert message["msg_id"] == msg_id
            assert message["body"] == "codex, please run the migrations"
            assert (message["from_agent"], message["from_session"]) == ("alice-agent",
                                                                        "mcp-alice-1")
            assert message["requires_ack"] is True and message["acked_by"] == []
            assert message["correlation_id"] == "job-7"
            assert "needs ack" in (await b.ok("check_messages")).content[0].text
            # the sender has nothing in its own inbox, and cannot ack its own message
            assert (await a.ok("check_messages")).structured_content["messages"] == []
            assert "not addressed" in await a.fail("ack_message", msg_id=msg_id)

            ack = (await b.ok("ack_message", msg_id=msg_id[:10])).structured_content
            assert ack["msg_id"] == msg_id
            assert (ack["recipient_session_id"], ack["recipient_agent_id"]) == ("mcp-bob-1",
                                                                                "bob-agent")
            after = await b.ok("check_messages")
            assert after.structured_content["messages"] == []
            assert after.content[0].text == "no unread messages"
            read = (await b.ok("check_messages", include_read=True)).structured_content
            assert [(m["msg_id"], m["acked_by"]) for m in read["messages"]] == [
                (msg_id, ["mcp-bob-1"])]

            # A's view, from the CLI as A's session: acked, and by which session
            res = km.run("msg", "status", "--json", check=True, extra_env=A)
            [status] = json.loads(res.stdout)
            assert status["msg_id"] == msg_id and status["requires_ack"] is True
            assert [(x["recipient_session_id"], x["recipient_agent_id"]) for x in status["acks"]] \
                == [("mcp-bob-1", "bob-agent")]

            # tool errors stay one line
            assert "exactly one recipient" in await b.fail("send_message", body="to nobody")
            assert "exactly one recipient" in await b.fail(
                "send_message", body="to both", to_agent="alice-agent", to_session="mcp-alice-1")
            assert "over the limit" in await b.fail("send_message", body="x" * (64 * 1024 + 1),
                                                    to_agent="alice-agent")
            assert "empty" in await b.fail("send_message", body="  ", to_agent="alice-agent")
            assert "too large" in await b.fail("send_message", body="hi", ttl_sec=10**20,
                                               to_agent="alice-agent")
            assert "invalid scope" in await b.fail("send_message", body="hi", scope="galaxy",
                                                   to_agent="alice-agent")

            # a reply to A's session, with the correlation id, and a short-lived one
            reply = await b.ok("send_message", body="migrations done", to_session="mcp-alice-1",
                               correlation_id="job-7")
            reply_id = reply.structured_content["msg_id"]
            [back] = (await a.ok("check_messages")).structured_content["messages"]
            assert (back["msg_id"], back["from_session"], back["correlation_id"]) == (
                reply_id, "mcp-bob-1", "job-7")
            await b.ok("send_message", body="expires soon", to_session="mcp-alice-1", ttl_sec=1)

            async def only_reply_left() -> bool:
                got = (await a.ok("check_messages")).structured_content["messages"]
                return [m["msg_id"] for m in got] == [reply_id]

            await poll(only_reply_left, timeout=10)
            purged = (await a.ok("purge_expired_messages")).structured_content
            assert purged == {"purged": 1}

        # B's server has stopped: it is no longer listed as online
        async def bob_gone() -> bool:
            return "mcp-bob-1" not in await sessions_of(a)

        await poll(bob_gone)
        assert "mcp-alice-1" in await sessions_of(a)
    res = km.run("msg", "who", "--json", check=True, extra_env=B)
    assert json.loads(res.stdout) == []


async def test_agent_message_acked_in_one_session_leaves_the_other(km):
    """ADR 0009 through MCP: two sessions of one agent share the agent inbox; one
    ack settles it for both, while a session message stays with its session."""
    b2 = {**B, "KIOKU_MESH_SESSION_ID": "mcp-bob-2"}
    for_agent = json.loads(km.run("msg", "send", "anyone of bob", "--to-agent", "bob-agent",
                                  "--json", check=True, extra_env=A).stdout)["msg_id"]
    for_b2 = json.loads(km.run("msg", "send", "just bob-2", "--to-session", "mcp-bob-2",
                               "--json", check=True, extra_env=A).stdout)["msg_id"]
    async with connect(km, **B) as one, connect(km, **b2) as two:
        async def unread(conn) -> list[str]:
            got = (await conn.ok("check_messages")).structured_content["messages"]
            return [m["msg_id"] for m in got]

        assert await unread(one) == [for_agent]
        assert await unread(two) == [for_agent, for_b2]
        assert "not addressed" in await one.fail("ack_message", msg_id=for_b2)
        await one.ok("ack_message", msg_id=for_agent)
        assert await unread(one) == []
        assert await unread(two) == [for_b2]
        listed = (await two.ok("list_agents")).structured_content["sessions"]
        assert {s["session_id"] for s in listed} >= {"mcp-bob-1", "mcp-bob-2"}
