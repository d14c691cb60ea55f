"""Replication over a real network link that goes away: two Linux network
namespaces joined by a veth pair, a hub node in one and a spoke in the other.

The link is cut for longer than the Zenoh lease (3 s), so both sessions drop;
both sides write and delete while partitioned; the link comes back and both
stores must converge through anti-entropy. The time from link restore to
convergence is printed (run with `-s`), not asserted tightly.

Needs root and iproute2. Skipped (with the reason) when not root, when `ip` is
missing, or when a namespace cannot be created (e.g. an unprivileged CI
container). Only the test's own namespaces are touched: the veth pair is
created inside them and dies with them; the host's interfaces and routes are
never changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mesh_helpers import CLI, Host, Node, free_port, wait_until

IP = shutil.which("ip")
LEASE_S = 3.0  # MeshConfig.lease_ms
SUBNET = "10.231.0"  # a /30 that only exists inside the two namespaces
HUB_ADDR, SPOKE_ADDR = f"{SUBNET}.1", f"{SUBNET}.2"
HUB_IF, SPOKE_IF = "km-hub0", "km-spoke0"  # names live inside the namespaces
CONVERGE_TIMEOUT_S = 60.0


def _sh(*cmd: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    return res


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert IP is not None
    return _sh(IP, *(("-n", ns) if ns else ()), *args, check=check)


# ------------------------------------------------- hosts whose processes run in a netns


class NetnsNode(Node):
    """A node started with `ip netns exec NS python -m kioku_mesh.cli.main node run`
    (`ip netns exec` execs in place, so the Popen pid is the node's pid)."""

    host: NetnsHost

    def start(self, wait: bool = True, timeout: float = 15.0) -> NetnsNode:
        assert not self.alive, f"{self.host.name}: node already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start #{self.starts} in {self.host.netns}: "
                      f"{' '.join(self.args)}\n".encode())
            self.proc = subprocess.Popen(
                [*self.host.prefix, *CLI, *self.args], env=self.host.env,
                cwd=str(self.host.home), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            wait_until(self._running, timeout,
                       message=lambda: f"{self.host.name} node not running\n{self.log_tail()}")
        return self


@dataclass
class NetnsHost(Host):
    """A kioku-mesh host whose CLI and node run inside network namespace `netns`."""

    netns: str = ""

    def __post_init__(self) -> None:
        self.node = NetnsNode(self)

    @property
    def prefix(self) -> list[str]:
        assert IP is not None and self.netns
        return [IP, "netns", "exec", self.netns]

    def run(self, *args: str, check: bool = True, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.prefix, *CLI, *args], input=(input or "").encode(),
                              capture_output=True, env=self.env, cwd=str(self.home),
                              timeout=timeout)
        res = subprocess.CompletedProcess(proc.args, proc.returncode,
                                          proc.stdout.decode("utf-8", "replace"),
                                          proc.stderr.decode("utf-8", "replace"))
        if check and res.returncode != 0:
            raise AssertionError(f"{self.name}: {args} failed ({res.returncode}): {res.stderr}")
        return res

    def peers_online(self) -> set[str]:
        """What `kioku-mesh status --json` reports as online (run inside the netns)."""
        return set(self.status()["mesh"].get("peers_online") or [])


def make_host(root: Path, name: str, netns: str) -> NetnsHost:
    home = root / name / "home"
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KIOKU_MESH_", "MESH_MEM_", "XDG_", "ZENOH"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"),
               KIOKU_MESH_STATE_DIR=str(root / name / "state"),
               KIOKU_MESH_CLIENT_ID=f"test-{name}", PYTHONUNBUFFERED="1")
    return NetnsHost(name, root / name, env, netns=netns)


@dataclass
class NetnsMesh:
    hub: NetnsHost
    spoke: NetnsHost

    def cut(self) -> None:
        ip("link", "set", SPOKE_IF, "down", ns=self.spoke.netns)

    def restore(self) -> None:
        ip("link", "set", SPOKE_IF, "up", ns=self.spoke.netns)


