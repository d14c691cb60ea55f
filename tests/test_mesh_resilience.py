"""Convergence when hosts go away: a partition (hub down), failover between two
hubs, and purges that a returning host must not resurrect."""

from __future__ import annotations

import time

import pytest
from mesh_helpers import Host, port_of, remote_ports, wait_until


def all_see(pairs: list[tuple[Host, tuple[Host, ...]]], timeout: float = 15.0) -> None:
    wait_until(lambda: all(h.sees(*others) for h, others in pairs), timeout,
               message=lambda: "\n".join(f"{h.name}: {h.online_peers()}" for h, _ in pairs))


def on_all(hosts: list[Host], ids: set[str], timeout: float = 20.0) -> None:
    wait_until(lambda: all(ids <= h.obs_ids() for h in hosts), timeout,
               message=lambda: "; ".join(f"{h.name} lacks {len(ids - h.obs_ids())}" for h in hosts)
               + "\n" + "\n".join(h.node.log_tail(8) for h in hosts))


def synced_since(host: Host, peer: Host, since: float) -> bool:
    """`host` finished an anti-entropy round with `peer` after `since` (wall clock)."""
    info = ((host.node_status() or {}).get("peers") or {}).get(peer.pc_id()) or {}
    return float(info.get("last_sync") or 0) > since and not info.get("error")


def test_partition_hub_down_then_everyone_converges(cluster):
    hub = cluster.hub("hub")
    a = cluster.spoke("a", hub)
    b = cluster.spoke("b", hub)
    for host in (hub, a, b):
        host.node.start()
    all_see([(hub, (a, b)), (a, (hub,)), (b, (hub,))])
    shared = a.save("known to all before the partition", "shared")
    on_all([hub, b], {shared})

    hub.node.stop()
    wait_until(lambda: hub.pc_id() not in a.online_peers() | b.online_peers(), 10)
    from_a = {a.save(f"a writes {i} while the hub is down", f"a {i}") for i in range(3)}
    from_b = {b.save(f"b writes {i} while the hub is down", f"b {i}") for i in range(3)}
    b.delete(shared)
    assert not from_a & b.obs_ids() and not from_b & a.obs_ids()
    assert a.status()["counts"]["live"] == 4  # local first: a's own writes are there

    hub.node.start()  # same port: the spokes' clients dial it again
    everything = from_a | from_b | {shared}
    on_all([hub, a, b], everything, timeout=30)
    wait_until(lambda: all(shared in h.tomb_ids() for h in (hub, a, b)), 15)
    assert hub.obs_ids() == a.obs_ids() == b.obs_ids() == everything
    for host in (hub, a, b):
        assert host.status()["counts"]["live"] == 6
    for host in (a, b, hub):
        host.node.stop()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_two_hubs_spokes_fail_over_when_hub1_stops(cluster, how):
    hub1 = cluster.hub("hub1")
    hub2 = cluster.hub("hub2", connect=[str(hub1.endpoint)])
    a = cluster.spoke("a", hub1, hub2)
    b = cluster.spoke("b", hub1, hub2)
    for host in (hub1, hub2, a, b):
        host.node.start()
    all_see([(hub1, (hub2, a, b)), (hub2, (hub1, a, b)), (a, (hub1, hub2)), (b, (hub1, hub2))])
    before = a.save("before hub1 stops", "before")
    on_all([b, hub1, hub2], {before}, timeout=10)

    # A client attaches to one hub at a time: the first endpoint that answers.
    spokes_pids = {s.name: s.node.proc.pid for s in (a, b) if s.node.proc}
    attached = {name: remote_ports(pid) for name, pid in spokes_pids.items()}
    if any(attached.values()):  # /proc is there
        assert all(ports == {port_of(hub1.endpoint)} for ports in attached.values()), attached

    if how == "sigterm":
        hub1.node.stop()
    else:
        hub1.node.kill9()
    after_a = a.save("written on a after hub1 went away", "after a")
    on_all([b, hub2], {after_a}, timeout=20)
    after_b = b.save("written on b after hub1 went away", "after b")
    on_all([a, hub2], {after_b}, timeout=20)

    if any(attached.values()):
        moved = {name: remote_ports(pid) for name, pid in spokes_pids.items()}
        assert all(ports == {port_of(hub2.endpoint)} for ports in moved.values()), moved
    wait_until(lambda: (online := set(a.status()["mesh"]["peers_online"]))
               and hub2.pc_id() in online and hub1.pc_id() not in online, 10)
    for host in (a, b, hub2):
        host.node.stop()


def test_spokes_on_different_hubs_share_through_the_hub_link(cluster):
    hub1 = cluster.hub("hub1")
    hub2 = cluster.hub("hub2", connect=[str(hub1.endpoint)])
    a = cluster.spoke("a", hub1)
    b = cluster.spoke("b", hub2)
    for host in (hub1, hub2, a, b):
        host.node.start()
    all_see([(a, (hub1, hub2)), (b, (hub1, hub2)), (hub1, (a, b)), (hub2, (a, b))])
    from_a = a.save("a is attached to hub1 only", "via hub1")
    on_all([hub1, hub2, b], {from_a}, timeout=10)
    from_b = b.save("b is attached to hub2 only", "via hub2")
    on_all([hub1, hub2, a], {from_b}, timeout=10)
    b.purge(from_a)
    wait_until(lambda: all(from_a in h.purged_ids() for h in (hub1, hub2, a)), 10)
    for host in (a, b, hub2, hub1):
        host.node.stop()


@pytest.mark.parametrize("down", ["spoke", "hub"])
def test_purge_is_never_resurrected_by_a_returning_host(cluster, down):
    """A purges M while a host holding M is down; when it returns, M is purged
    there too and comes back nowhere, even after further sync rounds."""
    hub = cluster.hub("hub")
    a = cluster.spoke("a", hub)
    b = cluster.spoke("b", hub)
    everyone = [hub, a, b]
    for host in everyone:
        host.set_mesh_option("sync_interval_s", 1)
        host.node.start()
    all_see([(hub, (a, b)), (a, (hub,)), (b, (hub,))])
    doomed = a.save("a secret pasted by mistake", "doomed")
    kept = a.save("an ordinary memory", "kept")
    on_all(everyone, {doomed, kept})

    returning = b if down == "spoke" else hub
    returning.node.stop()
    a.purge(doomed)
    if down == "spoke":
        wait_until(lambda: doomed in hub.purged_ids(), 10)
    assert doomed in returning.obs_ids()  # it still holds the memory

    returning.node.start()
    wait_until(lambda: all(doomed in h.purged_ids() and doomed not in h.obs_ids()
                           for h in everyone), 20,
               message=lambda: "\n".join(f"{h.name}: obs={doomed in h.obs_ids()} "
                                         f"purged={doomed in h.purged_ids()}" for h in everyone))
    # More full rounds in every direction must not bring it back.
    mark = time.time()
    wait_until(lambda: synced_since(hub, a, mark) and synced_since(hub, b, mark)
               and synced_since(a, hub, mark) and synced_since(b, hub, mark), 15)
    for host in everyone:
        assert doomed not in host.obs_ids() and doomed not in host.tomb_ids(), host.name
        assert doomed in host.purged_ids()
        assert kept in host.obs_ids()
        res = host.get(doomed, include_hidden=True)
        assert res.returncode != 0, (host.name, res.stdout)
    for host in (a, b, hub):
        host.node.stop()
