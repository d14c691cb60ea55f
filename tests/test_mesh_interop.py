"""A raw Zenoh session (standing in for a reference peer or a hostile one)
against a real hub node: ingress validation, reference-format puts,
tombstones and DELETEs, and answering `mem/**` queries like a storage."""

from __future__ import annotations

import json

import pytest
from mesh_helpers import (
    new_id,
    now_wire,
    obs_key,
    raw_session,
    wait_until,
    wire_observation,
    write_jsonl,
)

zenoh = pytest.importorskip("zenoh")
BLOCK = zenoh.CongestionControl.BLOCK
WIRE_TYPES = {"importance": int, "tags": list, "source_files": list, "references": list,
              "supersedes": list}


def rejected(host) -> dict[str, int]:
    return dict(host.status()["mesh"]["rejected"])


def test_malformed_samples_are_rejected_and_counted_valid_ones_ingested(cluster):
    hub = cluster.hub("hub")
    hub.node.start()
    baseline = hub.save("the store before the attack", "baseline")
    before = hub.status()["counts"]

    def put(key: str, body: bytes | str | dict) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        session.put(key, data.encode() if isinstance(data, str) else data,
                    congestion_control=BLOCK)

    with raw_session(str(hub.endpoint)) as session:
        ok = wire_observation()
        other = new_id()
        # invalid JSON, and bytes that are not UTF-8
        put(obs_key(wire_observation()), b'{"observation_id": ')
        put(obs_key(wire_observation()), b"\xff\xfe\x00garbage")
        # JSON that is no observation: not an object; an object without an id
        put(obs_key(wire_observation()), b"[1, 2, 3]")
        put(obs_key(wire_observation()), {"content": "no id", "subject": "x"})
        # key leaf that is no id; a leaf that is an id but not the body's
        put(obs_key(ok).rsplit("/", 1)[0] + "/not-an-id", ok)
        put(obs_key(ok).rsplit("/", 1)[0] + "/" + other, ok)
        # oversized: more than 1 MiB
        put(obs_key(wire_observation(content="x" * (1024 * 1024 + 10))),
            wire_observation(content="x" * (1024 * 1024 + 10)))
        # identity segments of the key that do not match the body
        spoofed = wire_observation()
        put(obs_key({**spoofed, "pc_id": "e" * 32}), spoofed)
        put(obs_key({**spoofed, "session_id": "someone-else"}), spoofed)
        # tier/scope of the key that do not match the body
        put(obs_key({**spoofed, "visibility": "team", "scope_id": "core"}), spoofed)
        # a tombstone whose body names another id than its key
        put(obs_key(ok, "tomb"), {"observation_id": other, "reason": "x", "deleted_at": now_wire()})
        # non-memory keys under mem/
        put("mem/notes/hello", ok)
        put("mem/mesh/obs/too/short/" + ok["observation_id"], ok)
        session.delete("mem/whatever/thing", congestion_control=BLOCK)
        # a lone surrogate escape: valid JSON that SQLite cannot store as UTF-8
        put(obs_key(surrogate := wire_observation()),
            json.dumps({**surrogate, "content": "broken \ud800 text"}))

        expected = {"bad_json": 3, "bad_shape": 2, "bad_key": 4, "id_mismatch": 2,
                    "oversized": 1, "identity_mismatch": 2, "scope_mismatch": 1}
        wait_until(lambda: rejected(hub) == expected, 10,
                   message=lambda: f"rejected: {rejected(hub)}\n{hub.node.log_tail()}")
        assert hub.node.alive
        status = hub.status()
        assert status["mesh"]["node_running"] is True
        assert status["counts"] == before
        assert hub.obs_ids() == {baseline} and not hub.tomb_ids() and not hub.purged_ids()

        # A valid observation exactly as a reference peer writes it is ingested...
        put(obs_key(ok), json.dumps(ok, ensure_ascii=False))
        oid = ok["observation_id"]
        wait_until(lambda: oid in hub.obs_ids(), 10, message=lambda: hub.node.log_tail())
        got = json.loads(hub.get(oid).stdout)
        assert {k: got[k] for k in ok} == ok
        assert got["importance"] == 3
        # ...a reference-style tombstone hides it...
        put(obs_key(ok, "tomb"), {"observation_id": oid, "reason": "ref delete",
                                  "deleted_at": now_wire()})
        wait_until(lambda: oid in hub.tomb_ids(), 10)
        res = hub.get(oid)
        assert res.returncode != 0 and "deleted" in res.stderr
        assert hub.get(oid, include_hidden=True).returncode == 0
        # ...and a DELETE on the exact obs key purges it.
        session.delete(obs_key(ok), congestion_control=BLOCK)
        wait_until(lambda: oid in hub.purged_ids(), 10)
        assert oid not in hub.obs_ids() and oid not in hub.tomb_ids()
        assert hub.get(oid, include_hidden=True).returncode != 0

        # A tombstone that arrives before its observation is remembered.
        late = wire_observation(subject="tombstoned before it arrived")
        put(obs_key(late, "tomb"), {"observation_id": late["observation_id"], "reason": "early",
                                    "deleted_at": now_wire()})
        put(obs_key(late), late)
        wait_until(lambda: late["observation_id"] in hub.obs_ids(), 10)
        assert "deleted" in hub.get(late["observation_id"]).stderr
        # The reference `gc --force-id` also sends wildcard DELETEs ending in the id.
        gone = wire_observation(subject="purged by wildcard")
        put(obs_key(gone), gone)
        wait_until(lambda: gone["observation_id"] in hub.obs_ids(), 10)
        session.delete(f"mem/**/obs/**/{gone['observation_id']}", congestion_control=BLOCK)
        session.delete(f"mem/**/tomb/**/{gone['observation_id']}", congestion_control=BLOCK)
        wait_until(lambda: gone["observation_id"] in hub.purged_ids(), 10)
        assert gone["observation_id"] not in hub.obs_ids()

    assert rejected(hub) == expected  # the valid ones were not counted as rejects
    assert hub.status()["counts"]["live"] == 1  # baseline (late is tombstoned)
    hub.node.stop()


