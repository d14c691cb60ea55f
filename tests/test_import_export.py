"""Export to and import from JSONL through the real CLI."""

from __future__ import annotations

import json
import re

from cli_helpers import (
    CREATED_AT,
    HEX32,
    WIRE_FIELDS,
    counts,
    save,
    save_id,
    search_json,
    status,
    with_env,
)

FOREIGN = {
    "observation_id": "0123456789abcdef0123456789abcdef",
    "created_at": "2025-01-02T03:04:05.123456Z",
    "content": "Written by a newer peer",
    "subject": "From the future",
    "summary": "A peer with fields we do not know.",
    "project": "remote",
    "tags": ["peer", "future"],
    "memory_type": "decision",
    "importance": 3,
    "agent_family": "gemini",
    "client_id": "gemini-cli",
    "pc_id": "ab" * 16,
    "session_id": "20250102T030405Z-0badc0de",
    "source_files": ["lib/x.rs"],
    "references": ["#1"],
    "supersedes": [],
    "visibility": "mesh",
    "scope_id": "",
    "expires_at": "",
    "x_future_field": {"nested": [1, 2, {"deep": True}], "n": None},
    "confidence": 0.75,
}


def _export(km, *args: str) -> list[dict]:
    res = km.run("export", *args, check=True)
    return [json.loads(line) for line in res.stdout.splitlines()]


def _import(km, text: str | bytes, *args: str, check: bool = True):
    return km.run("import", "-", *args, input=text, check=check)


def test_round_trip_into_a_fresh_env_keeps_every_field(km, make_km, tmp_path):
    user_env = {"KIOKU_MESH_USER_ID": "alice"}
    first = save_id(km, "Original decision body", "Original", "--memory-type", "decision")
    save(km, "Replacement body. With detail.", "Replacement ✓ 日本語", "-p", "proj",
         "-t", "a,b", "--importance", "4", "--source-files", "src/x.py,README.md",
         "--references", "#67,PR#68", "--supersedes", first[:8], "--expires-at", "2099-05-06")
    save(km, "Private note", "Mine", "--visibility", "user", "--ttl", "86400",
         extra_env=user_env)
    doomed = save_id(km, "To be deleted", "Doomed")
    km.run("delete", doomed, "--reason", "wrong", check=True)
    _import(km, json.dumps(FOREIGN) + "\n")
    # A tombstone for a memory this host has not seen yet.
    _import(km, json.dumps({"observation_id": "9" * 32, "reason": "early",
                            "deleted_at": "2025-01-01T00:00:00.000000Z"}) + "\n")

    dump = tmp_path / "all.jsonl"
    res = km.run("export", "-o", str(dump), check=True)
    assert res.stdout == "" and "exported 7 records" in res.stderr
    exported = [json.loads(line) for line in dump.read_text("utf-8").splitlines()]
    observations = [e for e in exported if "content" in e]
    tombstones = [e for e in exported if "deleted_at" in e]
    assert len(observations) == 5 and len(tombstones) == 2
    for obs in observations:
        assert set(WIRE_FIELDS) <= set(obs)
    assert [o for o in observations if o["observation_id"] == FOREIGN["observation_id"]] == [FOREIGN]

    fresh = make_km()
    res = fresh.run("import", str(dump), check=True)
    assert res.stdout.startswith("imported 5 new memories, 0 already present, 2 tombstones")
    assert _export(fresh) == exported
    assert counts(fresh) == counts(km)
    # What search and get show is the same too.
    fresh_user, km_user = with_env(fresh, **user_env), with_env(km, **user_env)
    assert search_json(fresh_user, "--include-hidden") == search_json(km_user, "--include-hidden")
    for obs in observations:
        oid = obs["observation_id"]
        a = km_user.run("get", oid, "--include-hidden", "--json", check=True).stdout
        b = fresh_user.run("get", oid, "--include-hidden", "--json", check=True).stdout
        assert json.loads(a) == json.loads(b)


def test_import_is_idempotent_by_observation_id(km, make_km):
    for i in range(3):
        save_id(km, f"idempotent body {i}", f"Idem {i}")
    dump = km.run("export", check=True).stdout
    fresh = make_km()
    one = json.loads(_import(fresh, dump, "--json").stdout)
    assert (one["added"], one["existing"], one["errors"]) == (3, 0, [])
    before = counts(fresh)
    res = _import(fresh, dump)
    assert res.stdout.startswith("imported 0 new memories, 3 already present")
    assert counts(fresh) == before
    # Re-importing into the source store adds nothing either.
    assert json.loads(_import(km, dump, "--json").stdout)["added"] == 0


