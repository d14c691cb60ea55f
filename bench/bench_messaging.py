"""Messaging latency across two nodes: send -> visible in the other host's store.

A hub and a spoke (`kioku-mesh mesh start|join`, real node processes on
127.0.0.1, each with its own state dir). A message is sent with the library
(`Messenger.send`) on one store; the clock stops when a tight loop sees its
msg_id in the other store's `messages` table. For hub -> spoke messages the
recipient then acks on the spoke (library) and the ack's way back is timed
until it is in the hub's `acks` table. Target: p50 <= 50 ms.

Run: .venv/bin/python bench/bench_messaging.py [--messages 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import common
from bench_mesh import NodeProc, fresh_state, hub_and_spoke, wait_until

from kioku_mesh.api import Memory
from kioku_mesh.api.messaging import Messenger

TARGET_P50_S = 0.050
POLL_S = 0.0005
GAP_S = 0.02  # between messages: latency of one message, not a burst's queueing


def messenger(state: Path, agent: str, session: str) -> Messenger:
    """The library on `state`'s store as one agent session (identity pinned here)."""
    with common.use_env(state):
        os.environ.update(KIOKU_MESH_CLIENT_ID=agent, KIOKU_MESH_SESSION_ID=session,
                          KIOKU_MESH_AGENT_FAMILY="bench")
        mem = Memory()
        _ = mem.identity, mem.store
    return Messenger(mem)


def reader(state: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{state / 'kioku.db'}?mode=ro", uri=True)


def visible(db: sqlite3.Connection, sql: str, *params: str) -> Callable[[], bool]:
    return lambda: db.execute(sql, params).fetchone() is not None


def run(count: int) -> dict:
    hub_state, spoke_state = fresh_state("msg-hub"), fresh_state("msg-spoke")
    hub, spoke, endpoint = hub_and_spoke(hub_state, spoke_state)
    nodes: list[NodeProc] = [spoke, hub]
    try:
        wait_until(lambda: hub.peers_online() >= 1 and spoke.peers_online() >= 1, 30, "connect")
        wait_until(lambda: (hub_state / "kioku.db").exists() and (spoke_state / "kioku.db").exists(),
                   30, "stores")
        on_hub = messenger(hub_state, "bench-hub-agent", "bench-hub-s1")
        on_spoke = messenger(spoke_state, "bench-spoke-agent", "bench-spoke-s1")
        hub_db, spoke_db = reader(hub_state), reader(spoke_state)
        msg_sql = "SELECT 1 FROM messages WHERE msg_id = ?"
        ack_sql = "SELECT 1 FROM acks WHERE msg_id = ? AND recipient_session_id = ?"
        down, up, acks = [], [], []
        body = "benchmark message: please run the test suite and report back. " * 4
        for i in range(count):
            # hub -> spoke (to the spoke's agent), then the ack back
            sent = time.perf_counter()
            msg = on_hub.send(f"{body}{i}", to_agent="bench-spoke-agent", requires_ack=True)
            wait_until(visible(spoke_db, msg_sql, msg.msg_id), 10, "hub -> spoke", POLL_S)
            down.append(time.perf_counter() - sent)
            acked = time.perf_counter()
            on_spoke.ack(msg.msg_id)
            wait_until(visible(hub_db, ack_sql, msg.msg_id, "bench-spoke-s1"), 10, "ack back",
                       POLL_S)
            acks.append(time.perf_counter() - acked)
            time.sleep(GAP_S)
            # spoke -> hub (to the hub's session)
            sent = time.perf_counter()
            msg = on_spoke.send(f"{body}{i}", to_session="bench-hub-s1")
            wait_until(visible(hub_db, msg_sql, msg.msg_id), 10, "spoke -> hub", POLL_S)
            up.append(time.perf_counter() - sent)
            time.sleep(GAP_S)
        hub_db.close()
        spoke_db.close()
        on_hub.mem.close()
        on_spoke.mem.close()
        return {"endpoint": endpoint, "messages": count,
                "hub_to_spoke": common.summary(down), "spoke_to_hub": common.summary(up),
                "ack_spoke_to_hub": common.summary(acks)}
    finally:
        for node in nodes:
            node.stop()
        for state in (hub_state, spoke_state):
            shutil.rmtree(state, ignore_errors=True)


def table(res: dict) -> str:
    rows = [("message hub -> spoke (send -> in spoke store)", res["hub_to_spoke"]),
            ("message spoke -> hub (send -> in hub store)", res["spoke_to_hub"]),
            ("ack spoke -> hub (ack -> in hub store)", res["ack_spoke_to_hub"])]
    out = ["| path | n | p50 ms | p90 ms | p99 ms | max ms | p50 <= 50 ms |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for name, s in rows:
        verdict = "yes" if s["median"] <= TARGET_P50_S else "NO"
        out.append(f"| {name} | {s['n']} | {common.ms(s['median'])} | {common.ms(s['p90'])} | "
                   f"{common.ms(s['p99'])} | {common.ms(s['max'])} | {verdict} |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200, help="messages each way")
    parser.add_argument("--json", action="store_true", help="also print the raw numbers")
    args = parser.parse_args(argv)
    info = common.machine_info()
    print(f"machine: {info['machine']}, {info['cpu']} ({info['cores']} cores), {info['os']}, "
          f"Python {info['python']}, SQLite {info['sqlite']}; {info['source']}")
    load_before = common.load()
    res = run(args.messages)
    res["load_before"], res["load_after"] = load_before, common.load()
    print(f"load average (1/5 min): {load_before} before, {res['load_after']} after")
    print(table(res))
    ok = res["hub_to_spoke"]["median"] <= TARGET_P50_S and \
        res["spoke_to_hub"]["median"] <= TARGET_P50_S
    print(f"target p50 <= {TARGET_P50_S * 1000:.0f} ms: {'met' if ok else 'NOT met'}")
    if args.json:
        print(json.dumps(res, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
