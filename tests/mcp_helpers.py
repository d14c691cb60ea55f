"""Drive the real `kioku-mesh-mcp` server as a subprocess through the MCP SDK client."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp.client.stdio as sdk_stdio
import pytest
from conftest import Env
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

SERVER = Path(sys.executable).with_name("kioku-mesh-mcp")
SERVER_COMM = SERVER.name[:15]  # what the kernel records as the process name
TOOLS = {
    "save_observation",
    "search_memory",
    "get_memory",
    "recall_context",
    "delete_memory",
    "get_memory_status",
    "send_message",
    "check_messages",
    "ack_message",
    "list_agents",
    "purge_expired_messages",
}


def server_children() -> list[tuple[int, str]]:
    """(pid, state) of every kioku-mesh-mcp child of this process, zombies included."""
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == me and comm == SERVER_COMM:
            found.append((int(entry.name), state))
    return found


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every server process the SDK client starts during the test; at teardown
    each must have exited on its own (code 0 once its stdin closed) and no
    server child may be left, running or unreaped."""
    processes: list[Any] = []
    spawn = sdk_stdio._create_platform_compatible_process

    async def recording_spawn(*args: Any, **kwargs: Any) -> Any:
        process = await spawn(*args, **kwargs)
        processes.append(process)
        return process

    monkeypatch.setattr(sdk_stdio, "_create_platform_compatible_process", recording_spawn)
    yield processes
    codes = [p.returncode for p in processes]
    assert codes == [0] * len(processes), f"servers did not exit cleanly on EOF: {codes}"
    assert server_children() == [], "server processes left behind"


@dataclass
class Conn:
    """One client session on one server process."""

    session: ClientSession
    init: Any
    stderr: Any  # the server's stderr, a temporary file

    async def call(self, tool: str, **arguments: Any) -> Any:
        return await self.session.call_tool(tool, arguments)

    async def ok(self, tool: str, **arguments: Any) -> Any:
        result = await self.call(tool, **arguments)
        assert not result.is_error, result.content[0].text
        return result

    async def fail(self, tool: str, **arguments: Any) -> str:
        """The one-line error text of a call that must fail as a tool error."""
        result = await self.call(tool, **arguments)
        assert result.is_error, f"{tool}{arguments} should fail: {result.content}"
        assert len(result.content) == 1
        text = result.content[0].text
        assert text.strip() and "\n" not in text, repr(text)
        assert "Traceback" not in text
        return text

    async def status(self) -> dict[str, Any]:
        return (await self.ok("get_memory_status")).structured_content

    async def save(self, content: str, subject: str, **fields: Any) -> str:
        result = await self.ok("save_observation", content=content, subject=subject, **fields)
        return result.structured_content["observation_id"]

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()


@asynccontextmanager
async def connect(env: Env, cwd: Path | None = None, **extra_env: str) -> AsyncIterator[Conn]:
    """Start the server with env's environment (plus extra_env), initialise a session."""
    params = StdioServerParameters(
        command=str(SERVER), env={**env.env, **extra_env}, cwd=str(cwd or env.home)
    )
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                yield Conn(session, init, errlog)