def test_lines_without_an_id_get_one(km):
    lines = [{"subject": "Hand written", "content": "Typed by a person"},
             {"subject": "Hand written", "content": "Typed by a person"},
             {"content": "No subject, only content. Second sentence."}]
    res = _import(km, "\n".join(json.dumps(line) for line in lines) + "\n")
    assert res.stdout.startswith("imported 3 new memories")
    got = _export(km)
    assert len({o["observation_id"] for o in got}) == 3
    pc_id = status(km)["identity"]["pc_id"]
    for obs in got:
        assert HEX32.match(obs["observation_id"])
        assert CREATED_AT.match(obs["created_at"])
        assert obs["pc_id"] == pc_id and obs["visibility"] == "mesh"
        assert obs["subject"]
    assert got[2]["subject"] == "No subject, only content."


def test_unknown_fields_are_kept_and_exported(km):
    _import(km, json.dumps(FOREIGN, ensure_ascii=False) + "\n")
    (exported,) = _export(km)
    assert exported == FOREIGN
    (shown,) = search_json(km, "peer")
    assert shown["x_future_field"] == FOREIGN["x_future_field"]


def test_import_checks_values_like_save(km):
    """Unknown fields ride along, but values are checked as strictly as a save:
    an import is this host writing (only peers' records get the tolerant read)."""
    bad = {"created_at": "garbage", "memory_type": "weird", "visibility": "galaxy",
           "expires_at": "someday", "project": "has spaces", "importance": 0}
    lines = [json.dumps({**FOREIGN, "observation_id": f"{i:032x}", field: value})
             for i, (field, value) in enumerate(bad.items(), start=1)]
    res = _import(km, "\n".join(lines) + "\n", check=False)
    assert res.returncode == 1 and res.stdout.startswith("imported 0 new memories")
    errors = res.stderr.splitlines()
    assert len(errors) == len(bad)
    for number, (line, field) in enumerate(zip(errors, bad, strict=True), start=1):
        assert line.startswith(f"line {number}: ") and field in line, line
    assert _export(km) == []


def test_bad_lines_are_reported_by_number_and_good_lines_kept(km, tmp_path):
    good = [json.dumps({"observation_id": c * 32, "subject": f"Good {c}", "content": "fine"})
            for c in "abc"]
    lines = [
        good[0].encode(),                                                  # 1 ok
        b'{"subject": "broken", ',                                         # 2 invalid JSON
        b'["an", "array"]',                                                # 3 not an object
        b'{"observation_id": "XYZ", "subject": "s", "content": "c"}',      # 4 bad id
        b'{"subject": "s", "content": "c", "importance": "3"}',            # 5 wrong type
        b'{"subject": "caf\xc3\x28", "content": "c"}',                     # 6 invalid UTF-8
        good[1].encode(),                                                  # 7 ok
        b"",                                                               # 8 blank: skipped
        b'{"subject": "s", "content": "c", "tags": "not-a-list"}',         # 9 wrong type
        b'{"subject": "s", "content": "nul \\u0000 inside"}',              # 10 NUL
        b'{"subject": "s", "content": "c", "tags": ["\\ud800"]}',          # 11 lone surrogate
        b"null",                                                           # 12 not an object
        b'{"subject": "s", "content": "c", "importance": 9}',              # 13 out of range
        b'{"observation_id": "' + b"A" * 32 + b'", "subject": "s", "content": "c"}',  # 14
        b'{"observation_id": "' + b"d" * 32 + b'", "deleted_at": "\\udfff"}',  # 15 surrogate
        good[2].encode(),                                                  # 16 ok
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    res = km.run("import", str(path))
    assert res.returncode != 0
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    bad_numbers = [int(m) for m in re.findall(r"^line (\d+): ", res.stderr, re.M)]
    assert bad_numbers == [2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15]
    assert len(res.stderr.splitlines()) == len(bad_numbers)
    assert res.stdout.startswith("imported 3 new memories")
    assert {o["observation_id"] for o in _export(km)} == {c * 32 for c in "abc"}
    report = json.loads(km.run("import", str(path), "--json").stdout)
    assert report["added"] == 0 and report["existing"] == 3
    assert [e["line"] for e in report["errors"]] == bad_numbers


def test_import_of_only_good_lines_exits_zero_and_bad_only_writes_nothing(km):
    assert _import(km, b'{"subject": "s", "content": "c"}\n', check=False).returncode == 0
    before = counts(km)
    res = _import(km, b"{not json}\n", check=False)
    assert res.returncode == 1 and res.stderr.startswith("line 1: not valid JSON")
    assert counts(km) == before


def test_export_without_tombstones_and_tombstone_lines(km):
    keep = save_id(km, "kept one", "Keep")
    gone = save_id(km, "deleted one", "Gone")
    km.run("delete", gone, "--reason", "mistake", check=True)
    full = _export(km)
    tomb = [e for e in full if "deleted_at" in e]
    assert len(tomb) == 1 and tomb[0]["observation_id"] == gone
    assert tomb[0]["reason"] == "mistake" and CREATED_AT.match(tomb[0]["deleted_at"])
    assert [e["observation_id"] for e in _export(km, "--no-tombstones")] == [keep, gone]
