"""Who writes: pc_id (persisted per host), session_id, agent family detection."""

from __future__ import annotations

import json
import multiprocessing
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kioku_mesh.api import Memory
from kioku_mesh.core.identity import PC_ID_FILE, load_pc_id, new_session_id, process_session_id

HEX32 = re.compile(r"^[0-9a-f]{32}$")
SESSION = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
AGENT_VARS = ("CLAUDECODE", "GEMINI_CLI", "CODEX_SANDBOX", "CURSOR_AGENT")


@pytest.fixture
def no_agent_env(memory: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `memory` fixture's isolated env, minus any coding-agent markers of the runner."""
    for var in AGENT_VARS:
        monkeypatch.delenv(var, raising=False)


def test_pc_id_is_32_hex_and_persisted_across_instances(memory: Memory) -> None:
    first = memory.identity.pc_id
    assert HEX32.match(first)
    path = memory.settings.state_dir / PC_ID_FILE
    assert path.read_text().strip() == first
    with Memory() as again:
        assert again.identity.pc_id == first
    saved = memory.save("content", "subject").observation
    assert saved.pc_id == first


def test_pc_id_differs_per_state_dir(tmp_path: Path) -> None:
    a = load_pc_id(tmp_path / "a")
    b = load_pc_id(tmp_path / "b")
    assert HEX32.match(a) and HEX32.match(b)
    assert a != b
    assert load_pc_id(tmp_path / "a") == a


def test_pc_id_file_is_read_not_rewritten(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / PC_ID_FILE).write_text("abcdef0123456789abcdef0123456789\n")
    assert load_pc_id(state) == "abcdef0123456789abcdef0123456789"


def test_load_pc_id_race_between_threads(tmp_path: Path) -> None:
    state = tmp_path / "fresh"
    barrier = threading.Barrier(8)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            value = load_pc_id(state)
            with lock:
                results.append(value)
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 8
    assert len(set(results)) == 1
    assert (state / PC_ID_FILE).read_text().strip() == results[0]
    assert sorted(p.name for p in state.iterdir()) == [PC_ID_FILE]  # no temp files left


def _race_worker(
    state: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue
) -> None:
    barrier.wait()
    out.put(load_pc_id(Path(state)))


def test_load_pc_id_race_between_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    state = tmp_path / "fresh"
    barrier = ctx.Barrier(8)
    out = ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(str(state), barrier, out)) for _ in range(8)]
    for p in procs:
        p.start()
    ids = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(set(ids)) == 1
    assert HEX32.match(ids[0])
    assert (state / PC_ID_FILE).read_text().strip() == ids[0]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "kioku_mesh.cli.main", *args]


def test_concurrent_cli_processes_on_a_fresh_host_agree(km) -> None:
    """Eight first-ever CLI runs at once: one pc_id, one migrated store, no errors."""
    procs = [
        subprocess.Popen(
            _cli("status", "--json"),
            env=km.env, cwd=str(km.home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(8)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()
    pc_ids = {json.loads(out)["identity"]["pc_id"] for out, _ in outputs}
    assert len(pc_ids) == 1
    assert (km.state_dir / PC_ID_FILE).read_text().strip() == pc_ids.pop()




def test_session_id_shape() -> None:
    assert SESSION.match(new_session_id())
    assert new_session_id(0).startswith("19700101T000000Z-")
    assert new_session_id(1_769_860_800).startswith("20260131T120000Z-")
    assert new_session_id(0) != new_session_id(0)  # random suffix
    assert process_session_id() == process_session_id()


def test_session_id_default_and_env_override(
    memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SESSION.match(memory.identity.session_id)
    monkeypatch.setenv("KIOKU_MESH_SESSION_ID", "my-session-42")
    with Memory() as mem:
        assert mem.identity.session_id == "my-session-42"
        assert mem.save("content", "subject").observation.session_id == "my-session-42"


def test_defaults_without_agent_markers(no_agent_env: None) -> None:
    with Memory() as mem:
        assert mem.identity.agent_family == "cli"
        assert mem.identity.client_id
        assert "/" not in mem.identity.client_id and " " not in mem.identity.client_id


@pytest.mark.parametrize(
    ("var", "family", "client"),
    [("CLAUDECODE", "claude", "claude-code"), ("GEMINI_CLI", "gemini", "gemini-cli"),
     ("CODEX_SANDBOX", "codex", "codex-cli")],
)
def test_agent_detected_from_env(
    no_agent_env: None, monkeypatch: pytest.MonkeyPatch, var: str, family: str, client: str
) -> None:
    monkeypatch.setenv(var, "1")
    with Memory() as mem:
        assert (mem.identity.agent_family, mem.identity.client_id) == (family, client)
        obs = mem.save("content", "subject").observation
        assert (obs.agent_family, obs.client_id) == (family, client)


def test_explicit_agent_settings_beat_detection(
    no_agent_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDECODE", "1")
    monkeypatch.setenv("KIOKU_MESH_AGENT_FAMILY", "codex")
    monkeypatch.setenv("KIOKU_MESH_CLIENT_ID", "my-client")
    with Memory() as mem:
        assert (mem.identity.agent_family, mem.identity.client_id) == ("codex", "my-client")


def test_claudecode_env_in_cli_process(km) -> None:
    result = km.run("status", "--json", extra_env={"CLAUDECODE": "1"}, check=True)
    ident = json.loads(result.stdout)["identity"]
    assert ident["agent_family"] == "claude"
    assert ident["client_id"] == "claude-code"
    plain = json.loads(km.run("status", "--json", check=True).stdout)["identity"]
    assert plain["agent_family"] == "cli"
    assert plain["pc_id"] == ident["pc_id"]
    assert plain["session_id"] != ident["session_id"]  # one session per process
