"""The server's stdio as a raw pipe: stdout carries JSON-RPC and nothing else, and
a server that cannot start says why on one stderr line, with nothing on stdout."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from typing import Any

import mcp_types
import pytest
from mcp_helpers import SERVER, TOOLS, server_children

TIMEOUT = 30


def _initialize(rid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": "initialize",
            "params": {"protocolVersion": mcp_types.LATEST_PROTOCOL_VERSION, "capabilities": {},
                       "clientInfo": {"name": "raw-test", "version": "0"}}}


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def _request(rid: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, **({"params": params} if params else {})}


def _tool(rid: int, name: str, **arguments: Any) -> dict[str, Any]:
    return _request(rid, "tools/call", {"name": name, "arguments": arguments})


def _frame(message: dict[str, Any] | str) -> bytes:
    return (message if isinstance(message, str) else json.dumps(message)).encode() + b"\n"


def _jsonrpc(line: bytes) -> dict[str, Any]:
    """One stdout line as a JSON-RPC 2.0 response or notification (asserting it is one)."""
    assert line.endswith(b"\n"), line
    message = json.loads(line)
    assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", line
    if "id" in message:
        assert ("result" in message) != ("error" in message), line
    else:
        assert isinstance(message.get("method"), str), line
    return message


class RawServer:
    """The server on plain pipes; a thread moves stdout lines into a queue."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self.proc = subprocess.Popen([str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd)
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.seen: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, message: dict[str, Any] | str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(_frame(message))
        self.proc.stdin.flush()

    def response(self, rid: int) -> dict[str, Any]:
        """Wait for the response to request rid (notifications in between are checked too)."""
        while True:
            line = self.lines.get(timeout=TIMEOUT)
            assert line is not None, f"stdout closed before the response to {rid}"
            self.seen.append(line)
            message = _jsonrpc(line)
            if message.get("id") == rid:
                return message

    def finish(self) -> tuple[list[bytes], int, str]:
        """Close stdin; the rest of stdout, the exit code and stderr."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        rest = []
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            rest.append(line)
        code = self.proc.wait(timeout=TIMEOUT)
        self._reader.join(timeout=TIMEOUT)
        stderr = self.proc.stderr.read().decode("utf-8", "replace")
        self.proc.stderr.close()
        self.proc.stdout.close()
        return rest, code, stderr

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)


@pytest.fixture
def raw_server(km):
    servers: list[RawServer] = []

    def start(**extra_env: str) -> RawServer:
        server = RawServer({**km.env, **extra_env}, str(km.home))
        servers.append(server)
        return server

    yield start
    for server in servers:  # only does anything when the test failed half-way
        server.kill()
    assert server_children() == []


@pytest.mark.parametrize("debug", ["", "1"])
def test_stdout_is_protocol_only_in_lock_step(raw_server, debug):
    server = raw_server(KIOKU_MESH_DEBUG=debug)
    server.send(_initialize())
    init = server.response(1)["result"]
    assert init["serverInfo"]["name"] == "kioku-mesh" and init["instructions"]
    server.send(INITIALIZED)
    server.send(_request(2, "tools/list"))
    assert len(server.response(2)["result"]["tools"]) == len(TOOLS)
    server.send(_tool(3, "save_observation", content="Stdout is the wire; logs go to stderr.",
                      subject="Protocol-only stdout", importance=4))
    saved = server.response(3)["result"]
    assert saved["isError"] is False and saved["content"][0]["text"].startswith("saved ")
    server.send(_tool(4, "save_observation", content="x", subject="s", importance=9))
    failed = server.response(4)["result"]
    assert failed["isError"] is True and "\n" not in failed["content"][0]["text"]
    server.send("this line is not JSON-RPC")  # dropped by the transport, not fatal
    server.send(_request(5, "resources/read", {"uri": "kioku://memory/zz"}))
    assert "invalid memory id" in server.response(5)["error"]["message"]
    server.send(_tool(6, "get_memory_status"))
    status = server.response(6)["result"]
    assert status["structuredContent"]["counts"]["live"] == 1

    rest, code, stderr = server.finish()
    assert code == 0
    for line in rest:
        _jsonrpc(line)
    ids = [m["id"] for m in map(json.loads, server.seen + rest) if "id" in m]
    assert ids == [1, 2, 3, 4, 5, 6]  # one response per request, nothing else
    assert "Traceback" not in stderr


def test_stdout_is_protocol_only_when_stdin_closes_early(raw_server):
    """Everything sent at once, then EOF: whatever the server still answers is
    well-formed JSON-RPC, and it answers the handshake."""
    server = raw_server(KIOKU_MESH_DEBUG="1")
    for message in (_initialize(), INITIALIZED, _request(2, "tools/list"),
                    _tool(3, "save_observation", content="Sent before EOF.", subject="Pipelined save")):
        server.send(message)
    rest, code, stderr = server.finish()
    assert code == 0
    messages = [_jsonrpc(line) for line in rest]
    ids = [m["id"] for m in messages if "id" in m]
    assert ids[0] == 1 and set(ids) <= {1, 2, 3} and len(ids) == len(set(ids))
    assert "Traceback" not in stderr


BROKEN_CONFIGS = [  # (global config text, word in the message, KIOKU_MESH_DEBUG)
    ("key: [unclosed\n  other: {", "invalid YAML", ""),
    ("key: [unclosed\n  other: {", "invalid YAML", "1"),
    ("- just\n- a list\n", "mapping", "1"),
    ("mode: galaxy\n", "unknown mode", ""),
    ("default_visibility: everyone\n", "default_visibility", ""),
    ("max_content_bytes: lots\n", "max_content_bytes", ""),
]


@pytest.mark.parametrize(("config", "word", "debug"), BROKEN_CONFIGS,
                         ids=[f"{w}{'-debug' if d else ''}" for _, w, d in BROKEN_CONFIGS])
def test_broken_global_config_exits_with_one_stderr_line(km, config, word, debug):
    km.config_path.parent.mkdir(parents=True, exist_ok=True)
    km.config_path.write_text(config)
    proc = subprocess.run([str(SERVER)], input=_frame(_initialize()), capture_output=True,
                          env={**km.env, "KIOKU_MESH_DEBUG": debug}, cwd=str(km.home), timeout=TIMEOUT)
    assert proc.returncode != 0
    assert proc.stdout == b""
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("kioku-mesh-mcp: error: ") and word in lines[0], lines[0]
    if word == "invalid YAML":
        assert str(km.config_path) in lines[0]


def _project_file_with_user_id(km) -> None:
    (km.home / ".kioku-mesh.yaml").write_text("user_id: someone-else\n")


def _corrupt_store(km) -> None:
    km.state_dir.mkdir(parents=True)
    (km.state_dir / "kioku.db").write_bytes(b"this is not a database" * 100)


def _corrupt_pc_id(km) -> None:
    km.state_dir.mkdir(parents=True)
    (km.state_dir / "pc_id").write_text("not-a-pc-id\n")


def _pc_id_is_a_directory(km) -> None:
    (km.state_dir / "pc_id").mkdir(parents=True)


def _state_dir_is_a_file(km) -> None:
    km.state_dir.parent.mkdir(parents=True, exist_ok=True)
    km.state_dir.write_text("")


@pytest.mark.parametrize(("breakage", "word"), [
    (_project_file_with_user_id, "user_id may not be set"),
    (_corrupt_store, "cannot open store"),
    (_corrupt_pc_id, "pc_id"),
    (_pc_id_is_a_directory, "pc_id"),
    (_state_dir_is_a_file, "is a file, not a directory"),
])
def test_unusable_setup_exits_with_one_stderr_line(km, breakage, word):
    breakage(km)
    proc = subprocess.run([str(SERVER)], input=_frame(_initialize()), capture_output=True,
                          env=km.env, cwd=str(km.home), timeout=TIMEOUT)
    assert proc.returncode != 0
    assert proc.stdout == b""
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kioku-mesh-mcp: error: "), lines
    assert word in lines[0], lines[0]
