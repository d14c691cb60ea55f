"""Issue 12 §1: nothing a user or an agent gives is silently ignored.

MCP arguments, config keys, --pc-id prefixes, queries with nothing to
search for and inverted time ranges each get an answer or a clear error.
"""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, save, save_id, search_ids, search_json
from mcp_helpers import connect, spawned  # noqa: F401 - spawned checks every server exits

# ------------------------------------------------------------------ MCP arguments


@pytest.mark.anyio
@pytest.mark.usefixtures("spawned")
async def test_mcp_misnamed_and_unknown_arguments_are_never_dropped(km):
    async with connect(km) as c:
        bug = await c.save("The cache evicts too early under load.", "Cache eviction bug",
                           memory_type="bug")
        await c.save("We keep the cache at 512 MiB.", "Cache size decision", memory_type="decision")
        # The name save uses (memory_type) filters search too: never an unfiltered answer.
        found = await c.ok("search_memory", query="", memory_type="bug")
        assert [h["id"] for h in found.structured_content["hits"]] == [bug]
        found = await c.ok("recall_context", memory_type="bug")
        assert found.structured_content["included"] == 1
        # An argument no tool knows: an error naming the valid ones and the closest.
        text = await c.fail("search_memory", query="", bogus=1)
        assert "'bogus'" in text and "memory_types" in text and "query" in text
        text = await c.fail("search_memory", query="cache", memroy_types=["bug"])
        assert "did you mean 'memory_types'" in text
        text = await c.fail("save_observation", content="x", subject="s", tgas=["a"])
        assert "did you mean 'tags'" in text
        # Ids go by the name save returns them under, too.
        got = await c.ok("get_memory", observation_id=bug)
        assert got.structured_content["observation_id"] == bug
        assert (await c.status())["counts"]["live"] == 2


@pytest.mark.anyio
@pytest.mark.usefixtures("spawned")
async def test_mcp_lists_accept_comma_separated_text_like_the_cli(km):
    async with connect(km) as c:
        oid = await c.save("Retry with backoff on 503.", "Retry policy", tags="http, retry",
                           source_files="src/a.py,src/b.py")
        got = (await c.ok("get_memory", id=oid)).structured_content
        assert got["tags"] == ["http", "retry"] and got["source_files"] == ["src/a.py", "src/b.py"]
        hits = (await c.ok("search_memory", tags="http,retry")).structured_content["hits"]
        assert [h["id"] for h in hits] == [oid]
        hits = (await c.ok("search_memory", memory_types="note,bug")).structured_content["hits"]
        assert [h["id"] for h in hits] == [oid]


# ------------------------------------------------------------------------ config


def test_config_typos_and_wrong_types_are_warned_with_file_line_and_key(km):
    km.config_path.parent.mkdir(parents=True, exist_ok=True)
    km.config_path.write_text("mode: local\ndefault_visibilty: team\nlisten: 42\n"
                              "mesh:\n  sync_interval_s: soon\n")
    res = km.run("status", check=True)
    err = res.stderr.splitlines()
    where = str(km.config_path)
    assert f"{where}:2: unknown setting 'default_visibilty' (did you mean default_visibility?)" \
        in err[0]
    assert f"{where}:3: unknown setting 'listen' (did you mean mesh.listen?)" in err[1]
    assert f"{where}:5: mesh.sync_interval_s must be a number" in err[2]
    assert len(err) == 3
    # doctor fails on them, each as its own finding.
    doctor = km.run("doctor")
    assert doctor.returncode == 1
    fails = [line for line in doctor.stdout.splitlines() if line.startswith("FAIL config")]
    assert len(fails) == 3 and "default_visibilty" in fails[0]
    checks = json.loads(km.run("doctor", "--json").stdout)
    assert [c["ok"] for c in checks if c["name"] == "config"] == [True, False, False, False]


def test_doctor_reports_unparsable_yaml_instead_of_aborting(km):
    km.config_path.parent.mkdir(parents=True, exist_ok=True)
    km.config_path.write_text("mode: [local\n")
    res = km.run("doctor")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stdout.startswith("FAIL config: ") and "invalid YAML" in res.stdout
    assert str(km.config_path) in res.stdout
    # Other commands still refuse with the one-line error.
    assert_one_line_error(km.run("status"), 2, contains="invalid YAML")


