"""Mesh benchmarks: replication latency, catch-up, idle anti-entropy cost, fan-in.

Nodes are real `kioku-mesh mesh start|join` processes on 127.0.0.1, each
with its own state dir. Run: .venv/bin/python bench/bench_mesh.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import common

from kioku_mesh.api import Memory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, poll: float = 0.01) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if check():
            return time.perf_counter() - start
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class NodeProc:
    def __init__(self, state: Path, args: list[str]) -> None:
        self.state = state
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> NodeProc:
        self.proc = subprocess.Popen([common.CLI, *self.args], env=common.clean_env(self.state),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def status(self) -> dict:
        try:
            return json.loads((self.state / "node-status.json").read_text())
        except (OSError, ValueError):
            return {}

    def peers_online(self) -> int:
        return sum(1 for p in (self.status().get("peers") or {}).values() if p.get("online"))


def fresh_state(prefix: str, source: Path | None = None) -> Path:
    state = common.copy_state(source, prefix) if source else common.temp_dir(prefix)
    (state / "pc_id").unlink(missing_ok=True)  # every host needs its own identity
    return state


def count_live(state: Path) -> int:
    if not (state / "kioku.db").exists():
        return 0
    db = sqlite3.connect(f"file:{state / 'kioku.db'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM observations").fetchone()[0])
    finally:
        db.close()


def hub_and_spoke(hub_state: Path, spoke_state: Path) -> tuple[NodeProc, NodeProc, str]:
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    hub = NodeProc(hub_state, ["mesh", "start", "--listen", endpoint]).start()
    spoke = NodeProc(spoke_state, ["mesh", "join", endpoint]).start()
    return hub, spoke, endpoint


# ------------------------------------------------------------------ latency


def bench_latency(samples: int) -> dict:
    """Commit on the spoke (save returns) -> row visible in the hub's store."""
    hub_state, spoke_state = fresh_state("lat-hub"), fresh_state("lat-spoke")
    hub, spoke, _ = hub_and_spoke(hub_state, spoke_state)
    try:
        wait_until(lambda: hub.peers_online() >= 1 and spoke.peers_online() >= 1, 30, "connect")
        with common.use_env(spoke_state):
            mem = Memory()
            reader = sqlite3.connect(f"file:{hub_state / 'kioku.db'}?mode=ro", uri=True)
            latencies = []
            for i in range(samples):
                oid = mem.save(f"latency probe {i} body", f"probe {i}", check_similar=False
                               ).observation.observation_id
                committed = time.perf_counter()
                wait_until(lambda oid=oid: reader.execute(
                    "SELECT 1 FROM observations WHERE id = ?", (oid,)).fetchone() is not None,
                    10, "replication", poll=0.0005)
                latencies.append(time.perf_counter() - committed)
                time.sleep(0.02)
            reader.close()
            mem.close()
        return common.summary(latencies)
    finally:
        spoke.stop()
        hub.stop()


# ----------------------------------------------------------------- catch-up


def bench_catchup(count: int) -> dict:
    """A spoke that missed `count` memories: node start -> all present."""
    hub_state = fresh_state("cu-hub", common.cached_store(count))
    spoke_state = fresh_state("cu-spoke")
    expected = count_live(hub_state)
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    hub = NodeProc(hub_state, ["mesh", "start", "--listen", endpoint]).start()
    try:
        wait_until(lambda: hub.status().get("state") == "running", 30, "hub start")
        started = time.perf_counter()
        spoke = NodeProc(spoke_state, ["mesh", "join", endpoint]).start()
        try:
            wait_until(lambda: count_live(spoke_state) >= expected, 120, "catch-up", poll=0.05)
            took = time.perf_counter() - started
            return {"memories": expected, "seconds": took,
                    "per_second": expected / took}
        finally:
            spoke.stop()
    finally:
        hub.stop()


# ---------------------------------------------------------------- idle cost


def bench_idle(count: int, rounds: int = 3) -> dict:
    """Bytes an idle anti-entropy round exchanges once both sides are equal."""
    source = common.cached_store(count)
    hub_state, spoke_state = fresh_state("idle-hub", source), fresh_state("idle-spoke", source)
    hub, spoke, _ = hub_and_spoke(hub_state, spoke_state)
    try:
        wait_until(lambda: spoke.peers_online() >= 1, 30, "connect")

        def rounds_done() -> int:
            return int((spoke.status().get("stats") or {}).get("sync_rounds", 0))

        wait_until(lambda: rounds_done() >= rounds, 60, "idle rounds", poll=0.1)
        peer = next(iter(spoke.status()["peers"].values()))
        return {"memories": count, "bytes": peer.get("bytes"), "fetched": peer.get("fetched"),
                "seconds": peer.get("seconds")}
    finally:
        spoke.stop()
        hub.stop()


# ----------------------------------------------------------------- fan-in


def bench_fanin(spokes: int, per_spoke: int) -> dict:
    """1 hub + N spokes, every spoke writes: first write -> every store has all."""
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    hub = NodeProc(fresh_state("fan-hub"), ["mesh", "start", "--listen", endpoint]).start()
    nodes = [NodeProc(fresh_state(f"fan-s{i}"), ["mesh", "join", endpoint]).start()
             for i in range(spokes)]
    try:
        wait_until(lambda: hub.peers_online() >= spokes, 60, "all spokes connected", poll=0.1)
        writer = (
            "import sys\nfrom kioku_mesh.api import Memory\nm = Memory()\n"
            "for i in range(int(sys.argv[1])):\n"
            "    m.save(f'fan-in body {i}', f'fan-in {i}', check_similar=False)\n"
        )
        start = time.perf_counter()
        procs = [subprocess.Popen([common.PYTHON, "-c", writer, str(per_spoke)],
                                  env=common.clean_env(n.state)) for n in nodes]
        for p in procs:
            p.wait()
        total = spokes * per_spoke
        everyone = [hub, *nodes]
        wait_until(lambda: all(count_live(n.state) >= total for n in everyone), 120,
                   "convergence", poll=0.05)
        return {"spokes": spokes, "per_spoke": per_spoke, "total": total,
                "seconds": time.perf_counter() - start}
    finally:
        for n in nodes:
            n.stop()
        hub.stop()
        for n in [hub, *nodes]:
            shutil.rmtree(n.state, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    info = common.machine_info()
    print(f"machine: {info}; load {common.load()}")
    lat = bench_latency(50 if args.quick else 300)
    print(f"replication latency (commit -> visible on the hub), n={lat['n']}: "
          f"p50 {common.ms(lat['median'])} ms, p90 {common.ms(lat['p90'])} ms, "
          f"p99 {common.ms(lat['p99'])} ms, max {common.ms(lat['max'])} ms")
    for count in ((1000,) if args.quick else (10_000,)):
        cu = bench_catchup(count)
        print(f"catch-up of {cu['memories']:,} missed memories: {cu['seconds']:.2f} s "
              f"({cu['per_second']:.0f}/s, including node start)")
    for count in ((1000,) if args.quick else (10_000, 100_000)):
        idle = bench_idle(count)
        print(f"idle anti-entropy round at {count:,} memories: {idle['bytes']} bytes, "
              f"{idle['seconds']} s, fetched {idle['fetched']}")
    fan = bench_fanin(3 if args.quick else 8, 20 if args.quick else 100)
    print(f"1 hub + {fan['spokes']} spokes, {fan['per_spoke']} writes each ({fan['total']}): "
          f"all stores converged {fan['seconds']:.2f} s after the first write")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
