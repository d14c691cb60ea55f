"""The secured mesh end to end: mutual TLS with our private CA, scopes enforced
by certificate common name at the hub, live team membership, and attacks by
a peer holding a valid certificate.

Real `kioku-mesh` node processes on 127.0.0.1 (free ports), enrolled through
the CLI (`tls request | tls sign | tls install`); the hub is the CA host with
CN "hub", spokes run as their user (KIOKU_MESH_USER_ID = their CN). Nothing
sleeps to synchronise: absence is asserted only after a positive event that
would have carried the data (a later sample on the same path, or a sync
round that started after the save). Tests 2-4 share one running mesh.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mesh_helpers import (
    Cluster,
    Host,
    now_wire,
    obs_key,
    raw_session,
    tls_endpoint,
    wait_until,
    wire_observation,
)

SYNC_S = 1.0  # anti-entropy interval on every node here (default 5 s)
REFUSED = "refused the TLS handshake"
HUB_OPENED = "running as hub"  # logged each time the hub (re)opens its session


# ------------------------------------------------------------------ helpers


def secured_hub(cluster: Cluster, name: str = "hub") -> Host:
    """`init --mode hub --tls`, then the hub's own CA and its certificate (CN hub)."""
    hub = cluster.hub(name, tls=True)
    hub.run("tls", "init-ca")
    hub.enroll(hub, "hub")
    hub.set_mesh_option("sync_interval_s", SYNC_S)
    return hub


def secured_spoke(cluster: Cluster, name: str, hub: Host, user: str,
                  team: str | None = None) -> Host:
    """`init --mode spoke --tls` dialling `hub`, enrolled at `hub` with CN = user."""
    env = {"KIOKU_MESH_USER_ID": user, **({"KIOKU_MESH_TEAM_ID": team} if team else {})}
    spoke = cluster.spoke(name, hub, tls=True, env=env)
    spoke.enroll(hub, user)
    spoke.set_mesh_option("sync_interval_s", SYNC_S)
    return spoke


def connected(hub: Host, *spokes: Host, timeout: float = 20.0) -> None:
    wait_until(lambda: hub.sees(*spokes) and all(s.sees(hub) for s in spokes), timeout,
               message=lambda: "\n".join(f"{h.name}: {h.node_status()}\n{h.node.log_tail(10)}"
                                         for h in (hub, *spokes)))


def synced(pairs: list[tuple[Host, list[Host]]], since: float, timeout: float = 30.0) -> None:
    """Wait until every host completed a sync round with each of its peers that
    started after `since` (so it saw everything written before)."""
    wait_until(lambda: all(h.synced_since(since, *peers) for h, peers in pairs), timeout,
               message=lambda: "\n".join(f"{h.name}: {(h.node_status() or {}).get('peers')}"
                                         for h, _ in pairs))


def has(host: Host, *ids: str, timeout: float = 20.0) -> None:
    wait_until(lambda: host.has_all(ids), timeout,
               message=lambda: f"{host.name} lacks {set(ids) - host.obs_ids()}\n"
                               f"{host.node.log_tail(15)}")


def lacks(host: Host, *ids: str) -> None:
    leaked = set(ids) & host.obs_ids()
    assert not leaked, f"{host.name} holds {leaked}, which it must never receive"


def hub_reopened(hub: Host, opened_before: int) -> None:
    """The hub logged a new session open (with the access control it just reloaded)."""
    wait_until(lambda: hub.node.log_count(HUB_OPENED) > opened_before, 15,
               message=lambda: f"hub did not reload its access control\n{hub.node.log_tail(15)}")


def rejected(host: Host, reason: str) -> int:
    return int(((host.node_status() or {}).get("stats") or {}).get(f"rejected.{reason}", 0))


# ------------------------------------------------------------------ 1. mTLS


