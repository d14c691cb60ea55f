"""Messages between hosts: two real node processes (a hub and a spoke) on
127.0.0.1, each with its own store. Live delivery by pub/sub, delivery to a
host that was down (once, not after expiry), acks travelling back, and
presence of a session running on the other host.

Anti-entropy runs only when a peer comes online (sync_interval_s is an hour),
so what arrives while both nodes run came by pub/sub."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from typing import Any

from mcp_helpers import SERVER
from mesh_helpers import Host, new_id, raw_session, wait_until

ALICE = {"KIOKU_MESH_CLIENT_ID": "alice-agent", "KIOKU_MESH_SESSION_ID": "alice-s1"}
BOB = {"KIOKU_MESH_CLIENT_ID": "bob-agent", "KIOKU_MESH_SESSION_ID": "bob-s1"}


def msg(host: Host, who: dict[str, str], *args: str) -> Any:
    """`kioku-mesh msg ARGS --json` on `host` as `who`."""
    env = {**host.env, **who}
    res = subprocess.run([*_cli(), "msg", *args, "--json"], capture_output=True, text=True,
                         env=env, cwd=str(host.home), timeout=60)
    assert res.returncode == 0, f"{host.name}: msg {args} failed: {res.stderr}"
    return json.loads(res.stdout)


def _cli() -> list[str]:
    from mesh_helpers import CLI

    return CLI


def rows(host: Host, sql: str, *params: object) -> list[tuple]:
    if not host.db_path.exists():
        return []
    con = sqlite3.connect(f"file:{host.db_path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def has_msg(host: Host, msg_id: str) -> bool:
    return bool(rows(host, "SELECT 1 FROM messages WHERE msg_id = ?", msg_id))


def has_ack(host: Host, msg_id: str, session: str) -> bool:
    return bool(rows(host, "SELECT 1 FROM acks WHERE msg_id = ? AND recipient_session_id = ?",
                     msg_id, session))


def pair(cluster, spoke_env: dict[str, str] | None = None,
         sync_interval_s: float = 3600) -> tuple[Host, Host]:
    """Host 1 (hub) and host 2 (spoke), both nodes running, connected and past
    the sync round each does when the other appears."""
    hub = cluster.hub("h1")
    spoke = cluster.spoke("h2", hub, env=spoke_env)
    for host in (hub, spoke):
        host.set_mesh_option("sync_interval_s", sync_interval_s)
        host.node.start()
    wait_until(lambda: hub.sees(spoke) and spoke.sees(hub), 15,
               message=lambda: f"{hub.node_status()}\n{spoke.node_status()}")
    wait_until(lambda: hub.synced_since(0, spoke) and spoke.synced_since(0, hub), 15)
    return hub, spoke


def test_live_delivery_both_ways_and_ack_travels_back(cluster):
    hub, spoke = pair(cluster, {"KIOKU_MESH_USER_ID": "bob"})  # h2 is user bob's host

    sent = msg(hub, ALICE, "send", "bob on h2: please rebuild the index", "--to-agent",
               "bob-agent", "--requires-ack")
    msg_id = sent["msg_id"]
    wait_until(lambda: has_msg(spoke, msg_id), 10, message=spoke.node.log_tail)
    [got] = msg(spoke, BOB, "inbox")
    assert got["msg_id"] == msg_id and got["body"] == "bob on h2: please rebuild the index"
    assert got["sender"] == {"agent_id": "alice-agent", "session_id": "alice-s1"}
    assert rows(spoke, "SELECT origin FROM messages WHERE msg_id = ?", msg_id) == [("peer",)]

    ack = msg(spoke, BOB, "ack", msg_id)
    assert ack["recipient_session_id"] == "bob-s1"
    wait_until(lambda: has_ack(hub, msg_id, "bob-s1"), 10, message=hub.node.log_tail)
    [status] = msg(hub, ALICE, "status", msg_id)
    assert [(a["recipient_session_id"], a["recipient_agent_id"], a["acked_at"])
            for a in status["acks"]] == [("bob-s1", "bob-agent", ack["acked_at"])]
    assert msg(hub, ALICE, "status")[0]["acks"][0]["recipient_session_id"] == "bob-s1"
    # delivery state: sent by h1's node; the copy on h2 says where it came from
    assert status["delivery"] == "sent"
    assert msg(spoke, BOB, "inbox", "--all")[0]["delivery"] == "received"

    # and back: a reply from h2 to alice's session on h1
    reply = msg(spoke, BOB, "send", "index rebuilt", "--to-session", "alice-s1")["msg_id"]
    wait_until(lambda: has_msg(hub, reply), 10, message=hub.node.log_tail)
    assert [m["body"] for m in msg(hub, ALICE, "inbox")] == ["index rebuilt"]
    assert msg(spoke, BOB, "inbox") == []  # bob's agent message stays acked on h2

    # user scopes: h2 (user bob) gets bob's user messages, never alice's
    alices = msg(hub, {**ALICE, "KIOKU_MESH_USER_ID": "alice"}, "send", "alice's private note",
                 "--to-agent", "bob-agent", "--scope", "user")
    bobs = msg(hub, {**ALICE, "KIOKU_MESH_USER_ID": "bob"}, "send", "for bob's agents",
               "--to-agent", "bob-agent", "--scope", "user")
    assert (alices["scope"], bobs["scope"]) == ("user/alice", "user/bob")
    wait_until(lambda: has_msg(spoke, bobs["msg_id"]), 10, message=spoke.node.log_tail)
    assert not has_msg(spoke, alices["msg_id"]), "another user's message reached h2"
    assert [m["msg_id"] for m in msg(spoke, BOB, "inbox")] == [bobs["msg_id"]]


def test_offline_recipient_gets_message_once_unless_expired(cluster):
    hub, spoke = pair(cluster)
    spoke.node.stop()

    later = msg(hub, ALICE, "send", "read this when you are back", "--to-agent", "bob-agent")
    short = msg(hub, ALICE, "send", "only worth it for a second", "--to-agent", "bob-agent",
                "--ttl", "1")
    wait_until(lambda: msg(hub, ALICE, "status", short["msg_id"])[0]["expired"], 10)
    restarted = time.time()
    spoke.node.start()
    wait_until(lambda: spoke.synced_since(restarted, hub), 20, message=spoke.node.log_tail)
    wait_until(lambda: has_msg(spoke, later["msg_id"]), 10)  # fetched by anti-entropy
    assert not has_msg(spoke, short["msg_id"]), "an expired message was delivered"
    assert [m["msg_id"] for m in msg(spoke, BOB, "inbox", "--all")] == [later["msg_id"]]

    # the same message again on the wire (a re-publish): still stored once. A new
    # message put after it on the same session marks when the duplicate was handled.
    payload = rows(hub, "SELECT payload FROM messages WHERE msg_id = ?", later["msg_id"])[0][0]
    key = f"msg/mesh/inbox/agent/bob-agent/{later['msg_id']}"
    marker = {**json.loads(payload), "msg_id": new_id(), "body": "marker after the duplicate"}
    received = rows(spoke, "SELECT received_ts FROM messages WHERE msg_id = ?", later["msg_id"])
    with raw_session(str(hub.endpoint)) as session:
        session.put(key, payload.encode())
        session.put(f"msg/mesh/inbox/agent/bob-agent/{marker['msg_id']}",
                    json.dumps(marker).encode())
        wait_until(lambda: has_msg(spoke, marker["msg_id"]), 10, message=spoke.node.log_tail)
    assert rows(spoke, "SELECT count(*) FROM messages WHERE msg_id = ?", later["msg_id"]) == [(1,)]
    assert rows(spoke, "SELECT received_ts FROM messages WHERE msg_id = ?",
                later["msg_id"]) == received
    inbox = [m["msg_id"] for m in msg(spoke, BOB, "inbox")]
    assert inbox == [later["msg_id"], marker["msg_id"]]

    # an ack made while the sender's host is down reaches it when it is back
    hub.node.stop()
    msg(spoke, BOB, "ack", later["msg_id"])
    hub.node.start()
    wait_until(lambda: has_ack(hub, later["msg_id"], "bob-s1"), 20, message=hub.node.log_tail)
    [status] = msg(hub, ALICE, "status", later["msg_id"])
    assert [a["recipient_session_id"] for a in status["acks"]] == ["bob-s1"]
    assert rows(hub, "SELECT count(*) FROM messages WHERE msg_id = ?", later["msg_id"]) == [(1,)]


def test_acks_go_with_their_expired_message(cluster):
    """An expired message purged on one host while the other still holds it (each
    host purges on its own clock) must not leave its ack behind: the ack is not
    fetched back from the peer, and once both purged, no ack is anywhere."""
    hub, spoke = pair(cluster, sync_interval_s=0.5)

    def round_trip() -> None:  # a full anti-entropy round each way, started from now
        t = time.time()
        wait_until(lambda: hub.synced_since(t, spoke) and spoke.synced_since(t, hub), 15)

    msg_id = msg(hub, ALICE, "send", "short-lived, acked", "--to-agent", "bob-agent",
                 "--ttl", "2")["msg_id"]
    wait_until(lambda: has_msg(spoke, msg_id), 10)
    msg(spoke, BOB, "ack", msg_id)
    wait_until(lambda: has_ack(hub, msg_id, "bob-s1"), 10)
    wait_until(lambda: msg(hub, ALICE, "status", msg_id)[0]["expired"], 10)

    assert msg(hub, ALICE, "purge-expired") == {"purged": 1}
    round_trip()
    round_trip()
    assert not has_msg(hub, msg_id) and not has_ack(hub, msg_id, "bob-s1"), \
        "the ack of a purged message came back from the peer"
    held = has_ack(spoke, msg_id, "bob-s1")  # unless its node purged on its own (60 s clock)
    assert msg(spoke, BOB, "purge-expired") == {"purged": 1 if held else 0}
    round_trip()
    round_trip()
    for host in (hub, spoke):
        assert rows(host, "SELECT count(*) FROM messages") == [(0,)], host.name
        assert rows(host, "SELECT count(*) FROM acks") == [(0,)], host.name


def test_who_shows_a_session_running_on_the_other_host(cluster):
    hub, spoke = pair(cluster)
    env = {**spoke.env, "KIOKU_MESH_CLIENT_ID": "bob-agent",
           "KIOKU_MESH_SESSION_ID": "bob-remote-1", "KIOKU_MESH_AGENT_FAMILY": "codex"}
    errlog = open(spoke.root / "mcp.log", "wb")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen([str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=errlog, env=env, cwd=str(spoke.home))
    try:
        def remote_sessions() -> list[dict[str, Any]]:
            return [s for s in msg(hub, ALICE, "who") if s["session_id"] == "bob-remote-1"]

        [seen] = wait_until(remote_sessions, 20, interval=0.2,
                            message=lambda: f"{hub.node_status()}")
        assert (seen["agent_id"], seen["host"]) == ("bob-agent", "mesh")
        spoke_pc = (spoke.state_dir / "pc_id").read_text().strip()
        assert seen["pc_id"] == spoke_pc  # which host the session runs on
        text = subprocess.run([*_cli(), "msg", "who"], capture_output=True, text=True,
                              env={**hub.env, **ALICE}, cwd=str(hub.home), timeout=60).stdout
        assert f"bob-agent session bob-remote-1 (on host {spoke_pc[:8]})" in text
        [local] = [s for s in msg(spoke, BOB, "who") if s["session_id"] == "bob-remote-1"]
        assert (local["host"], local["pid"]) == ("local", server.pid)

        # a message to that session, sent from h1, reaches it on h2
        sent = msg(hub, ALICE, "send", "hello remote session", "--to-session", "bob-remote-1")
        wait_until(lambda: has_msg(spoke, sent["msg_id"]), 10)
    finally:
        server.stdin.close()  # EOF: the server ends its session and exits
        try:
            code = server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise
        finally:
            errlog.close()
    assert code == 0, (spoke.root / "mcp.log").read_text()
    wait_until(lambda: not remote_sessions(), 20, interval=0.2,
               message=lambda: f"{hub.node_status()}")
    assert all(s["session_id"] != "bob-remote-1" for s in msg(spoke, BOB, "who"))
