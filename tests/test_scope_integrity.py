"""ADR 0013 as a property: over random operations by random identities, a
memory's view (present, deleted, superseded) changes only through actions of
identities allowed to write its scope.

Each operation becomes the wire record a host would publish; a model of the
hub's access control (ADR 0008) drops what its author may not write there;
what passes reaches a receiving host in any order, through the real ingest
path (classify -> Node._add -> apply_peer_items). A second host receives
only the records by identities allowed to write one chosen scope, in the
same order: every memory of that scope must look the same on both hosts
after every delivery. At the end the views must be those the rules predict.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_helpers import save_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kioku_mesh.core.keyspace import build_key
from kioku_mesh.core.models import Observation, Tombstone, new_id
from kioku_mesh.mesh.ingest import classify
from kioku_mesh.mesh.node import Node
from kioku_mesh.store.db import Store
from kioku_mesh.store.replication import PeerItems, apply_peer_items
from kioku_mesh.store.search import SUPERSEDED_SQL, TOMBSTONED_SQL

ACTORS = ("alice", "bob", "carol")
SCOPES = ("mesh", "user/alice", "user/bob", "user/carol", "team/core")
CASES = 2000

ops = st.lists(st.one_of(
    st.tuples(st.just("save"), st.sampled_from(ACTORS), st.sampled_from(SCOPES),
              st.lists(st.integers(0, 30), max_size=2), st.lists(st.integers(0, 30), max_size=1)),
    st.tuples(st.just("delete"), st.sampled_from(ACTORS), st.sampled_from(SCOPES),
              st.integers(0, 30)),
    st.tuples(st.just("purge"), st.sampled_from(ACTORS), st.sampled_from(SCOPES),
              st.integers(0, 30)),
    st.tuples(st.sampled_from(["team-add", "team-remove"]), st.sampled_from(ACTORS)),
), min_size=1, max_size=14)


@dataclass
class Record:
    actor: str
    scope: str  # of the key it travels on
    key: str
    is_delete: bool
    payload: bytes
    writers: dict[str, bool]  # scope -> may the actor write it, when the record was made


@dataclass
class World:
    members: set[str] = field(default_factory=lambda: {"alice", "bob"})
    saves: list[tuple[str, str]] = field(default_factory=list)  # (id, scope), hub-passed or not
    records: list[Record] = field(default_factory=list)  # what the hub let through
    succ: dict[str, list[str]] = field(default_factory=dict)  # id -> ids it supersedes

    def may_write(self, actor: str, scope: str) -> bool:
        if scope == "mesh":
            return True
        kind, _, name = scope.partition("/")
        return name == actor if kind == "user" else actor in self.members

    def emit(self, actor: str, scope: str, key: str, payload: bytes, is_delete: bool) -> None:
        if self.may_write(actor, scope):  # the hub's access control
            self.records.append(Record(actor, scope, key, is_delete, payload,
                                       {s: self.may_write(actor, s) for s in SCOPES}))


def _key(kind: str, scope: str, actor: str, oid: str) -> str:
    tier, _, scope_id = scope.partition("/")
    return build_key(kind, tier, scope_id, "claude", f"{actor}-cli", f"{ACTORS.index(actor):032x}",
                     "20261204T120000Z-0badc0de", oid)


def play(script: list[tuple]) -> World:
    world = World()
    for op in script:
        if op[0] in ("team-add", "team-remove"):
            (world.members.add if op[0] == "team-add" else world.members.discard)(op[1])
            continue
        if op[0] == "save":
            _, actor, scope, sup, refs = op
            oid = new_id()
            older = [world.saves[i % len(world.saves)][0] for i in sup] if world.saves else []
            cited = [world.saves[i % len(world.saves)][0] for i in refs] if world.saves else []
            tier, _, scope_id = scope.partition("/")
            obs = Observation(observation_id=oid, created_at="2026-12-04T12:00:00.000000Z",
                              content=f"{actor} in {scope}", subject="s", summary="s",
                              agent_family="claude", client_id=f"{actor}-cli",
                              pc_id=f"{ACTORS.index(actor):032x}",
                              session_id="20261204T120000Z-0badc0de", supersedes=older,
                              references=cited, visibility=tier, scope_id=scope_id)
            world.saves.append((oid, scope))
            world.succ[oid] = older
            world.emit(actor, scope, _key("obs", scope, actor, oid), obs.to_json().encode(), False)
            continue
        if not world.saves:
            continue
        kind, actor, scope, target = op
        oid = world.saves[target % len(world.saves)][0]
        if kind == "delete":
            tomb = Tombstone(oid, f"by {actor}", "2026-12-04T12:00:01.000000Z")
            world.emit(actor, scope, _key("tomb", scope, actor, oid), tomb.to_json().encode(), False)
        else:  # an exact-key DELETE: purge
            world.emit(actor, scope, _key("obs", scope, actor, oid), b"", True)
    return world


def deliver(store: Store, record: Record) -> None:
    items = PeerItems()
    Node._add(items, classify(record.key, record.is_delete, record.payload))
    apply_peer_items(store, items)


def views(store: Store) -> dict[str, tuple[bool, bool]]:
    """id -> (deleted, superseded) as search decides it, for every stored memory."""
    rows = store.db.execute(
        f"SELECT o.id, {TOMBSTONED_SQL}, {SUPERSEDED_SQL} FROM observations o").fetchall()
    return {r[0]: (bool(r[1]), bool(r[2])) for r in rows}


def expected(world: World) -> dict[str, tuple[bool, bool]]:
    """The views ADR 0013 predicts once everything arrived: only records on the
    memory's own scope's keys act on it."""
    scope_of = dict(world.saves)
    passed = {(r.key.rsplit("/", 1)[1], r.scope, "purge" if r.is_delete else r.key.split("/")[-6])
              for r in world.records}
    saved = {i for i, s, what in passed if what == "obs" and (i, s) in scope_of.items()}
    present = {i for i in saved if (i, scope_of[i], "purge") not in passed}
    deleted = {i for i in present if (i, scope_of[i], "tomb") in passed}
    return {i: (i in deleted, any(n in present and n not in deleted and scope_of[n] == scope_of[i]
                                  for n, olds in world.succ.items() if i in olds))
            for i in present}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scope") / "template.db"
    Store.open(path).close()  # migrated once; each case copies it
    return path


def _fresh(template: Path, name: str) -> Store:
    path = template.with_name(name)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, path)
    store = Store.open(path)
    store.db.execute("PRAGMA synchronous = OFF")  # durability is not under test: no fsyncs
    return store


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=ops, order=st.randoms(use_true_random=False), watched=st.sampled_from(SCOPES[1:]))
def test_only_writers_of_a_scope_change_how_its_memories_look(template, script, order, watched):
    world = play(script)
    records = list(world.records)
    order.shuffle(records)  # peers, the hub's relay and anti-entropy deliver in any order
    full, only = _fresh(template, "full.db"), _fresh(template, "only.db")
    mine = {i for i, s in world.saves if s == watched}
    try:
        for record in records:
            deliver(full, record)
            if record.writers[watched]:
                deliver(only, record)
            seen, clean = views(full), views(only)
            for oid in mine:
                assert seen.get(oid) == clean.get(oid), (oid, watched, record.actor, record.key)
        assert views(full) == expected(world)
    finally:
        full.close()
        only.close()


def test_the_model_sees_effects_within_a_scope(template):
    """The property above is not vacuous: a same-scope supersede, delete and
    purge by the owner do act, the same by others do not."""
    world = play([("save", "alice", "user/alice", [], []),
                  ("save", "bob", "mesh", [0], []),
                  ("save", "alice", "user/alice", [0], []),
                  ("save", "alice", "user/alice", [], []),
                  ("delete", "bob", "mesh", 3), ("purge", "carol", "mesh", 3),
                  ("delete", "alice", "user/alice", 3),
                  ("save", "carol", "team/core", [], []),  # carol is not in core: dropped
                  ("save", "alice", "team/core", [], []), ("purge", "alice", "team/core", 5)])
    store = _fresh(template, "model.db")
    try:
        for record in world.records:
            deliver(store, record)
        ids = [i for i, _ in world.saves]
        assert views(store) == expected(world) == {
            ids[0]: (False, True), ids[1]: (False, False), ids[2]: (False, False),
            ids[3]: (True, False)}
    finally:
        store.close()


def test_save_and_get_memory_say_when_a_supersede_is_ignored(km):
    """Locally too: a successor in another scope keeps the link as data, hides
    nothing, and both the save and get-memory say so (on both memories)."""
    alice = {"KIOKU_MESH_USER_ID": "alice"}
    old = save_id(km, "the signing key is on the yubikey", "signing key", "--visibility", "user",
                  extra_env=alice)
    res = km.run("save", "the signing key moved to the vault", "-s", "signing key moved",
                 "--visibility", "mesh", "--supersedes", old[:10], extra_env=alice, check=True)
    new = res.stdout.split()[1]
    assert f"note: {old[:12]} is in another scope" in res.stderr, res.stderr
    shown = json.loads(km.run("get-memory", old, "--json", extra_env=alice, check=True).stdout)
    assert any(new[:12] in s and "ignored" in s for s in shown["_state"]), shown
    text = km.run("get-memory", new, extra_env=alice, check=True).stdout
    assert f"supersedes {old[:12]}: ignored, another scope" in text, text
    found = km.run("search", "signing key", "--json", extra_env=alice, check=True).stdout
    assert {o["observation_id"] for o in json.loads(found)["hits"]} == {old, new}

    same = save_id(km, "the signing key is in the vault", "signing key, now", "--visibility",
                   "user", "--supersedes", old, extra_env=alice)
    found = km.run("search", "signing key", "--json", extra_env=alice, check=True).stdout
    assert {o["observation_id"] for o in json.loads(found)["hits"]} == {new, same}


def test_an_ack_counts_only_on_its_message_scope_keys(template):
    """Acks through the real ingest path: bob's ack of alice's user-scope
    message, sent on a mesh key (all he may write), marks nothing; alice's on
    her own scope's key does."""
    from kioku_mesh.core.messages import Ack, Message
    from kioku_mesh.store.messages import acks_for

    message = Message(msg_id=new_id(), scope="user/alice", sender_agent_id="claude-code",
                      sender_session_id="s-alice-1", recipient_kind="session",
                      recipient_id="s-alice-2", body="rotate the key", requires_ack=True,
                      created_at="2026-12-04T12:00:00.000000Z")
    ack = Ack(message.msg_id, "s-alice-2", "2026-12-04T12:00:01.000000Z")
    store = _fresh(template, "acks.db")
    try:
        for key, payload in ((message.inbox_key(), message.to_json()),
                             (ack.ack_key("mesh"), json.dumps(ack.to_wire()))):
            deliver(store, Record("bob", "mesh", key, False, payload.encode(), {}))
        assert acks_for(store, message.msg_id) == []
        deliver(store, Record("alice", "user/alice", ack.ack_key("user/alice"), False,
                              json.dumps(ack.to_wire()).encode(), {}))
        assert [a.recipient_session_id for a in acks_for(store, message.msg_id)] == ["s-alice-2"]
    finally:
        store.close()
