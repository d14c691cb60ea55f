"""Act two of `make demo`: two agents talk to kioku-mesh through MCP.

Each agent session spawns its own `kioku-mesh-mcp` over stdio, exactly as
Claude Code or Codex CLI would; both servers share the host's one store.
"""

from __future__ import annotations

import shutil
import textwrap

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


def _say(text: str) -> None:
    print("\n" + textwrap.fill(text, 78))


def _show(agent: str, tool: str, args: dict[str, object], text: str) -> None:
    shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
    print(f"\n  [{agent} via MCP] {tool}({shown})")
    print(textwrap.indent(text.rstrip(), "    "))


async def _act(env: dict[str, str]) -> None:
    server = shutil.which("kioku-mesh-mcp")
    if server is None:
        raise SystemExit("kioku-mesh-mcp is not on PATH: run `make demo`")
    gemini = dict(env, KIOKU_MESH_AGENT_FAMILY="gemini", KIOKU_MESH_CLIENT_ID="gemini-cli")
    cursor = dict(env, KIOKU_MESH_AGENT_FAMILY="cursor", KIOKU_MESH_CLIENT_ID="cursor")
    async with stdio_client(StdioServerParameters(command=server, env=gemini)) as (r1, w1), \
            stdio_client(StdioServerParameters(command=server, env=cursor)) as (r2, w2):
        async with ClientSession(r1, w1) as g, ClientSession(r2, w2) as c:
            await g.initialize()
            await c.initialize()
            _say("Wednesday. Two more agents join, this time through MCP: Gemini CLI and Cursor "
                 "each start their own kioku-mesh-mcp server; both servers use the same store.")
            args = {
                "subject": "Payments API rate limit is 100 req/s per merchant",
                "content": "The gateway enforces 100 requests/s per merchant id; bursts above "
                           "that get HTTP 429 with Retry-After. Client retries use jittered "
                           "backoff starting at 200 ms.",
                "project": "payments", "memory_type": "config", "importance": 4,
                "tags": ["rate-limit", "gateway"],
            }
            res = await g.call_tool("save_observation", args)
            _show("gemini", "save_observation", {"subject": args["subject"]},
                  res.content[0].text)
            _say("Cursor starts a session on the payments project and recalls context: it gets "
                 "Monday's decision and bug from the CLI agents and Gemini's config change.")
            res = await c.call_tool("recall_context", {"project": "payments"})
            _show("cursor", "recall_context", {"project": "payments"}, res.content[0].text)
            res = await c.call_tool("search_memory", {"query": "429 retry"})
            _show("cursor", "search_memory", {"query": "429 retry"}, res.content[0].text)


def run_mcp_act(env: dict[str, str]) -> None:
    anyio.run(_act, env)


async def _one_call(env: dict[str, str], tool: str, args: dict[str, object]) -> str:
    server = shutil.which("kioku-mesh-mcp")
    assert server is not None
    async with stdio_client(StdioServerParameters(command=server, env=env)) as (r, w):
        async with ClientSession(r, w) as session:
            await session.initialize()
            res = await session.call_tool(tool, args)
            return str(res.content[0].text)


def mcp_call(env: dict[str, str], tool: str, args: dict[str, object]) -> str:
    """One tool call in a fresh MCP session (as an agent session would)."""
    return anyio.run(_one_call, env, tool, args)
