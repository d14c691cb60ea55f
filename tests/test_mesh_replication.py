"""Replication between real node processes on loopback: live pub/sub, local-first
backlog, catch-up after SIGKILL and a new spoke joining a big hub."""

from __future__ import annotations

import signal
import time

from mesh_helpers import Host, all_converged, wait_until, wire_observation, write_jsonl


def connected(hub: Host, *spokes: Host, timeout: float = 15.0) -> None:
    """Wait until the hub sees every spoke online and every spoke sees the hub."""
    wait_until(lambda: hub.sees(*spokes) and all(s.sees(hub) for s in spokes), timeout,
               message=lambda: "\n".join(f"{h.name}: {h.node_status()}" for h in (hub, *spokes)))


def replicated(hosts: list[Host], oid: str) -> None:
    wait_until(lambda: all(oid in h.obs_ids() for h in hosts), 10,
               message=lambda: f"{oid} missing on " + ", ".join(
                   h.name for h in hosts if oid not in h.obs_ids()))


def assert_tombstoned(host: Host, oid: str) -> None:
    res = host.get(oid)
    assert res.returncode != 0 and "deleted" in res.stderr, (host.name, res.stderr)
    assert host.get(oid, include_hidden=True).returncode == 0
    listed = host.run("search", "--json", "-n", "100").stdout
    assert oid not in listed


def assert_purged(host: Host, oid: str) -> None:
    assert oid not in host.obs_ids() and oid not in host.tomb_ids(), host.name
    assert oid in host.purged_ids(), host.name
    res = host.get(oid, include_hidden=True)
    assert res.returncode != 0, (host.name, res.stdout)
    assert "Traceback" not in res.stderr


def test_live_replication_hub_and_spokes(cluster):
    """save, delete and purge travel hub->spoke, spoke->hub and spoke->hub->spoke
    by pub/sub alone: anti-entropy rounds are pushed an hour apart."""
    hub = cluster.hub("hub")
    a = cluster.spoke("a", hub)
    b = cluster.spoke("b", hub)
    everyone = [hub, a, b]
    for host in everyone:
        host.set_mesh_option("sync_interval_s", 3600)
        host.node.start()
    connected(hub, a, b)
    for host in everyone:  # the one round each does when a peer appears
        wait_until(lambda h=host: all(p.get("last_sync") for p in
                                      (h.node_status() or {}).get("peers", {}).values()
                                      if p.get("role") == "hub" or h is hub), 10)

    from_hub = hub.save("written on the hub: tabs not spaces", "hub note")
    replicated(everyone, from_hub)
    from_a = a.save("written on spoke a: use uv for envs", "a note")
    replicated(everyone, from_a)
    from_b = b.save("written on spoke b: ports are 7447", "b note")
    replicated(everyone, from_b)
    for host in everyone:
        assert host.get(from_b).returncode == 0

    # delete: a tombstone, hidden (not gone) everywhere
    a.delete(from_b)      # spoke -> hub -> spoke (back to its author)
    hub.delete(from_a)    # hub -> spokes
    wait_until(lambda: all({from_a, from_b} <= h.tomb_ids() for h in everyone), 10)
    for host in (hub, b):
        assert_tombstoned(host, from_b)
    for host in (a, b):
        assert_tombstoned(host, from_a)

    # purge: gone for good everywhere, even with --include-hidden
    b.purge(from_hub)     # spoke -> hub -> spoke
    hub.purge(from_a)     # a tombstoned one, from the hub
    wait_until(lambda: all({from_hub, from_a} <= h.purged_ids() for h in everyone), 10)
    for host in everyone:
        assert_purged(host, from_hub)
        assert_purged(host, from_a)
        assert host.obs_ids() == {from_b}

    for host in everyone:
        stats = host.node_status()["stats"]
        assert not any(k.startswith("rejected.") for k in stats), (host.name, stats)
    for host in (a, b, hub):
        host.node.stop()


def test_saves_work_with_the_node_stopped_and_go_out_when_it_starts(cluster):
    hub = cluster.hub("hub")
    hub.node.start()
    spoke = cluster.spoke("spoke", hub)  # configured, node not running

    ids = []
    for i in range(3):
        started = time.monotonic()
        ids.append(spoke.save(f"offline save number {i} about sqlite wal", f"offline {i}"))
        assert time.monotonic() - started < 5, "a save must never wait on the network"
    spoke.delete(ids[0])
    status = spoke.status()
    assert status["mesh"]["node_running"] is False
    assert status["mesh"]["backlog"] == 4  # three observations and a tombstone
    assert status["counts"]["live"] == 2

    spoke.node.start()
    wait_until(lambda: set(ids) <= hub.obs_ids() and ids[0] in hub.tomb_ids(), 15,
               message=lambda: spoke.node.log_tail())
    wait_until(lambda: spoke.status()["mesh"]["backlog"] == 0, 10)
    wait_until(lambda: hub.pc_id() in spoke.status()["mesh"]["peers_online"], 10)
    assert spoke.status()["mesh"]["node_running"] is True
    assert hub.status()["counts"]["live"] == 2
    spoke.node.stop()
    hub.node.stop()