def _stop(host: Host) -> list[str]:
    """SIGTERM (SIGKILL if it hangs); returns a complaint if it did not exit cleanly."""
    if not host.node.alive:
        return []
    try:
        host.node.stop()
    except AssertionError as exc:
        return [str(exc)]
    return []


@pytest.fixture
def netns_mesh(tmp_path: Path) -> Iterator[NetnsMesh]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces and a veth pair")
    if IP is None:
        pytest.skip("iproute2 `ip` is not installed")
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"  # unique per run: parallel runs don't collide
    ns_hub, ns_spoke = f"kmesh-{tag}-hub", f"kmesh-{tag}-spoke"
    created: list[str] = []
    hosts: list[NetnsHost] = []
    try:
        for ns in (ns_hub, ns_spoke):
            res = ip("netns", "add", ns, check=False)
            if res.returncode != 0:
                pytest.skip(f"cannot create a network namespace here (`ip netns add` said: "
                            f"{res.stderr.strip() or res.returncode}); not permitted in this "
                            "container?")
            created.append(ns)
        probe = _sh(IP, "netns", "exec", ns_hub, IP, "link", "set", "lo", "up", check=False)
        if probe.returncode != 0:
            pytest.skip(f"cannot run a process inside a network namespace here "
                        f"(`ip netns exec` said: {probe.stderr.strip()})")
        # The veth pair is created inside the hub's namespace with its peer end
        # placed straight into the spoke's: the host namespace never sees it.
        ip("link", "add", HUB_IF, "type", "veth", "peer", "name", SPOKE_IF, "netns", ns_spoke,
           ns=ns_hub)
        for ns, dev, addr in ((ns_hub, HUB_IF, HUB_ADDR), (ns_spoke, SPOKE_IF, SPOKE_ADDR)):
            ip("link", "set", "lo", "up", ns=ns)
            ip("addr", "add", f"{addr}/30", "dev", dev, ns=ns)
            ip("link", "set", dev, "up", ns=ns)

        hub = make_host(tmp_path, "hub", ns_hub)
        hub.endpoint = f"tcp/{HUB_ADDR}:{free_port()}"
        hub.run("init", "--mode", "hub", "--listen", hub.endpoint)
        spoke = make_host(tmp_path, "spoke", ns_spoke)
        spoke.run("init", "--mode", "spoke", "--connect", hub.endpoint)
        hosts += [hub, spoke]
        yield NetnsMesh(hub, spoke)
    finally:
        hung: list[str] = []
        try:
            for host in reversed(hosts):
                hung += _stop(host)
        finally:
            for ns in created:  # also removes the veth pair
                ip("netns", "del", ns, check=False)
        assert not hung, "\n".join(hung)


# ------------------------------------------------------------------ the test


def _state(hosts: list[NetnsHost]) -> str:
    return "\n".join(f"{h.name}: obs={len(h.obs_ids())} tombs={len(h.tomb_ids())} "
                     f"online={sorted(p[:8] for p in h.online_peers())}\n{h.node.log_tail(10)}"
                     for h in hosts)


