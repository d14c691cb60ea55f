"""A writer killed with SIGKILL mid-burst loses nothing it reported as saved."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

from cli_helpers import counts, db_file, db_ids, integrity

# Saves until killed (a minute at most) and prints each id once save() returned.
WRITER = r"""
import sys, time
from kioku_mesh.api import Memory

tag = sys.argv[1]
deadline = time.monotonic() + 60
with Memory() as mem:
    i = 0
    while time.monotonic() < deadline:
        res = mem.save(f"crash test {tag} body {i} " + "padding " * (i % 50),
                       f"{tag} {i}", tags=["crash", tag], check_similar=False)
        print(res.observation.observation_id, flush=True)
        i += 1
"""


def _kill_after(km, tag: str, wanted: int) -> list[str]:
    """Run a writer, SIGKILL it once it has printed `wanted` ids; return every id printed."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, tag], env=km.env, cwd=str(km.home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(printed) < wanted and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            printed.append(line.strip())
        assert len(printed) == wanted, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # Read through the same buffered reader: readline() may already hold
        # lines read ahead from the pipe, which communicate() would not see.
        out = proc.stdout.read()
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, err
    # Only complete lines count: the last one may have been cut by the kill.
    lines = out.split("\n")
    printed.extend(line for line in lines[:-1] if line)
    return printed


def test_sigkill_mid_burst_loses_no_acknowledged_save(km):
    km.run("save", "written before the crashes", "-s", "Before", check=True)
    first = _kill_after(km, "one", 200)
    assert len(first) >= 200 and len(set(first)) == len(first)
    # A second burst on the store the first crash left behind.
    second = _kill_after(km, "two", 100)
    assert len(second) >= 100

    stored = db_ids(km)
    assert set(first) <= stored
    assert set(second) <= stored
    # At most the one save in flight at each kill may be there without being printed.
    assert len(stored) - 1 - len(first) - len(second) in (0, 1, 2)
    assert integrity(km) == "ok"
    con = sqlite3.connect(db_file(km))
    try:
        # The FTS indexes agree with the rows (raises if they do not).
        con.execute("INSERT INTO obs_tri(obs_tri) VALUES ('integrity-check')")
        con.execute("INSERT INTO obs_words(obs_words, rank) VALUES ('integrity-check', 1)")
    finally:
        con.close()

    # Reopened through the real CLI: healthy, counted and searchable.
    assert km.run("doctor").returncode == 0
    assert counts(km)["live"] == len(stored)
    found = km.run("search", "-t", "crash,one", "-n", "100000", "--json", check=True)
    assert set(first) <= {o["observation_id"] for o in json.loads(found.stdout)["hits"]}
    last = km.run("get", second[-1], "--json", check=True)
    assert json.loads(last.stdout)["subject"].startswith("two ")
    # And it still takes writes.
    km.run("save", "written after the crashes", "-s", "After", check=True)
    assert counts(km)["live"] == len(stored) + 1