def test_project_file_sets_the_default_project_and_warns_on_what_it_may_not_hold(km):
    repo = km.home / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / ".kioku-mesh.yaml").write_text("project: payments\nmode: hub\n")
    res = km.run("save", "Refunds go through the ledger", "-s", "Refund path", "--json",
                 cwd=repo / "src", check=True)
    assert json.loads(res.stdout)["observation"]["project"] == "payments"
    assert "mode is only read from the global config file" in res.stderr
    assert f"{repo / '.kioku-mesh.yaml'}:2" in res.stderr
    save(km, "Elsewhere entirely", "Other project", "-p", "infra")
    # recall in that tree is the project's pack; -p '' widens it to every project.
    assert "Refund path" in km.run("recall", cwd=repo, check=True).stdout
    assert "Other project" not in km.run("recall", cwd=repo, check=True).stdout
    assert "Other project" in km.run("recall", "-p", "", cwd=repo, check=True).stdout
    # An explicit -p wins over the file.
    res = km.run("save", "x body", "-s", "Explicit", "-p", "infra", "--json", cwd=repo, check=True)
    assert json.loads(res.stdout)["observation"]["project"] == "infra"


# ------------------------------------------------------------------ pc_id prefixes


def _line(subject: str, pc_id: str) -> str:
    return json.dumps({"subject": subject, "content": f"{subject} body", "pc_id": pc_id,
                       "agent_family": "codex", "client_id": "codex-cli", "session_id": "s-1"})


def test_pc_id_prefixes_work_in_search_delete_and_gc_and_ambiguity_is_refused(km):
    a, b, c = "714b464a" + "0" * 24, "714b464a" + "1" * 24, "99aa" + "2" * 28
    lines = [_line("From A", a), _line("From B", b), _line("From C", c)]
    km.run("import", "-", input="\n".join(lines) + "\n", check=True)
    mine = save(km, "Local one", "Local")
    by_c = search_ids(km, "--pc-id", "99aa2222")
    assert len(by_c) == 1
    assert search_ids(km, "--pc-id", mine["pc_id"][:8]) == [mine["observation_id"]]
    err = assert_one_line_error(km.run("search", "--pc-id", "714b464a"), 1, contains="several hosts")
    assert "714b464a0000" in err and "714b464a1111" in err
    assert len(search_ids(km, "--pc-id", "714b464a0")) == 1
    assert search_ids(km, "--pc-id", "deadbeef") == []  # no such host: nothing matches
    # delete and gc resolve the same way.
    out = json.loads(km.run("delete", "--pc-id", "714b464a1", "--yes", "--json", check=True).stdout)
    assert out["count"] == 1
    preview = km.run("gc", "--by-pc-id", "99aa2222", check=True).stdout
    assert preview.startswith("would remove 1 memory") and "From C" in preview
    assert_one_line_error(km.run("gc", "--by-pc-id", "714b464a"), 1, contains="several hosts")


# ------------------------------------------------------------------------ search


def test_query_without_words_and_inverted_time_range_are_explained(km):
    save_id(km, "Something to find", "Findable")
    err = assert_one_line_error(km.run("search", "!!!"), 2, contains="no letters or digits")
    assert "'!!!'" in err
    err = assert_one_line_error(km.run("search", "--since", "1d", "--until", "2d"), 2,
                                contains="swap them")
    assert "since" in err and "until" in err
    assert search_ids(km, "--since", "2d", "--until", "0s") != []


def test_search_json_carries_how_the_hits_matched(km):
    oid = save_id(km, "Kafka consumer groups rebalance", "Kafka rebalance")
    out = json.loads(km.run("search", "kafka zeppelin", "--json", check=True).stdout)
    assert out["match"] == "any" and [h["observation_id"] for h in out["hits"]] == [oid]
    assert out["total"] == 1 and out["total_exact"] is True
    assert json.loads(km.run("search", "--json", check=True).stdout)["match"] == "browse"
    assert [h["observation_id"] for h in search_json(km, "kafka")] == [oid]
