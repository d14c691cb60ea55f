"""Setting a host up for the mesh, the quick-start commands, and a spoke that
starts before its hub (and must still stop at once on SIGTERM)."""

from __future__ import annotations

import json
import time

from cli_helpers import assert_one_line_error
from mesh_helpers import Host, Node, endpoint, free_port, wait_until


def test_init_spoke_without_connect_fails_with_one_line(km):
    res = km.run("init", "--mode", "spoke")
    assert_one_line_error(res, 2, contains="--connect")
    assert not km.config_path.exists()


def test_node_run_on_a_local_host_fails_with_one_line(km):
    km.run("init", "--mode", "local", check=True)
    res = km.run("node", "run", timeout=20)
    assert_one_line_error(res, 2, contains="mode")


def test_init_install_service_writes_a_systemd_user_unit(km):
    ep = endpoint(free_port())
    res = km.run("init", "--mode", "hub", "--listen", ep, "--install-service", "--json",
                 check=True)
    out = json.loads(res.stdout)
    unit = km.home / ".config" / "systemd" / "user" / "kioku-mesh-node.service"
    assert km.env["XDG_CONFIG_HOME"] == str(km.home / ".config")
    assert out["service_path"] == str(unit)
    text = unit.read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_line.endswith(" node run")
    assert f"Environment=KIOKU_MESH_STATE_DIR={km.state_dir}" in text
    assert "[Install]" in text and "WantedBy=default.target" in text
    assert out["mesh"]["listen"] == [ep]


def test_quick_start_mesh_start_and_mesh_join(cluster):
    """No `init`: `mesh start --listen EP` and `mesh join EP` replicate too."""
    hub = cluster.host("hub")
    hub.endpoint = endpoint(free_port())
    hub.node = Node(hub, ("mesh", "start", "--listen", hub.endpoint))
    spoke = cluster.host("spoke")
    spoke.node = Node(spoke, ("mesh", "join", hub.endpoint))
    hub.node.start()
    spoke.node.start()
    wait_until(lambda: hub.sees(spoke) and spoke.sees(hub), 15)
    oid = spoke.save("quick start replicates", "quick")
    wait_until(lambda: oid in hub.obs_ids(), 10)
    back = hub.save("and back again", "back")
    wait_until(lambda: back in spoke.obs_ids(), 10)
    assert hub.status()["mesh"]["role"] == "hub"
    assert spoke.status()["mesh"]["role"] == "spoke"
    spoke.node.stop()
    hub.node.stop()


def dialing(host: Host) -> bool:
    """The node process is up and has said so, but is not running yet (no hub)."""
    data = host.node_status() or {}
    proc = host.node.proc
    return bool(proc and data.get("pid") == proc.pid and data.get("state") != "running"
                and host.node.alive)


def test_spoke_started_before_its_hub_waits_then_connects(cluster):
    port = free_port()
    spoke = cluster.spoke("spoke", endpoint(port))
    early = spoke.save("saved before any hub exists", "early")
    spoke.node.start(wait=False)
    wait_until(lambda: dialing(spoke), 15, message=lambda: spoke.node.log_tail())
    assert spoke.status()["mesh"]["node_running"] is False
    assert spoke.node.alive

    # SIGTERM while it is still dialing a hub that does not exist: prompt exit.
    started = time.monotonic()
    spoke.node.stop()
    assert time.monotonic() - started < 5

    spoke.node.start(wait=False)
    wait_until(lambda: dialing(spoke), 15, message=lambda: spoke.node.log_tail())
    hub = cluster.hub("hub", port=port)
    hub.node.start()
    wait_until(lambda: early in hub.obs_ids(), 20, message=lambda: spoke.node.log_tail())
    wait_until(lambda: spoke.status()["mesh"]["node_running"], 10)
    spoke.node.stop()
    hub.node.stop()