def test_hub_answers_mem_queries_completely_like_a_storage(cluster, tmp_path):
    hub = cluster.hub("hub")
    records = [wire_observation(subject=f"stored {i}", session_id=f"s{i % 3}",
                                pc_id=f"{i % 4:x}" * 32) for i in range(40)]
    records += [wire_observation(subject=f"team {i}", visibility="team", scope_id="core")
                for i in range(5)]
    records += [wire_observation(subject=f"user {i}", visibility="user", scope_id="alice")
                for i in range(5)]
    assert hub.import_file(write_jsonl(tmp_path / "n.jsonl", records))["added"] == len(records)
    deleted = [records[0]["observation_id"], records[41]["observation_id"]]
    for oid in deleted:
        hub.delete(oid)
    by_id = {r["observation_id"]: r for r in records}
    hub.node.start()

    with raw_session(str(hub.endpoint)) as session:
        def get(selector: str) -> list[tuple[str, dict]]:
            out = []
            for reply in session.get(selector, target=zenoh.QueryTarget.ALL,
                                     consolidation=zenoh.ConsolidationMode.NONE, timeout=10):
                assert reply.ok is not None, reply.err.payload.to_string()
                out.append((str(reply.ok.key_expr), json.loads(reply.ok.payload.to_bytes())))
            return out

        replies = get("mem/**/obs/**")
        assert len(replies) == len(records)
        assert len({key for key, _ in replies}) == len(records)
        for key, body in replies:
            assert key.rsplit("/", 1)[-1] == body["observation_id"]
            assert key == obs_key(by_id[body["observation_id"]])
            for name, value in by_id[body["observation_id"]].items():
                assert body[name] == value, name
                assert isinstance(body[name], WIRE_TYPES.get(name, str))

        tombs = get("mem/**/tomb/**")
        assert sorted(body["observation_id"] for _, body in tombs) == sorted(deleted)
        for key, body in tombs:
            assert key == obs_key(by_id[body["observation_id"]], "tomb")

        one = records[7]["observation_id"]
        per_id = get(f"mem/**/obs/**/{one}")
        assert [(k, b["observation_id"]) for k, b in per_id] == [(obs_key(by_id[one]), one)]
        team_one = records[42]["observation_id"]
        assert [b["observation_id"] for _, b in get(f"mem/**/obs/**/{team_one}")] == [team_one]
        assert [b["observation_id"] for _, b in get(f"mem/**/tomb/**/{deleted[1]}")] == [deleted[1]]
        assert get(f"mem/**/obs/**/{new_id()}") == []
        assert len(get("mem/team/core/obs/**")) == 5
    hub.node.stop()
