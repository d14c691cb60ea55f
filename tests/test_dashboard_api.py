"""What the dashboard asks of the library API (kioku_mesh.api), in-process on
a real store: filters as text, activity per day, latency percentiles, the
change mark behind live updates, what a delete/purge propagates, a memory's
supersede chain, export of a filtered set and the mesh overview."""

from __future__ import annotations

import json
import time

import pytest
from cli_helpers import save_id, search_ids

from kioku_mesh.api import latency
from kioku_mesh.api.activity import activity, saves_per_day
from kioku_mesh.api.changes import mark, since
from kioku_mesh.api.errors import NotFoundError, ValidationError
from kioku_mesh.api.filters import search_query
from kioku_mesh.api.memory_page import memory_page
from kioku_mesh.api.mesh_view import overview
from kioku_mesh.api.messaging import Messenger
from kioku_mesh.api.propagation import consequences
from kioku_mesh.api.transfer import export_matching


def test_text_filters_select_what_the_cli_flags_select(km, memory):
    save_id(km, "redis cache eviction policy", "Cache eviction", "-p", "alpha", "-t", "cache,perf",
            "--type", "decision")
    save_id(km, "redis cache warmup", "Cache warmup", "-p", "beta", "-t", "cache")
    gone = save_id(km, "redis cache old note", "Old cache note", "-p", "alpha")
    km.run("delete", gone, check=True)
    q = search_query("cache", project="alpha", memory_types=["decision"], tags="cache,perf")
    assert [h.observation.subject for h in memory.search(q).hits] == ["Cache eviction"]
    assert search_ids(km, "cache", "-p", "alpha") == [
        h.observation.observation_id for h in memory.search(search_query("cache", project="alpha")).hits]
    with_deleted = memory.search(search_query("cache", project="alpha", include_hidden=True))
    assert gone in [h.observation.observation_id for h in with_deleted.hits]
    with pytest.raises(ValidationError, match="invalid time"):
        search_query("x", since="last tuesday")
    with pytest.raises(ValidationError, match="limit"):
        search_query("x", limit=0)


def _import_at(km, created_at: str, subject: str, family: str, project: str) -> None:
    line = json.dumps({"observation_id": f"{abs(hash(subject)) % 16**32:032x}",
                       "created_at": created_at, "content": subject + " text", "subject": subject,
                       "project": project, "agent_family": family, "client_id": "c",
                       "pc_id": "a" * 32, "session_id": "s"})
    km.run("import", "-", input=line + "\n", check=True)


def test_saves_per_day_by_agent_family_and_project(km, memory):
    now = time.time()
    day = 86400
    two_days_ago = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(now - 2 * day))
    _import_at(km, two_days_ago, "Old claude save", "claude-code", "alpha")
    _import_at(km, two_days_ago, "Old codex save", "codex", "alpha")
    _import_at(km, "2001-01-01T00:00:00.000000Z", "Ancient save", "codex", "gamma")
    save_id(km, "today's note", "Today", "-p", "beta",
            extra_env={"KIOKU_MESH_AGENT_FAMILY": "claude-code"})
    stats = saves_per_day(memory, 7, now=now)
    assert len(stats["days"]) == 7 and stats["days"][-1] == time.strftime("%Y-%m-%d", time.gmtime(now))
    assert stats["by_agent"]["claude-code"][-1] == 1 and stats["by_agent"]["claude-code"][-3] == 1
    assert stats["by_agent"]["codex"][-3] == 1
    assert stats["by_project"] == {"alpha": [0, 0, 0, 0, 2, 0, 0], "beta": [0] * 6 + [1]}
    assert stats["total"] == 3  # the 2001 save is outside the window
    with pytest.raises(ValidationError):
        saves_per_day(memory, 0)
    store = activity(memory, 7)["store"]
    assert store["memories"] == 4 and store["db_bytes"] > 0


def test_search_latency_percentiles_cover_this_process_searches(memory):
    latency._times.clear()
    assert latency.percentiles()["p50"] is None
    for ms in range(1, 101):
        latency.record(float(ms))
    p = latency.percentiles()
    assert (p["count"], p["p50"], p["p90"], p["p99"]) == (100, 50.0, 90.0, 99.0)
    memory.search(search_query("anything"))
    assert latency.percentiles()["count"] == 101


def test_change_mark_moves_on_saves_deletes_and_messages(km, memory):
    first = mark(memory)
    assert since(memory, first, mark(memory)) == {}
    oid = save_id(km, "one", "One")
    km.run("delete", oid, check=True)
    after_memories = mark(memory)
    assert since(memory, first, after_memories) == {"memories": 2}
    Messenger(memory).send("hello", to_agent="bob")
    assert since(memory, after_memories, mark(memory)) == {"messages": 1}


def test_consequences_say_what_propagates(km, memory):
    oid = save_id(km, "a secret-ish note", "Shared note")
    delete = consequences(memory, oid[:10], "delete")
    assert delete["id"] == oid and delete["subject"] == "Shared note" and delete["scope"] == "mesh"
    assert "local mode" in delete["elsewhere"] and "tombstone" in delete["here"]
    purge = consequences(memory, oid, "purge")
    assert "cannot be restored" in purge["here"]
    km.run("init", "--mode", "spoke", "--connect", "tcp/127.0.0.1:1", check=True)
    from kioku_mesh.api import Memory

    with Memory() as spoke:
        told = consequences(spoke, oid, "delete")["elsewhere"]
    assert "every host on the mesh" in told and "reconnect" in told
    with pytest.raises(ValidationError, match="delete or purge"):
        consequences(memory, oid, "shred")
    with pytest.raises(NotFoundError):
        consequences(memory, "f" * 32, "delete")


def test_memory_page_shows_the_supersede_chain_both_ways(km, memory):
    a = save_id(km, "version one of the retry policy", "Retry policy v1")
    b = save_id(km, "version two of the retry policy", "Retry policy v2", "--supersedes", a)
    c = save_id(km, "version three of the retry policy", "Retry policy v3", "--supersedes", b)
    page = memory_page(memory, b)
    assert [x["id"] for x in page["newer"]] == [c]
    assert [x["id"] for x in page["older"]] == [a]
    assert page["hidden"] and page["state"][0].startswith("superseded by")
    oldest = memory_page(memory, a)
    assert [x["subject"] for x in oldest["newer"]] == ["Retry policy v2", "Retry policy v3"]
    assert oldest["origin"]["how"] == "local" and oldest["origin"]["written_here"]
    km.run("delete", c, "--reason", "obsolete", check=True)
    newest = memory_page(memory, c)
    assert newest["tombstone"]["reason"] == "obsolete" and newest["scope"] == "mesh"


def test_export_of_a_filtered_set_is_every_match_and_only_them(km, memory):
    ids = {save_id(km, f"alpha fact {i}", f"Alpha {i}", "-p", "alpha") for i in range(25)}
    save_id(km, "beta fact", "Beta", "-p", "beta")
    lines = list(export_matching(memory, search_query(project="alpha", limit=5)))
    assert {json.loads(line)["observation_id"] for line in lines} == ids


def test_mesh_overview_of_a_local_host(memory):
    view = overview(memory)
    assert view["mode"] == "local" and view["pc_id"] == memory.identity.pc_id
    assert view["mesh"]["node_running"] is False and view["teams"] is None
    assert view["tls"]["configured"] is False and "no TLS" in view["tls"]["error"]