def test_mtls_admits_our_certificates_and_refuses_the_rest(cluster):
    hub = secured_hub(cluster)
    spoke = secured_spoke(cluster, "spoke", hub, "alice")

    # A certificate from another CA, even claiming CN alice and trusting our
    # (public) CA certificate, so the hub's own certificate is accepted: only
    # the hub's check of the client certificate can refuse it.
    rogue = cluster.spoke("rogue", hub, tls=True, env={"KIOKU_MESH_USER_ID": "alice"})
    rogue.run("tls", "init-ca")
    rogue.enroll(rogue, "alice")
    shutil.copyfile(hub.state_dir / "tls" / "ca.crt", rogue.state_dir / "tls" / "ca.crt")
    # `init --tls` without any certificate installed.
    bare = cluster.spoke("bare", hub, tls=True, env={"KIOKU_MESH_USER_ID": "bob"})

    started = time.monotonic()
    res = bare.run("node", "run", check=False, timeout=30)
    took = time.monotonic() - started
    assert res.returncode != 0, res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("kioku-mesh: error: no TLS certificate installed"), lines[0]
    assert "tls install" in lines[0] and "Traceback" not in res.stderr
    assert took < 10, f"node run took {took:.1f}s to fail without a certificate"
    assert not (bare.state_dir / "node-status.json").exists()

    hub.node.start()
    spoke.node.start()
    rogue.node.start(wait=False)
    connected(hub, spoke)
    from_rogue = rogue.save("written on the rogue host", None, "--visibility", "mesh")

    from_hub = hub.save("hub: release branches are cut on mondays", "hub note")
    from_spoke = spoke.save("spoke: the staging db is read-only", "spoke note")
    has(spoke, from_hub)
    has(hub, from_spoke)

    wait_until(lambda: REFUSED in str((rogue.node_status() or {}).get("error")), 15,
               message=lambda: f"{rogue.node_status()}\n{rogue.node.log_tail(10)}")
    mesh = rogue.status()["mesh"]
    assert mesh["state"] == "connecting" and not mesh["node_running"], mesh
    assert REFUSED in mesh["error"] and tls_endpoint(hub.endpoint) in mesh["error"], mesh["error"]
    assert rogue.node.alive  # it keeps retrying, it does not crash
    assert REFUSED in rogue.run("status").stdout

    # A full sync round after every save: still nothing crossed either way.
    synced([(hub, [spoke]), (spoke, [hub])], time.time())
    assert hub.online_peers() == {spoke.pc_id()}
    lacks(rogue, from_hub, from_spoke)
    lacks(hub, from_rogue)
    lacks(spoke, from_rogue)
    assert rogue.obs_ids() == {from_rogue}


# ------------------------------------------- 2 and 3: alice, bob and team core


@pytest.fixture(scope="module")
def team_mesh(tmp_path_factory) -> Iterator[tuple[Host, Host, Host]]:
    """A running hub (CN hub, CA host), alice and bob (team core configured on
    both spokes), with only alice in team core at the hub."""
    cluster = Cluster(tmp_path_factory.mktemp("secured"))
    try:
        hub = secured_hub(cluster)
        alice = secured_spoke(cluster, "alice", hub, "alice", "core")
        bob = secured_spoke(cluster, "bob", hub, "bob", "core")
        hub.run("team", "add", "core", "alice")
        for host in (hub, alice, bob):
            host.node.start()
        connected(hub, alice, bob)
        yield hub, alice, bob
    finally:
        cluster.close()