def test_spoke_killed_with_sigkill_catches_up_on_restart(cluster, tmp_path):
    hub = cluster.hub("hub")
    spoke = cluster.spoke("spoke", hub)
    hub.node.start()
    spoke.node.start()
    connected(hub, spoke)
    kept = hub.save("kept but deleted while the spoke is down", "to delete")
    doomed = hub.save("purged while the spoke is down", "to purge")
    replicated([spoke], kept)
    replicated([spoke], doomed)

    spoke.node.kill9()
    assert spoke.node.proc is not None and spoke.node.proc.returncode == -signal.SIGKILL
    assert spoke.status()["mesh"]["node_running"] is False
    wait_until(lambda: spoke.pc_id() not in hub.online_peers(), 10)

    new = [hub.save(f"hub write {i} while the spoke is dead", f"meanwhile {i}") for i in range(3)]
    batch = [wire_observation(subject=f"imported {i}", content=f"bulk body {i}") for i in range(200)]
    report = hub.import_file(write_jsonl(tmp_path / "batch.jsonl", batch))
    assert report["added"] == 200
    new += [o["observation_id"] for o in batch]
    hub.delete(kept)
    hub.purge(doomed)
    assert not set(new) & spoke.obs_ids()

    spoke.node.start()
    wait_until(lambda: all_converged([spoke], new) and kept in spoke.tomb_ids()
               and doomed in spoke.purged_ids(), 20, message=lambda: spoke.node.log_tail())
    assert spoke.obs_ids() == hub.obs_ids()
    assert_tombstoned(spoke, kept)
    assert_purged(spoke, doomed)
    spoke.node.stop()
    hub.node.stop()


def test_new_spoke_receives_all_of_a_big_hub(cluster, tmp_path):
    total = 5000
    hub = cluster.hub("hub")
    records = (wire_observation(subject=f"bulk memory {i}", content=f"body of bulk memory {i}",
                                tags=["bulk", f"n{i % 10}"]) for i in range(total))
    report = hub.import_file(write_jsonl(tmp_path / "big.jsonl", records))
    assert report["added"] == total and not report["errors"]
    assert hub.status()["counts"]["live"] == total

    hub.node.start()
    spoke = cluster.spoke("spoke", hub)
    started = time.monotonic()
    spoke.node.start()
    wait_until(lambda: len(spoke.obs_ids()) >= total, 60, interval=0.25,
               message=lambda: f"spoke has {len(spoke.obs_ids())}\n{spoke.node.log_tail()}")
    elapsed = time.monotonic() - started
    assert spoke.obs_ids() == hub.obs_ids()
    assert spoke.status()["counts"]["live"] == total
    assert elapsed < 60
    spoke.node.stop()
    hub.node.stop()


def test_sigterm_during_a_big_catch_up_exits_promptly_then_resumes(cluster, tmp_path):
    """A node stops within seconds even in the middle of fetching thousands of
    memories (it does not finish the whole catch-up first), and a restart
    completes it."""
    total = 4000
    hub = cluster.hub("hub")
    records = (wire_observation(subject=f"large memory {i}",
                                content=f"memory {i} " + "lorem ipsum dolor sit amet " * 200)
               for i in range(total))
    assert hub.import_file(write_jsonl(tmp_path / "large.jsonl", records))["added"] == total
    hub.node.start()
    spoke = cluster.spoke("spoke", hub)
    spoke.node.start()
    wait_until(lambda: spoke.obs_ids(), 30, interval=0.02)
    spoke.node.stop()  # fails if the node is still running 5 s after SIGTERM
    assert len(spoke.obs_ids()) < total, "caught up before the stop: the test proves nothing"

    spoke.node.start()
    wait_until(lambda: len(spoke.obs_ids()) >= total, 60, interval=0.25,
               message=lambda: f"spoke has {len(spoke.obs_ids())}\n{spoke.node.log_tail()}")
    assert spoke.obs_ids() == hub.obs_ids()
    spoke.node.stop()
    hub.node.stop()
