"""Issue 12 §2: status says what is true, with the age of each fact.

Two real nodes: after they stop, nothing reads as online; a second node on
one state dir is refused with the pid of the first; a hub that cannot
listen says so and exits non-zero instead of retrying a "connect".
"""

from __future__ import annotations

import socket
import time

from cli_helpers import assert_one_line_error
from mesh_helpers import Node, endpoint, free_port, wait_until


def _text_status(host) -> str:
    return host.run("status").stdout


def test_status_after_nodes_stop_shows_last_heard_never_online(cluster):
    hub, spoke = cluster.connected_pair()
    oid = spoke.save("replicated before the stop", "before stop")
    wait_until(lambda: oid in hub.obs_ids(), 10)
    # Right after a catch-up the sync is on record, not "not synced".
    wait_until(lambda: (spoke.status()["mesh"]["peers"].get(hub.pc_id()) or {}).get("last_sync"), 15)
    running = _text_status(spoke)
    assert f"peer {hub.pc_id()[:8]} (hub): connected, synced " in running
    assert "node:      running (spoke, pid" in running and "reported " in running

    # The spoke's node stops: the running hub says so, with when it last heard it.
    spoke.node.stop()

    def hub_saw_it_go() -> bool:
        peer = hub.status()["mesh"]["peers"].get(spoke.pc_id()) or {}
        return peer.get("online") is False and bool(peer.get("last_heard"))

    wait_until(hub_saw_it_go, 15)
    assert f"peer {spoke.pc_id()[:8]} (spoke): last heard " in _text_status(hub)
    hub.node.stop()
    for host, other in ((spoke, hub), (hub, spoke)):
        info = host.status()["mesh"]
        assert info["node_running"] is False and info["peers_online"] == []
        peer = info["peers"][other.pc_id()]
        assert peer["online"] is False and peer["last_heard"] > 0
        text = _text_status(host)
        assert "online" not in text and "connected" not in text
        assert f"peer {other.pc_id()[:8]}" in text and "last heard " in text
        assert "(node not running: not current)" in text
        assert "node:      not running (the " in text and "last reported " in text


def test_status_of_a_quick_start_hub_says_a_node_runs_despite_local_mode(cluster):
    hub = cluster.host("hub")
    hub.node = Node(hub, ("mesh", "start", "--listen", endpoint(free_port())))
    hub.node.start()
    text = _text_status(hub)
    assert text.startswith("mode:      local (config); a hub node runs anyway")
    hub.node.stop()


def test_a_second_node_on_the_same_state_dir_is_refused_with_the_pid(cluster):
    hub = cluster.hub("hub")
    hub.node.start()
    for args in (("node", "run"), ("mesh", "start", "--listen", endpoint(free_port()))):
        res = hub.run(*args, check=False, timeout=30)
        err = assert_one_line_error(res, 1, contains="already runs")
        assert f"pid {hub.node.proc.pid}" in err
    assert hub.node.alive
    hub.node.stop()
    # Once it is gone, a node may start again.
    hub.node.start()
    hub.node.stop()


def test_a_listen_failure_is_reported_as_such_and_exits_non_zero(cluster):
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    host = cluster.host("hub")
    try:
        started = time.monotonic()
        res = host.run("mesh", "start", "--listen", f"tcp/127.0.0.1:{port}", check=False, timeout=30)
        assert res.returncode == 1 and "Traceback" not in res.stderr
        err = res.stderr.strip().splitlines()[-1]  # after the start-up banner
        assert err.startswith("kioku-mesh: error: cannot listen on tcp/127.0.0.1:")
        assert f"127.0.0.1:{port}" in err and "in use" in err.lower()
        assert "cannot connect" not in res.stderr
        assert time.monotonic() - started < 20
    finally:
        busy.close()
    res = host.run("mesh", "start", "--listen", "tcp/127.0.0.1:99999", check=False, timeout=30)
    assert_one_line_error(res, 2, contains="port must be 1 to 65535")