def test_partition_over_a_veth_link_converges(netns_mesh: NetnsMesh,
                                              record_property: Any) -> None:
    t_start = time.monotonic()
    hub, spoke = netns_mesh.hub, netns_mesh.spoke
    both = [hub, spoke]
    hub.node.start()
    spoke.node.start()
    hub_pc, spoke_pc = hub.pc_id(), spoke.pc_id()

    # Connected across the link, as `status --json` shows it.
    wait_until(lambda: spoke_pc in hub.peers_online() and hub_pc in spoke.peers_online(), 20,
               interval=0.2, message=lambda: _state(both))
    from_hub = hub.save("written on the hub before the partition", "hub before")
    from_spoke = spoke.save("written on the spoke before the partition", "spoke before")
    doomed_by_spoke = hub.save("hub memory the spoke deletes while partitioned", "doomed 1")
    doomed_by_hub = spoke.save("spoke memory the hub deletes while partitioned", "doomed 2")
    before = {from_hub, from_spoke, doomed_by_spoke, doomed_by_hub}
    wait_until(lambda: all(before <= h.obs_ids() for h in both), 20,
               message=lambda: _state(both))

    # Cut the link for longer than the lease: both sessions drop.
    netns_mesh.cut()
    cut_at = time.monotonic()
    wait_until(lambda: spoke_pc not in hub.online_peers() and hub_pc not in spoke.online_peers(),
               LEASE_S + 10, message=lambda: "sessions did not drop\n" + _state(both))
    dropped_s = time.monotonic() - cut_at
    assert hub_pc not in spoke.peers_online() and spoke_pc not in hub.peers_online()

    # Both sides keep working locally while partitioned.
    hub_new = {hub.save(f"hub writes {i} during the partition", f"hub part {i}")
               for i in range(4)}
    spoke_new = {spoke.save(f"spoke writes {i} during the partition", f"spoke part {i}")
                 for i in range(4)}
    spoke.delete(doomed_by_spoke)
    hub.delete(doomed_by_hub)
    hub_local_delete = sorted(hub_new)[0]  # the spoke never saw it live
    hub.delete(hub_local_delete)
    deleted = {doomed_by_spoke, doomed_by_hub, hub_local_delete}
    assert not hub_new & spoke.obs_ids() and not spoke_new & hub.obs_ids(), "link still up?"
    assert doomed_by_spoke not in hub.tomb_ids() and doomed_by_hub not in spoke.tomb_ids()
    # Stay cut for well over a lease even if the writes were quick.
    while time.monotonic() - cut_at < 2 * LEASE_S:
        time.sleep(0.1)
    partition_s = time.monotonic() - cut_at

    # Restore the link and time the convergence (cheap direct reads of each store).
    everything = before | hub_new | spoke_new
    netns_mesh.restore()
    restored_at = time.monotonic()
    reconnected: dict[str, float] = {}

    def converged() -> bool:
        if "at" not in reconnected and spoke_pc in hub.online_peers() \
                and hub_pc in spoke.online_peers():
            reconnected["at"] = time.monotonic()
        return all(everything <= h.obs_ids() and deleted <= h.tomb_ids() for h in both)

    wait_until(converged, CONVERGE_TIMEOUT_S, interval=0.02,
               message=lambda: "stores did not converge after the link came back\n"
               + "\n".join(f"{h.name} lacks {len(everything - h.obs_ids())} memories, "
                           f"{len(deleted - h.tomb_ids())} deletes" for h in both)
               + "\n" + _state(both))
    converge_s = time.monotonic() - restored_at
    reconnect_s = reconnected.get("at", time.monotonic()) - restored_at

    assert hub.obs_ids() == spoke.obs_ids() == everything
    assert hub.tomb_ids() == spoke.tomb_ids() == deleted
    counts = [h.status()["counts"] for h in both]
    assert counts[0]["live"] == counts[1]["live"] == len(everything) - len(deleted), counts
    wait_until(lambda: spoke_pc in hub.peers_online() and hub_pc in spoke.peers_online(), 15,
               interval=0.2, message=lambda: _state(both))
    for host in (spoke, hub):
        host.node.stop()

    timings = {"sessions_dropped_s": round(dropped_s, 2), "partition_s": round(partition_s, 2),
               "reconnect_s": round(reconnect_s, 2), "restore_to_converge_s": round(converge_s, 2),
               "test_s": round(time.monotonic() - t_start, 2)}
    for name, value in timings.items():
        record_property(name, value)
    print(f"\nnetns partition timings: {json.dumps(timings)}")
