"""Small helpers shared by the CLI integration tests (not a test module)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "kioku_mesh.cli.main"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIRE_FIELDS = (
    "observation_id", "created_at", "content", "subject", "summary", "project", "tags",
    "memory_type", "importance", "agent_family", "client_id", "pc_id", "session_id",
    "source_files", "references", "supersedes", "visibility", "scope_id", "expires_at",
)
WIRE_TYPES: dict[str, type] = {
    name: (list if name in ("tags", "source_files", "references", "supersedes")
           else int if name == "importance" else str)
    for name in WIRE_FIELDS
}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def save(km: Any, content: str, subject: str, *args: str, input: str | bytes | None = None,
         extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """`save --json`; returns the wire object that was written."""
    res = km.run("save", content, "-s", subject, *args, "--json", input=input,
                 extra_env=extra_env, check=True)
    out = json.loads(res.stdout)
    assert out["observation_id"] == out["observation"]["observation_id"]
    return dict(out["observation"])


def save_id(km: Any, content: str, subject: str, *args: str, **kw: Any) -> str:
    return str(save(km, content, subject, *args, **kw)["observation_id"])


def search_json(km: Any, *args: str) -> list[dict[str, Any]]:
    res = km.run("search", *args, "--json", input="", check=True)
    data = json.loads(res.stdout)
    assert isinstance(data, dict) and data["match"] in ("all", "any", "browse", "meaning"), data
    assert isinstance(data["hits"], list)
    return list(data["hits"])


def search_ids(km: Any, *args: str) -> list[str]:
    return [o["observation_id"] for o in search_json(km, *args)]


def status(km: Any) -> dict[str, Any]:
    return dict(json.loads(km.run("status", "--json", input="", check=True).stdout))


def counts(km: Any) -> dict[str, int]:
    return dict(status(km)["counts"])


def assert_one_line_error(res: subprocess.CompletedProcess[str], code: int | None = 2,
                          *, contains: str | None = None) -> str:
    """A failure that is exactly one line on stderr, no traceback, no ANSI."""
    assert res.returncode != 0, f"expected failure, got 0: {res.stdout!r}"
    if code is not None:
        assert res.returncode == code, (res.returncode, res.stderr)
    err = res.stderr
    assert "Traceback" not in err and "Traceback" not in res.stdout
    assert "internal error" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert not ANSI.search(err)
    if contains is not None:
        assert contains.lower() in err.lower(), err
    return err.strip()


def db_file(km: Any) -> Path:
    return Path(km.state_dir) / "kioku.db"


def db_ids(km: Any) -> set[str]:
    """Observation ids read straight from the SQLite file (a fresh connection)."""
    con = sqlite3.connect(db_file(km))
    try:
        return {r[0] for r in con.execute("SELECT id FROM observations")}
    finally:
        con.close()


def integrity(km: Any) -> str:
    con = sqlite3.connect(db_file(km))
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.02) -> Any:
    """Poll until `condition()` is truthy; fail with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def with_env(km: Any, **extra: str) -> Any:
    """The same isolated environment, with some settings changed (another user, say)."""
    return replace(km, env={**km.env, **extra})