def test_user_and_team_scopes_and_membership_changes(team_mesh):
    hub, alice, bob = team_mesh
    everyone = [(hub, [alice, bob]), (alice, [hub]), (bob, [hub])]

    a_user = alice.save("alice only: my gpg key lives on the yubikey", None, "--visibility", "user")
    b_user = bob.save("bob only: my vpn profile is split-tunnel", None, "--visibility", "user")
    a_team = alice.save("team core: deploys freeze on fridays", None, "--visibility", "team")
    b_team = bob.save("bob, not in core yet: core uses trunk", None, "--visibility", "team")
    a_mesh = alice.save("everyone: the wiki moved to /docs", None, "--visibility", "mesh")
    b_mesh = bob.save("everyone: ci caches live in s3", None, "--visibility", "mesh")

    # What each may see replicates...
    has(hub, a_user, b_user, a_team, a_mesh, b_mesh)
    has(alice, b_mesh)
    has(bob, a_mesh)
    # ...and after a sync round begun after every save, nothing else did.
    synced(everyone, time.time())
    lacks(bob, a_user, a_team)
    lacks(alice, b_user, b_team)
    lacks(hub, b_team)
    assert bob.has_all({b_user, b_team}) and alice.has_all({a_user, a_team})

    # bob joins core: he gets the team's memories, and his earlier team memory
    # (refused until now, kept on his host) reaches the hub and alice.
    opened = hub.node.log_count(HUB_OPENED)
    hub.run("team", "add", "core", "bob")
    hub_reopened(hub, opened)
    has(bob, a_team, timeout=30)
    has(hub, b_team, timeout=30)
    has(alice, b_team, timeout=30)
    assert hub.has_all({a_user, b_user, a_team, b_team, a_mesh, b_mesh})  # nothing lost
    assert alice.has_all({a_user, a_team, a_mesh, b_mesh})
    assert bob.has_all({b_user, b_team, a_mesh, b_mesh})
    lacks(bob, a_user)
    lacks(alice, b_user)
    # a new team memory now travels live both ways
    b_team2 = bob.save("core member bob: rotate the api keys monthly", None, "--visibility", "team")
    has(alice, b_team2)

    # bob leaves core: new team memories no longer reach him.
    opened = hub.node.log_count(HUB_OPENED)
    hub.run("team", "remove", "core", "bob")
    hub_reopened(hub, opened)
    synced(everyone, time.time())  # everyone reconnected under the new rules
    a_team2 = alice.save("core after bob left: new on-call rota", None, "--visibility", "team")
    a_mesh2 = alice.save("everyone: lunch talk on thursday", None, "--visibility", "mesh")
    has(hub, a_team2, a_mesh2)
    has(bob, a_mesh2)  # published after a_team2 on the same path
    synced(everyone, time.time())
    lacks(bob, a_team2)
    assert alice.has_all({a_team2, b_team2})


# ------------------------------------------------ 3. a peer with a valid cert


def _bobs(records: list[tuple[str, bytes]], bob_ids: set[str]) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in records
            if "user/bob" in k or b"user/bob" in v or any(i.encode() in v for i in bob_ids)]


def _ask(session: Any, selectors: list[str], payloads: dict[str, bytes] | None = None,
         timeout: float = 5.0) -> dict[str, list[tuple[str, bytes]]]:
    """Send every query at once, then collect each one's replies (ok: key and
    payload; errors: key '<error>')."""
    handlers = {sel: session.get(sel, payload=(payloads or {}).get(sel), timeout=timeout)
                for sel in selectors}
    out: dict[str, list[tuple[str, bytes]]] = {}
    for sel, handler in handlers.items():
        out[sel] = [(str(r.ok.key_expr), r.ok.payload.to_bytes()) if r.ok is not None
                    else ("<error>", r.err.payload.to_bytes()) for r in handler]
    return out


def _answer(replies: dict[str, list[tuple[str, bytes]]], sel: str) -> Any:
    """The JSON of the one successful reply to `sel`."""
    ok = [v for k, v in replies[sel] if k != "<error>"]
    assert len(ok) == 1, f"get({sel!r}) answered {replies[sel]}"
    return json.loads(ok[0])


