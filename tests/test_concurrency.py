"""Many processes writing one store at once: nothing lost, nobody sees "database is locked"."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from cli_helpers import CLI, counts, db_ids, integrity

WORKERS = 8
PER_WORKER = 250

# Waits for the start file so every worker begins writing at the same moment,
# then saves in a loop through the library API and prints each id.
WRITER = r"""
import os, sys, time
from kioku_mesh.api import Memory

start, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 60
while not os.path.exists(start):
    if time.monotonic() > deadline:
        sys.exit("start signal never came")
    time.sleep(0.005)
with Memory() as mem:
    for i in range(count):
        res = mem.save(f"Worker {name} wrote entry {i} about topic {i * 7919 % 1009}",
                       f"{name} entry {i}", project=f"proj-{name}", check_similar=False)
        print(res.observation.observation_id, flush=True)
"""


def _stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for proc in procs:
        proc.wait()


def test_eight_library_writers_at_once(km):
    start = km.home / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(start), f"w{n}", str(PER_WORKER)],
            env=km.env, cwd=str(km.home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    try:
        start.touch()  # the store does not exist yet: creating it is part of the race
        results = [proc.communicate(timeout=150) for proc in procs]
    finally:
        _stop_all(procs)
    printed: set[str] = set()
    for proc, (out, err) in zip(procs, results, strict=True):
        assert "database is locked" not in out + err
        assert proc.returncode == 0, err
        ids = out.split()
        assert len(ids) == PER_WORKER
        printed.update(ids)
    assert len(printed) == WORKERS * PER_WORKER
    assert db_ids(km) == printed
    c = counts(km)
    assert c["total"] == c["live"] == WORKERS * PER_WORKER
    assert integrity(km) == "ok"
    # Every worker's memories are searchable through the index as well.
    res = km.run("search", "--project", "proj-w3", "-n", "1000", "--json", check=True)
    assert len(json.loads(res.stdout)["hits"]) == PER_WORKER


def test_concurrent_cli_saves(km):
    n = 16
    procs = [
        subprocess.Popen(
            [*CLI, "save", f"Concurrent CLI body {i}", "-s", f"CLI {i}", "--json"],
            env=km.env, cwd=str(km.home), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(n)
    ]
    try:
        results = [proc.communicate(timeout=120) for proc in procs]
    finally:
        _stop_all(procs)
    ids = set()
    for proc, (out, err) in zip(procs, results, strict=True):
        assert "database is locked" not in out + err
        assert proc.returncode == 0, err
        ids.add(json.loads(out)["observation_id"])
    assert len(ids) == n
    assert db_ids(km) == ids
    assert counts(km)["live"] == n


def test_cli_readers_and_writers_together(km):
    """Searches keep answering while writers hold the write lock."""
    km.run("save", "seed memory for readers", "-s", "Seed", check=True)
    start = km.home / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(start), f"r{n}", "150"],
            env=km.env, cwd=str(km.home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    try:
        start.touch()
        seen = []
        deadline = time.monotonic() + 60
        while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
            res = km.run("search", "seed", "--json")
            assert res.returncode == 0 and "locked" not in res.stderr, res.stderr
            seen.append(json.loads(res.stdout)["hits"][0]["subject"])
        results = [w.communicate(timeout=60) for w in writers]
    finally:
        _stop_all(writers)
    assert seen and set(seen) == {"Seed"}
    for w, (_out, err) in zip(writers, results, strict=True):
        assert w.returncode == 0 and "locked" not in err, err
    assert counts(km)["live"] == 1 + 3 * 150
