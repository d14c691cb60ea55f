"""The CLI's commands, end to end: real subprocesses on a real SQLite store."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from datetime import UTC, datetime

import pytest
from cli_helpers import (
    ANSI,
    CLI,
    CREATED_AT,
    HEX32,
    WIRE_FIELDS,
    WIRE_TYPES,
    assert_one_line_error,
    counts,
    save,
    save_id,
    search_ids,
    search_json,
    status,
    wait_for,
    with_env,
)


def _epoch(wire: str) -> float:
    return datetime.strptime(wire, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def _assert_wire(obj: dict) -> None:
    """Every field of the wire format, with its type."""
    missing = [f for f in WIRE_FIELDS if f not in obj]
    assert missing == [], f"missing wire fields {missing}"
    for name, kind in WIRE_TYPES.items():
        assert isinstance(obj[name], kind), (name, obj[name])
        if kind is list:
            assert all(isinstance(v, str) for v in obj[name]), (name, obj[name])
    assert not isinstance(obj["importance"], bool)
    assert HEX32.match(obj["observation_id"])
    assert CREATED_AT.match(obj["created_at"])


# ------------------------------------------------------------------ init / modes


@pytest.mark.parametrize("setup", ["no-init", "init-local"])
def test_every_command_works_without_init_and_with_init_local(km, setup, tmp_path):
    if setup == "init-local":
        res = km.run("init", "--mode", "local", check=True)
        assert "local" in res.stdout
        assert km.config_path.exists()
        assert "mode: local" in km.config_path.read_text()
    a = save_id(km, "Alpha content about caching layers", "Alpha subject", "-p", "proj")
    b = save_id(km, "Beta content about queues", "Beta subject", "-p", "proj")
    c = save_id(km, "Gamma content about retries", "Gamma subject")

    assert a in search_ids(km, "caching")
    assert km.run("search", "caching", check=True).stdout.count(a[:12]) == 1
    assert json.loads(km.run("get-memory", a, "--json", check=True).stdout)["observation_id"] == a
    assert a in km.run("get", a[:8], check=True).stdout
    assert "Alpha subject" in km.run("recall", check=True).stdout
    assert f"deleted {b}" in km.run("delete", b, check=True).stdout
    assert "would remove 1 memory" in km.run("gc", "--retention-days", "0", check=True).stdout
    assert "removed 1 memory for good" in km.run("gc", "--retention-days", "0", "--yes",
                                                 check=True).stdout
    assert c in km.run("purge", c, check=True).stdout
    info = status(km)
    assert info["mode"] == "local"
    assert info["config_exists"] is (setup == "init-local")
    assert info["counts"]["live"] == 1 and info["counts"]["total"] == 1
    assert km.run("status", check=True).stdout.startswith("mode:      local")
    assert km.run("doctor", check=True).returncode == 0
    dump = tmp_path / "dump.jsonl"
    km.run("export", "-o", str(dump), check=True)
    assert [json.loads(line)["observation_id"] for line in dump.read_text().splitlines()] == [a]
    res = km.run("import", str(dump), check=True)
    assert "imported 0 new memories, 1 already present" in res.stdout


def test_init_local_json_reports_paths(km):
    out = json.loads(km.run("init", "--mode", "local", "--json", check=True).stdout)
    assert out["mode"] == "local"
    assert out["config_path"] == str(km.config_path)
    assert out["db_path"] == str(km.state_dir / "kioku.db")
    assert (km.state_dir / "kioku.db").exists()
    assert out["pc_id"] == status(km)["identity"]["pc_id"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--mode", "spoke"], "--connect"),
        (["--mode", "spoke", "--connect", "not an endpoint"], "endpoint"),
        (["--mode", "local", "--listen", "tcp/0.0.0.0:7447"], "--listen"),
        (["--mode", "galaxy"], "invalid choice"),
    ],
)
def test_init_with_unusable_mode_settings_fails_with_one_clear_line(km, args, needle):
    res = km.run("init", *args)
    assert_one_line_error(res, 2, contains=needle)
    assert res.stdout == ""
    assert not km.config_path.exists()
    assert not (km.state_dir / "kioku.db").exists()


# ------------------------------------------------------------------------ save


def test_save_content_from_argument_and_from_stdin(km):
    res = km.run("save", "From the argument", "-s", "Arg", check=True)
    match = re.fullmatch(r"saved ([0-9a-f]{32}) \(visibility=mesh\)\n", res.stdout)
    assert match, res.stdout
    arg_id = match.group(1)
    body = "Line one from stdin ✓ 日本語\n\tindented line two\n"
    stdin_obj = save(km, "-", "Stdin", input=body.encode("utf-8"))
    got = json.loads(km.run("get", arg_id, "--json", check=True).stdout)
    assert got["content"] == "From the argument"
    got = json.loads(km.run("get", stdin_obj["observation_id"], "--json", check=True).stdout)
    assert got["content"] == body
    assert counts(km)["total"] == 2


def test_save_requires_subject(km):
    before = counts(km)
    res = km.run("save", "content without a subject")
    assert_one_line_error(res, 2, contains="--subject")
    assert counts(km) == before


def test_save_summary_derived_when_absent_and_kept_when_given(km):
    derived = save(km, "First sentence here. Second sentence follows.", "S1")
    assert derived["summary"] == "First sentence here."
    given = save(km, "First sentence here. Second one.", "S2", "--summary", "My own summary")
    assert given["summary"] == "My own summary"


def test_save_every_option_is_stored_and_read_back(km):
    obs = save(
        km, "Decided to use WAL mode.", "Use WAL",
        "-p", "kioku", "-t", "db, sqlite ,db", "--memory-type", "decision", "--importance", "5",
        "--visibility", "mesh", "--source-files", "src/a.py,docs/b.md",
        "--references", "#67,PR#68",
    )
    got = json.loads(km.run("get", obs["observation_id"], "--json", check=True).stdout)
    assert got == obs
    _assert_wire(got)
    assert got["project"] == "kioku"
    assert got["tags"] == ["db", "sqlite"]
    assert got["memory_type"] == "decision"
    assert got["importance"] == 5
    assert got["visibility"] == "mesh" and got["scope_id"] == ""
    assert got["source_files"] == ["src/a.py", "docs/b.md"]
    assert got["references"] == ["#67", "PR#68"]
    assert got["supersedes"] == [] and got["expires_at"] == ""
    ident = status(km)["identity"]
    assert got["pc_id"] == ident["pc_id"] and HEX32.match(got["pc_id"])
    assert got["agent_family"] == "cli"
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", got["session_id"])
    text = km.run("get", obs["observation_id"], check=True).stdout
    for piece in ("Use WAL", "decision", "importance 5", "db, sqlite", "src/a.py", "PR#68"):
        assert piece in text


def test_save_prints_id_and_effective_scope(km):
    res = km.run("save", "mesh by default", "-s", "m", check=True)
    assert re.fullmatch(r"saved [0-9a-f]{32} \(visibility=mesh\)\n", res.stdout)
    env = {"KIOKU_MESH_USER_ID": "alice", "KIOKU_MESH_TEAM_ID": "core"}
    res = km.run("save", "mine", "-s", "u", "--visibility", "user", extra_env=env, check=True)
    assert re.fullmatch(r"saved [0-9a-f]{32} \(visibility=user/alice\)\n", res.stdout)
    res = km.run("save", "ours", "-s", "t", "--visibility", "team", extra_env=env, check=True)
    assert re.fullmatch(r"saved [0-9a-f]{32} \(visibility=team/core\)\n", res.stdout)
    out = json.loads(km.run("save", "json scope", "-s", "j", "--visibility", "user", "--json",
                            extra_env=env, check=True).stdout)
    assert out["scope"] == "user/alice"
    user_id = out["observation_id"]
    assert out["observation"]["visibility"] == "user"
    assert out["observation"]["scope_id"] == "alice"
    # The user tier is readable only by that user.
    assert user_id in search_ids(with_env(km, **env), "json scope")
    assert user_id not in search_ids(km, "json scope")


def test_save_json_output_shape(km):
    out = json.loads(km.run("save", "Shape check", "-s", "Shape", "--json", check=True).stdout)
    assert {"observation_id", "scope", "observation"} <= set(out)
    assert out["scope"] == "mesh"
    obs = out["observation"]
    _assert_wire(obs)
    assert obs["observation_id"] == out["observation_id"]
    assert (obs["content"], obs["subject"], obs["importance"]) == ("Shape check", "Shape", 2)
    assert obs["memory_type"] == "note" and obs["visibility"] == "mesh"


def test_save_supersedes_by_prefix_hides_the_old_one(km):
    old = save_id(km, "Use postgres for everything", "Database choice")
    new = save(km, "Use sqlite for the local store", "Database choice v2", "--supersedes", old[:8])
    assert new["supersedes"] == [old]
    assert search_ids(km, "database") == [new["observation_id"]]
    assert set(search_ids(km, "database", "--include-superseded")) == {old, new["observation_id"]}
    assert "[superseded]" in km.run("search", "database", "--include-superseded").stdout
    assert_one_line_error(km.run("get", old), 1, contains="superseded")
    shown = json.loads(km.run("get", old, "--include-hidden", "--json", check=True).stdout)
    assert shown["observation_id"] == old
    assert any("superseded by" in s for s in shown["_state"])
    assert counts(km)["superseded"] == 1


def test_save_ttl_expires_and_hides_the_memory(km):
    obs = save(km, "Short lived note", "Ephemeral", "--ttl", "1")
    delta = _epoch(obs["expires_at"]) - _epoch(obs["created_at"])
    assert 0.99 <= delta <= 1.01
    oid = obs["observation_id"]
    wait_for(lambda: oid not in search_ids(km, "ephemeral"), timeout=10)
    assert oid in search_ids(km, "ephemeral", "--include-expired")
    assert counts(km)["expired"] == 1
    assert_one_line_error(km.run("get", oid), 1, contains="expired")


def test_save_expires_at_is_normalised_and_still_visible(km):
    obs = save(km, "Valid until the next century", "Long lived",
               "--expires-at", "2099-01-02T03:04:05Z")
    assert obs["expires_at"] == "2099-01-02T03:04:05.000000Z"
    assert obs["observation_id"] in search_ids(km, "century")


# ---------------------------------------------------------------------- search


def test_search_text_markdown_and_json_formats(km):
    a = save(km, "Zenoh routers gossip peers", "Zenoh gossip", "-t", "mesh,net", "-p", "p1")
    text = km.run("search", "zenoh", check=True).stdout
    assert a["observation_id"][:12] in text and "Zenoh gossip" in text and "tags: mesh, net" in text
    md = km.run("search", "zenoh", "--format", "markdown", check=True).stdout
    assert "### Zenoh gossip" in md and f"`{a['observation_id'][:12]}`" in md
    assert "Tags: `mesh`, `net`" in md
    as_format = json.loads(km.run("search", "zenoh", "--format", "json", check=True).stdout)["hits"]
    as_flag = search_json(km, "zenoh")
    assert as_format == as_flag == [a]
    for obj in as_flag:
        _assert_wire(obj)


def test_search_limit(km):
    ids = {save_id(km, f"Widget number {i} is fine", f"Widget {i}") for i in range(5)}
    assert len(search_json(km, "widget", "-n", "2")) == 2
    assert set(search_ids(km, "widget", "-n", "10")) == ids
    assert "showing 2 of 5" in km.run("search", "widget", "-n", "2", check=True).stdout
    assert len(search_json(km, "-n", "3")) == 3  # browse mode honours -n too


def test_search_filters(km):
    alice = {"KIOKU_MESH_USER_ID": "alice"}
    codex = {"KIOKU_MESH_AGENT_FAMILY": "codex", "KIOKU_MESH_CLIENT_ID": "codex-cli",
             "KIOKU_MESH_SESSION_ID": "sess-1"}
    a = save(km, "alpha item one", "A", "-p", "p1", "-t", "x,y", "--memory-type", "decision")
    b = save(km, "alpha item two", "B", "-p", "p2", "-t", "x", "--memory-type", "bug",
             extra_env=codex)
    c = save(km, "alpha item three", "C", "-p", "p1", "-t", "y,z", "--visibility", "user",
             extra_env=alice)
    ida, idb, idc = (o["observation_id"] for o in (a, b, c))
    as_alice = with_env(km, **alice)

    def ids(*args: str, who=km) -> set[str]:
        return set(search_ids(who, "alpha", *args))

    assert ids() == {ida, idb}
    assert ids(who=as_alice) == {ida, idb, idc}
    assert ids("-p", "p1", who=as_alice) == {ida, idc}
    assert ids("-t", "x") == {ida, idb}
    assert ids("-t", "x,y") == {ida}
    assert ids("--memory-type", "decision,bug") == {ida, idb}
    assert ids("--memory-type", "bug") == {idb}
    assert ids("--visibility", "user", who=as_alice) == {idc}
    assert ids("--visibility", "mesh", who=as_alice) == {ida, idb}
    assert ids("--agent-family", "codex") == {idb}
    assert ids("--client-id", "codex-cli") == {idb}
    assert ids("--session-id", "sess-1") == {idb}
    assert ids("--pc-id", a["pc_id"]) == {ida, idb}
    assert ids("--pc-id", "0" * 32) == set()
    assert ids("--until", a["created_at"]) == {ida}
    assert ids("--since", b["created_at"]) == {idb}
    assert ids("--since", "1h") == {ida, idb}
    assert ids("--until", "1h") == set()
    # Filters also work without query text (browse mode).
    assert set(search_ids(km, "-p", "p2")) == {idb}


def test_search_says_when_no_memory_has_every_term(km):
    oid = save_id(km, "Kafka consumer groups rebalance", "Kafka rebalance")
    res = km.run("search", "kafka zeppelin", check=True)
    assert res.stdout.startswith("No memory has every term")
    assert oid[:12] in res.stdout
    res = km.run("search", "kafka zeppelin", "--json", check=True)
    data = json.loads(res.stdout)
    assert [o["observation_id"] for o in data["hits"]] == [oid]
    assert data["match"] == "any"  # the notice is a field: a script sees it too
    assert json.loads(km.run("search", "kafka rebalance", "--json", check=True).stdout)["match"] == "all"
    # When every term matches there is no fallback message.
    res = km.run("search", "kafka rebalance", check=True)
    assert "matched every term" not in res.stdout + res.stderr


def test_search_explain_shows_term_scores_and_factors(km):
    both = save_id(km, "zenoh lease renewal on the hub", "Lease renewal", "-i", "4")
    one = save_id(km, "renewal of certificates", "Cert renewal")
    res = km.run("search", "lease renewal", "--explain", check=True)
    lines = res.stdout.splitlines()
    whys = [line for line in lines if line.strip().startswith("why: score")]
    assert len(whys) == 2
    assert "lease -" in whys[1] and "importance 1.40" in whys[0]
    data = json.loads(km.run("search", "lease renewal", "--explain", "--json",
                             check=True).stdout)["hits"]
    assert [o["observation_id"] for o in data] == [both, one]
    first = data[0]["explain"]
    assert first["terms"]["lease"] > 0 and data[1]["explain"]["terms"]["lease"] == 0
    assert abs(first["relevance"] * first["boost"] - first["score"]) < 1e-4
    plain = json.loads(km.run("search", "lease renewal", "--json", check=True).stdout)["hits"]
    assert "explain" not in plain[0]


def test_search_ranks_the_project_files_project_a_little_higher(km, tmp_path):
    mine = save_id(km, "lease renewal races the heartbeat", "Lease race", "-p", "alpha")
    other = save_id(km, "lease renewal races the heartbeat", "Lease race", "-p", "beta")
    work = tmp_path / "repo"
    work.mkdir()
    (work / ".kioku-mesh.yaml").write_text("project: alpha\n")
    outside = json.loads(km.run("search", "lease heartbeat", "--json", check=True).stdout)
    assert [h["observation_id"] for h in outside["hits"]] == [other, mine]  # newer first
    inside = json.loads(km.run("search", "lease heartbeat", "--json", "--explain", cwd=work,
                               check=True).stdout)
    assert [h["observation_id"] for h in inside["hits"]] == [mine, other]
    assert inside["hits"][0]["explain"]["factors"]["project"] == 1.25


def test_search_no_match_exits_zero(km):
    save_id(km, "something else entirely", "Other")
    res = km.run("search", "nonexistentword")
    assert res.returncode == 0 and res.stdout == "no matching memories\n" and res.stderr == ""
    res = km.run("search", "nonexistentword", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["hits"] == []
    empty = km.run("search", "--format", "markdown")
    assert empty.returncode == 0


# ------------------------------------------------------------------ get-memory


def test_get_memory_by_full_id_and_unique_prefix(km):
    obs = save(km, "Get me by id", "Getter")
    oid = obs["observation_id"]
    for ref in (oid, oid[:8], oid[:13], oid.upper()[:10]):
        got = json.loads(km.run("get-memory", ref, "--json", check=True).stdout)
        assert got == obs, ref
    md = km.run("get-memory", oid[:8], "--format", "markdown", check=True).stdout
    assert md.startswith("### Getter") and "Get me by id" in md


def test_get_memory_rejects_short_and_non_hex_ids(km):
    oid = save_id(km, "x content", "x")
    assert_one_line_error(km.run("get-memory", oid[:7]), 2, contains="too short")
    assert_one_line_error(km.run("get-memory", "zzzzzzzzzz"), 2, contains="hexadecimal")
    assert_one_line_error(km.run("get-memory", oid + "0"), 2)
    missing = "0" * 8 if not oid.startswith("00000000") else "f" * 8
    assert_one_line_error(km.run("get-memory", missing), 1, contains="no memory")


def test_get_memory_ambiguous_prefix(km):
    lines = [json.dumps({"observation_id": "abcdef01" + c * 24, "subject": f"s{c}",
                         "content": f"c{c}"}) for c in "12"]
    km.run("import", "-", input="\n".join(lines) + "\n", check=True)
    assert_one_line_error(km.run("get-memory", "abcdef01"), 1, contains="more than one")
    assert km.run("get-memory", "abcdef011", check=True).returncode == 0


def test_get_memory_of_deleted_needs_include_hidden(km):
    oid = save_id(km, "soon deleted", "Doomed")
    km.run("delete", oid, "--reason", "obsolete", check=True)
    assert_one_line_error(km.run("get-memory", oid), 1, contains="include-hidden")
    text = km.run("get-memory", oid, "--include-hidden", check=True).stdout
    assert "deleted" in text and "obsolete" in text
    got = json.loads(km.run("get-memory", oid, "--include-hidden", "--json", check=True).stdout)
    assert got["observation_id"] == oid and any("deleted" in s for s in got["_state"])


# ---------------------------------------------------------------------- recall


def _recall_tree(text: str) -> dict[str, dict[str, list[str]]]:
    tree: dict[str, dict[str, list[str]]] = {}
    project = mtype = None
    for line in text.splitlines():
        if line.startswith("## "):
            project = line[3:]
            tree[project] = {}
        elif line.startswith("### "):
            mtype = line[4:]
            tree[project][mtype] = []
        elif line.startswith("- ["):
            tree[project][mtype].append(line[3:11])
    return tree


def test_recall_groups_by_project_then_type(km):
    d1 = save_id(km, "alpha decision body", "Alpha decision", "-p", "alpha",
                 "--memory-type", "decision", "--importance", "4")
    b1 = save_id(km, "alpha bug body", "Alpha bug", "-p", "alpha", "--memory-type", "bug")
    n1 = save_id(km, "alpha note body", "Alpha note", "-p", "alpha")
    d2 = save_id(km, "beta decision body", "Beta decision", "-p", "beta",
                 "--memory-type", "decision")
    loose = save_id(km, "no project body", "Loose note")
    res = km.run("recall", check=True)
    tree = _recall_tree(res.stdout)
    assert tree == {
        "alpha": {"decision": [d1[:8]], "bug": [b1[:8]], "note": [n1[:8]]},
        "beta": {"decision": [d2[:8]]},
        "(no project)": {"note": [loose[:8]]},
    }
    alpha = res.stdout.split("## alpha")[1]
    assert alpha.index("### decision") < alpha.index("### bug") < alpha.index("### note")
    pack = json.loads(km.run("recall", "--json", check=True).stdout)
    assert pack["included"] == 5 and pack["omitted"] == 0
    assert set(pack["groups"]) == {"alpha", "beta", ""}
    assert [o["observation_id"] for o in pack["groups"]["alpha"]["bug"]] == [b1]
    _assert_wire(pack["groups"]["beta"]["decision"][0])
    assert pack["text"] == res.stdout
    only = _recall_tree(km.run("recall", "-p", "beta", check=True).stdout)
    assert only == {"beta": {"decision": [d2[:8]]}}


def test_recall_respects_max_chars(km):
    lines = [json.dumps({"subject": f"Recall item {i} " + "word " * 12,
                         "content": f"content {i}", "project": "big"}) for i in range(30)]
    km.run("import", "-", input="\n".join(lines) + "\n", check=True)
    for budget in (300, 800):
        pack = json.loads(km.run("recall", "--max-chars", str(budget), "--json",
                                 check=True).stdout)
        assert 0 < len(pack["text"]) <= budget
        assert pack["included"] + pack["omitted"] == 30 and pack["omitted"] > 0
        out = km.run("recall", "--max-chars", str(budget), check=True).stdout
        body, _, footer = out.rpartition("\n(")
        assert len(body) <= budget
        assert "more not shown" in footer and len(out) <= budget + 80
    pack = json.loads(km.run("recall", "--max-chars", "100000", "--json", check=True).stdout)
    assert pack["included"] == 30 and pack["omitted"] == 0


def test_recall_on_empty_store(km):
    res = km.run("recall", check=True)
    assert res.stdout.startswith("no memories on this host yet")


# ---------------------------------------------------------------------- delete


def test_delete_by_id(km):
    keep = save_id(km, "keeper of things", "Keep")
    gone = save_id(km, "goner of things", "Gone")
    res = km.run("delete", gone[:10], check=True)
    assert res.stdout == f"deleted {gone}\n"
    assert search_ids(km, "things") == [keep]
    assert set(search_ids(km, "things", "--include-deleted")) == {keep, gone}
    c = counts(km)
    assert (c["tombstoned"], c["live"], c["tombstones"]) == (1, 1, 1)
    # Deleting again keeps the first tombstone.
    assert km.run("delete", gone, check=True).returncode == 0
    assert counts(km)["tombstones"] == 1


def _foreign_line(subject: str, pc_id: str) -> str:
    return json.dumps({"subject": subject, "content": f"{subject} body", "project": "other",
                       "pc_id": pc_id, "agent_family": "codex", "client_id": "codex-cli",
                       "session_id": "s-remote"})


def test_bulk_delete_dry_run_refusal_and_yes(km):
    p1 = [save_id(km, f"project one item {i}", f"P1 {i}", "-p", "one") for i in range(3)]
    p2 = save_id(km, "project two item", "P2", "-p", "two")
    before = counts(km)

    dry = km.run("delete", "--project", "one", "--dry-run", input="", check=True)
    assert dry.stdout.startswith("would delete 3 memories\n")
    assert all(f"{i[:12]}  P1 " in dry.stdout for i in p1) and p2[:12] not in dry.stdout
    dry_json = json.loads(km.run("delete", "-p", "one", "--dry-run", "--json", input="",
                                 check=True).stdout)
    assert dry_json["dry_run"] is True and set(dry_json["deleted"]) == set(p1)
    assert counts(km) == before

    # Without --yes (and no terminal to ask on) it shows what it would do and how.
    preview = km.run("delete", "--project", "one", input="y\n", check=True)
    assert preview.stdout.startswith("would delete 3 memories (add --yes to go ahead)\n")
    assert counts(km) == before

    res = km.run("delete", "--project", "one", "--yes", input="", check=True)
    assert res.stdout == "deleted 3 memories\n"
    assert set(search_ids(km)) == {p2}
    assert counts(km)["tombstoned"] == 3


def test_bulk_delete_by_pc_id_since_until(km):
    foreign_pc = "f" * 32
    km.run("import", "-", input=_foreign_line("Remote memory", foreign_pc) + "\n", check=True)
    first = save(km, "local first", "L1")
    second = save(km, "local second", "L2")
    remote = search_ids(km, "--pc-id", foreign_pc)
    assert len(remote) == 1

    out = json.loads(km.run("delete", "--pc-id", foreign_pc, "--yes", "--json", input="",
                            check=True).stdout)
    assert out["deleted"] == remote and out["count"] == 1
    assert set(search_ids(km)) == {first["observation_id"], second["observation_id"]}

    dry = json.loads(km.run("delete", "--until", first["created_at"], "--dry-run", "--json",
                            input="", check=True).stdout)
    assert dry["deleted"] == [first["observation_id"]]
    km.run("delete", "--since", second["created_at"], "--yes", input="", check=True)
    assert search_ids(km) == [first["observation_id"]]
    res = km.run("delete", "--since", "1h", "--yes", input="", check=True)
    assert res.stdout == "deleted 1 memory\n"
    assert search_ids(km) == []


# ------------------------------------------------------------------ gc / purge


def test_gc_retention_days_removes_tombstoned_rows(km):
    live = save_id(km, "stays alive", "Live")
    dead = save_id(km, "will be deleted", "Dead")
    km.run("delete", dead, check=True)
    # A recent tombstone is kept under any real retention.
    assert "would remove 0" in km.run("gc", "--retention-days", "30", "--dry-run").stdout
    assert km.run("gc", "--retention-days", "30", "--yes", check=True).stdout.startswith(
        "removed 0 memories for good")
    dry = json.loads(km.run("gc", "--retention-days", "0", "--dry-run", "--json",
                            check=True).stdout)
    assert dry == {"ids": [dead], "executed": False}
    assert counts(km)["total"] == 2
    preview = json.loads(km.run("gc", "--retention-days", "0", "--json", check=True).stdout)
    assert preview == {"ids": [dead], "executed": False}  # like every destructive command
    out = json.loads(km.run("gc", "--retention-days", "0", "--yes", "--json", check=True).stdout)
    assert out == {"ids": [dead], "executed": True}
    c = counts(km)
    assert (c["total"], c["live"], c["tombstones"], c["purged_ids"]) == (1, 1, 0, 1)
    assert_one_line_error(km.run("get", dead, "--include-hidden"), 1, contains="no memory")
    assert search_ids(km, "--include-hidden") == [live]


def test_gc_by_pc_id_is_a_dry_run_unless_yes(km):
    foreign_pc = "e" * 32
    km.run("import", "-", input=_foreign_line("From elsewhere", foreign_pc) + "\n", check=True)
    mine = save_id(km, "mine to keep", "Mine")
    before = counts(km)
    res = km.run("gc", "--by-pc-id", foreign_pc, check=True)
    assert res.stdout.startswith("would remove 1 memory (add --yes to go ahead)\n")
    assert "From elsewhere" in res.stdout
    assert counts(km) == before
    out = json.loads(km.run("gc", "--by-pc-id", foreign_pc, "--execute", "--json",
                            check=True).stdout)
    assert out["executed"] is True and len(out["ids"]) == 1
    assert search_ids(km, "--include-hidden") == [mine]
    assert counts(km)["purged_ids"] == 1


def test_purge_removes_for_good(km, tmp_path):
    oid = save_id(km, "purge me completely", "Purgeable")
    dump = tmp_path / "before.jsonl"
    km.run("export", "-o", str(dump), check=True)
    res = km.run("purge", oid[:8], check=True)
    assert res.stdout.startswith(f"purged {oid}")
    assert_one_line_error(km.run("get", oid, "--include-hidden"), 1)
    assert search_ids(km, "purge", "--include-hidden") == []
    # An old export cannot bring it back.
    again = json.loads(km.run("import", str(dump), "--json", check=True).stdout)
    assert again["added"] == 0
    assert counts(km)["total"] == 0
    assert_one_line_error(km.run("purge", oid), 1, contains="no memory")


def test_purge_of_unknown_id_writes_nothing(km):
    save_id(km, "bystander", "B")
    before = counts(km)
    assert_one_line_error(km.run("purge", "ab" * 16), 1, contains="no memory")
    assert counts(km) == before


# -------------------------------------------------------------- status / doctor


def test_status_text_and_json(km):
    live = save_id(km, "live one", "L")
    dead = save_id(km, "dead one", "D")
    km.run("delete", dead, check=True)
    info = status(km)
    assert info["mode"] == "local"
    assert info["db_path"] == str(km.state_dir / "kioku.db") and info["db_bytes"] > 0
    assert info["counts"]["total"] == 2 and info["counts"]["live"] == 1
    assert info["counts"]["tombstoned"] == 1
    assert HEX32.match(info["identity"]["pc_id"])
    text = km.run("status", check=True).stdout
    assert "mode:      local" in text
    assert str(km.state_dir / "kioku.db") in text
    assert "memories:  1 live, 1 deleted" in text
    assert search_ids(km) == [live]


def test_doctor_healthy_store_text_and_json(km):
    save_id(km, "something", "S")
    res = km.run("doctor")
    assert res.returncode == 0, res.stdout
    lines = res.stdout.splitlines()
    assert lines and all(line.startswith("ok ") for line in lines), res.stdout
    checks = json.loads(km.run("doctor", "--json", check=True).stdout)
    names = {c["name"] for c in checks}
    assert {"database integrity", "journal mode", "search index", "state dir"} <= names
    assert all(c["ok"] is True for c in checks)


def test_doctor_reports_a_failed_check(km):
    res = km.run("doctor", extra_env={"KIOKU_MESH_DEFAULT_VISIBILITY": "user"})
    assert res.returncode == 1
    assert "FAIL default visibility" in res.stdout and "user_id" in res.stdout
    assert "Traceback" not in res.stderr


# ------------------------------------------------------------------ ANSI colour


def _run_in_pty(km, *args: str, extra_env: dict[str, str] | None = None,
                typed: bytes | None = None) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal (stdout and stderr, and stdin when `typed`
    is given: those keystrokes are sent); return its exit code and output."""
    master, slave = pty.openpty()
    env = {**km.env, "TERM": "xterm", **(extra_env or {})}
    proc = subprocess.Popen([*CLI, *args], stdin=slave if typed is not None else subprocess.DEVNULL,
                            stdout=slave, stderr=slave, env=env, cwd=str(km.home))
    os.close(slave)
    out = b""
    try:
        if typed is not None:
            os.write(master, typed)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.2)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, out.decode("utf-8", "replace")