def test_alices_certificate_cannot_reach_bobs_scope(team_mesh):
    hub, alice, bob = team_mesh
    connected(hub, alice, bob)
    hub_pc = hub.pc_id()
    b_old = bob.save("bob-secret: the prod bastion is 10.9.8.7", None, "--visibility", "user")
    a_own = alice.save("alice's own note for the control", None, "--visibility", "user")
    has(hub, b_old, a_own)

    got: dict[str, list[tuple[str, bytes]]] = {e: [] for e in (
        "mem/**", "mem/user/**", "mem/mesh/**", "mem/user/alice/**")}

    def collector(expr: str) -> Any:
        return lambda s: got[expr].append((str(s.key_expr), s.payload.to_bytes()))

    with raw_session(tls_endpoint(hub.endpoint), tls=alice.tls_block()) as session:
        subs = [session.declare_subscriber(e, collector(e)) for e in got]
        # The router handles a link's messages in order: once a later query is
        # answered, it has processed (admitted or refused) every declaration.
        own = f"kioku/sync/{hub_pc}/user/alice/ids?prefix="
        assert a_own in _answer(_ask(session, [own]), own)

        # -- subscriptions: bob saves in his scope, then in the mesh
        b_new = bob.save("bob-secret: the deploy token rotates at noon", None, "--visibility", "user")
        b_mesh = bob.save("bob to everyone: standup moved to 10:00", None, "--visibility", "mesh")
        a_ctrl = alice.save("alice to herself: renew the domain", None, "--visibility", "user")
        bob_ids = {b_old, b_new}
        wait_until(lambda: any(b_mesh in k for k, _ in got["mem/mesh/**"]), 15,
                   message=lambda: f"control subscription got {got['mem/mesh/**']}")
        wait_until(lambda: any(a_ctrl in k for k, _ in got["mem/user/alice/**"]), 15,
                   message="alice's own scope did not reach her raw session")
        has(hub, b_new, b_mesh)
        for expr in ("mem/**", "mem/user/**"):
            assert not _bobs(got[expr], bob_ids), f"subscription {expr} received bob's: {got[expr]}"
        assert not _bobs(got["mem/mesh/**"] + got["mem/user/alice/**"], bob_ids)

        # -- queries: storage and sync, wildcards and bob's exact scope
        ids = json.dumps(sorted(bob_ids)).encode()
        denied = ["mem/**", "mem/user/**", "mem/user/bob/**", "kioku/sync/*/user/bob/**",
                  f"kioku/sync/{hub_pc}/user/bob/digest?prefix=",
                  f"kioku/sync/{hub_pc}/user/bob/ids?prefix=",
                  f"kioku/sync/{hub_pc}/user/bob/items"]
        ok = [f"kioku/sync/{hub_pc}/mesh/items",  # bob's ids asked for through the mesh scope
              "mem/mesh/**", own]
        replies = _ask(session, denied + ok, {f"kioku/sync/{hub_pc}/user/bob/items": ids,
                                              f"kioku/sync/{hub_pc}/mesh/items": ids})
        for sel, recs in replies.items():
            assert not _bobs(recs, bob_ids), f"get({sel!r}) returned bob's: {recs}"
        for sel in denied:
            assert not [r for r in replies[sel] if r[0] != "<error>"], (sel, replies[sel])
        assert _answer(replies, f"kioku/sync/{hub_pc}/mesh/items") == []
        assert any(b_mesh in k for k, _ in replies["mem/mesh/**"])  # controls
        assert a_ctrl in _answer(replies, own)

        # -- puts: into bob's scope, and into the mesh labelled as bob's
        forged = wire_observation(content="forged into bob's scope", visibility="user",
                                  scope_id="bob")
        mislabeled = wire_observation(content="bob's scope smuggled via mesh",
                                      visibility="user", scope_id="bob")
        control = wire_observation(content="alice's raw session, a fair mesh memory")
        mismatches = rejected(hub, "scope_mismatch")
        bob_mismatches = rejected(bob, "scope_mismatch")
        session.put(obs_key(forged), json.dumps(forged))
        session.put(obs_key({**mislabeled, "visibility": "mesh"}), json.dumps(mislabeled))
        session.put(obs_key(control), json.dumps(control))
        has(hub, control["observation_id"])
        has(bob, control["observation_id"])
        wait_until(lambda: rejected(hub, "scope_mismatch") > mismatches
                   and rejected(bob, "scope_mismatch") > bob_mismatches, 10,
                   message=lambda: f"hub stats: {(hub.node_status() or {}).get('stats')}\n"
                                   f"bob stats: {(bob.node_status() or {}).get('stats')}")
        for sub in subs:
            sub.undeclare()

    status = hub.status()["mesh"]
    assert status["rejected"].get("scope_mismatch", 0) >= mismatches + 1, status["rejected"]
    for host in (hub, bob, alice):
        lacks(host, forged["observation_id"], mislabeled["observation_id"])


