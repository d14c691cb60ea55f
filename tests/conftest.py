"""Shared fixtures: an isolated home/state per test and the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CLI = [sys.executable, "-m", "kioku_mesh.cli.main"]


@dataclass
class Env:
    home: Path
    state_dir: Path
    config_path: Path
    env: dict[str, str]

    def run(
        self,
        *args: str,
        input: str | bytes | None = None,
        cwd: Path | None = None,
        extra_env: dict[str, str] | None = None,
        check: bool = False,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if extra_env:
            env.update(extra_env)
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            [*CLI, *args],
            input=data,
            capture_output=True,
            env=env,
            cwd=str(cwd or self.home),
            timeout=timeout,
        )
        result = subprocess.CompletedProcess(
            proc.args,
            proc.returncode,
            proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"),
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{args} failed ({result.returncode}): {result.stderr}")
        return result


def make_env(root: Path, **overrides: str) -> Env:
    home = root / "home"
    state = root / "state"
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".config" / "kioku-mesh" / "config.yaml"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KIOKU_MESH_", "MESH_MEM_", "XDG_"))
        and k not in ("CLAUDECODE", "GEMINI_CLI", "CODEX_SANDBOX", "CURSOR_AGENT", "NO_COLOR")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        KIOKU_MESH_STATE_DIR=str(state),
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return Env(home, state, config, env)


@pytest.fixture
def km(tmp_path: Path) -> Env:
    """An isolated kioku-mesh environment; `km.run(...)` runs the real CLI."""
    return make_env(tmp_path)


@pytest.fixture
def make_km(tmp_path: Path) -> Callable[..., Env]:
    counter = [0]

    def factory(**overrides: str) -> Env:
        counter[0] += 1
        return make_env(tmp_path / f"env{counter[0]}", **overrides)

    return factory


@pytest.fixture
def memory(km: Env, monkeypatch: pytest.MonkeyPatch):
    """The library API in-process, on the same isolated state as `km`."""
    for key, value in km.env.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith(("KIOKU_MESH_", "MESH_MEM_")) and key not in km.env:
            monkeypatch.delenv(key)
    monkeypatch.chdir(km.home)
    from kioku_mesh.api import Memory

    mem = Memory()
    yield mem
    mem.close()


@pytest.fixture
def anyio_backend() -> str:
    """The event loop of the async (MCP client) tests."""
    return "asyncio"


@pytest.fixture
def cluster(tmp_path: Path):
    """Mesh hosts for the multi-process tests; every node left running is
    stopped at teardown (and must exit promptly on SIGTERM)."""
    from mesh_helpers import Cluster

    mesh = Cluster(tmp_path / "mesh")
    try:
        yield mesh
    finally:
        mesh.close()


# `make test-fast` leaves these out (-m "not slow"): modules that start mesh
# nodes or run long, and any test that starts an MCP server or a node cluster.
SLOW_MODULES = ("test_mesh_", "test_security_mesh", "test_messaging_mesh", "test_messaging_mcp",
                "test_mcp_stdio", "test_mcp_server", "test_status_truth", "test_crash",
                "test_concurrency", "test_tls_pki", "test_relevance", "test_search_rank_safety",
                "test_ingest_properties", "test_web_")
SLOW_FIXTURES = {"cluster", "spawned"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__ if getattr(item, "module", None) else ""
        if module.startswith(SLOW_MODULES) or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it loudly when the dashboard's browser tests did not run."""
    reasons = {str(getattr(r, "longrepr", ""))
               for r in terminalreporter.stats.get("skipped", [])
               if "NO BROWSER" in str(getattr(r, "longrepr", ""))}
    if reasons:
        terminalreporter.section("browser tests skipped", sep="!", red=True, bold=True)
        for reason in sorted(reasons):
            terminalreporter.write_line(reason.split("NO BROWSER", 1)[1].lstrip(": ").rstrip("')\""),
                                        red=True)