def test_bulk_delete_asks_on_a_terminal(km):
    ids = [save_id(km, f"terminal item {i}", f"T {i}", "-p", "tty") for i in range(2)]
    code, out = _run_in_pty(km, "delete", "-p", "tty", typed=b"n\n")
    assert "would delete 2 memories" in out and "T 0" in out
    assert "Delete 2 memories? [y/N]" in out and "nothing deleted" in out
    assert code == 1 and counts(km)["tombstoned"] == 0
    code, out = _run_in_pty(km, "delete", "-p", "tty", typed=b"y\n")
    assert code == 0 and "deleted 2 memories" in out
    assert search_ids(km, "-p", "tty") == []
    assert set(search_ids(km, "-p", "tty", "--include-deleted")) == set(ids)


def test_no_ansi_when_not_a_tty_or_no_color(km):
    oid = save_id(km, "Colourful content here", "Colour", "-t", "c1", "-p", "pr")
    commands = [("search", "colourful"), ("search",), ("get", oid), ("recall",),
                ("status",), ("doctor",), ("search", "colourful", "--format", "markdown")]
    for args in commands:
        res = km.run(*args, check=True)
        assert res.stdout.strip(), args
        assert not ANSI.search(res.stdout + res.stderr), args
        res = km.run(*args, extra_env={"NO_COLOR": "1"}, check=True)
        assert not ANSI.search(res.stdout + res.stderr), args
    # On a terminal colour is used, unless NO_COLOR is set.
    code, out = _run_in_pty(km, "search", "colourful")
    assert code == 0 and ANSI.search(out)
    for args in commands:
        code, out = _run_in_pty(km, *args, extra_env={"NO_COLOR": "1"})
        assert code == 0 and out.strip() and not ANSI.search(out), args