def test_alices_certificate_cannot_delete_bobs_memories(team_mesh):
    """Deletes travel on mesh keys (allowed to every peer) but name the id of a
    memory in bob's scope: a tombstone, an exact-key DELETE, a wildcard DELETE
    and a legacy-tier DELETE must neither hide nor purge it anywhere."""
    hub, alice, bob = team_mesh
    connected(hub, alice, bob)
    targets = [bob.save(f"bob-secret #{i}: keep me", None, "--visibility", "user")
               for i in range(4)]
    has(hub, *targets)
    tail = f"cli/test-alice/{alice.pc_id()}/20261125T120000Z-0badc0de"
    tombstone = {"observation_id": targets[0], "reason": "alice says so", "deleted_at": now_wire()}
    control = wire_observation(content="alice's raw session, after the deletes")
    before = {h.name: rejected(h, "scope_mismatch") for h in (hub, bob)}
    with raw_session(tls_endpoint(hub.endpoint), tls=alice.tls_block()) as session:
        session.put(f"mem/mesh/tomb/{tail}/{targets[0]}", json.dumps(tombstone))
        session.delete(f"mem/mesh/obs/{tail}/{targets[1]}")
        session.delete(f"mem/mesh/obs/**/{targets[2]}")
        session.delete(f"mem/obs/{tail}/{targets[3]}")
        session.put(obs_key(control), json.dumps(control))
        has(hub, control["observation_id"])
        has(bob, control["observation_id"])
    synced([(hub, [bob]), (bob, [hub])], time.time())
    for host in (hub, bob):  # all four arrived, and were refused
        assert rejected(host, "scope_mismatch") >= before[host.name] + 4, host.node_status()
        assert host.has_all(targets), f"{host.name} lost {set(targets) - host.obs_ids()}"
        assert not set(targets) & (host.tomb_ids() | host.purged_ids()), host.name
    assert bob.get(targets[0]).returncode == 0

    # bob's own deletes, on his scope's keys, still travel.
    bob.delete(targets[0])
    bob.purge(targets[1])
    wait_until(lambda: targets[0] in hub.tomb_ids() and targets[1] in hub.purged_ids(), 15,
               message=lambda: hub.node.log_tail(10))


# ------------------------------------- 4. effects of one memory on another


WATCH_S = 20.0  # how long the victims' memories are watched after the attempts


def shown(host: Host, reader: str, teams: tuple[str, ...], ids: set[str]) -> set[str]:
    """Which of `ids` a plain search by `reader` on `host` shows (the real
    search code, in-process: cheap enough to poll)."""
    from kioku_mesh.store.db import Store
    from kioku_mesh.store.search import ReaderScope, SearchQuery, search

    store = Store.open(host.db_path)
    try:
        hits = search(store.db, SearchQuery(limit=1000), ReaderScope(reader, teams)).hits
    finally:
        store.close()
    return {h.observation.observation_id for h in hits} & ids


def test_nobody_hides_a_memory_of_a_scope_they_may_not_write(cluster):
    """Issue 11: bob (not alice) and carol (not in core) save memories whose
    `supersedes` names alice's user memory and core's team memory. Those stay
    shown on every host for WATCH_S seconds after the attempts reached it,
    while supersedes within a scope (alice of her own, bob of core's, as a
    member) still hide their predecessors everywhere."""
    hub = secured_hub(cluster)
    laptop = secured_spoke(cluster, "alice-laptop", hub, "alice", "core")
    desktop = secured_spoke(cluster, "alice-desktop", hub, "alice", "core")
    bob = secured_spoke(cluster, "bob-laptop", hub, "bob", "core")
    carol = secured_spoke(cluster, "carol", hub, "carol")
    hub.run("team", "add", "core", "alice")
    hub.run("team", "add", "core", "bob")
    spokes = (laptop, desktop, bob, carol)
    for host in (hub, *spokes):
        host.node.start()
    connected(hub, *spokes)

    a_user = laptop.save("alice only: the release key is on the yubikey", None,
                         "--visibility", "user")
    a_team = laptop.save("core: deploys freeze on fridays", None, "--visibility", "team")
    has(desktop, a_user, a_team)
    has(bob, a_team)
    has(hub, a_user, a_team)

    attempts = [
        bob.save("bob: the release key moved", None, "--visibility", "mesh", "--supersedes", a_user),
        bob.save("bob, in core: same, team-wide", None, "--visibility", "team",
                 "--supersedes", a_user),
        carol.save("carol: deploys any day now", None, "--visibility", "mesh",
                   "--supersedes", a_team),
    ]
    has(hub, *attempts)
    has(laptop, *attempts)
    has(desktop, *attempts)
    has(bob, attempts[2])
    arrived = time.monotonic()
    alices = ((laptop, {a_user, a_team}), (desktop, {a_user, a_team}), (hub, {a_user, a_team}))
    cores = ((bob, "bob", {a_team}), (hub, "bob", {a_team}))
    checks = 0
    while time.monotonic() - arrived < WATCH_S:
        for host, ids in alices:
            assert shown(host, "alice", ("core",), ids) == ids, f"{host.name} hides one of {ids}"
        for host, reader, ids in cores:
            assert shown(host, reader, ("core",), ids) == ids, f"{host.name} hides {ids}"
        checks += 1
        time.sleep(0.2)
    print(f"\nwatched for {time.monotonic() - arrived:.1f}s after the attempts arrived "
          f"({checks} rounds over 5 views)")
    for host in (laptop, desktop):  # the CLI says so, and why
        state = json.loads(host.get(a_user).stdout)["_state"]
        assert any(attempts[0][:12] in s and "ignored" in s for s in state), state
        found = json.loads(host.run("search", "release key", "--json").stdout)["hits"]
        assert a_user in {hit["observation_id"] for hit in found}, found

    # The hub does not tell carol which users and teams hold private memories.
    with raw_session(tls_endpoint(hub.endpoint), tls=carol.tls_block()) as session:
        sel = f"kioku/sync/{hub.pc_id()}/mesh/scopes"
        assert _answer(_ask(session, [sel]), sel) == ["mesh"]

    # Supersedes within a scope by someone who may write it still take effect.
    a_user2 = desktop.save("alice: the release key is in the vault now", None,
                           "--visibility", "user", "--supersedes", a_user)
    b_team = bob.save("core, by member bob: deploys freeze on thursdays", None,
                      "--visibility", "team", "--supersedes", a_team)
    has(laptop, a_user2, b_team)
    has(hub, a_user2, b_team)
    for host in (laptop, desktop, hub):
        wait_until(lambda h=host: not shown(h, "alice", ("core",), {a_user, a_team}), 10,
                   message=lambda h=host: f"{h.name} still shows the superseded memories")
    wait_until(lambda: not shown(bob, "bob", ("core",), {a_team}), 10)
    assert "superseded" in laptop.get(a_user).stderr
