"""The MCP server, driven for real: `kioku-mesh-mcp` subprocesses and the SDK's stdio client."""

from __future__ import annotations

import json
import re

import anyio
import pytest
from mcp import MCPError
from mcp_helpers import TOOLS, connect, spawned  # noqa: F401 - spawned is used by pytestmark

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("spawned")]

CLAUDE = {"KIOKU_MESH_AGENT_FAMILY": "claude", "KIOKU_MESH_CLIENT_ID": "claude-code"}
IDENTITY_ARGS = {"agent_family", "client_id", "pc_id", "session_id", "user_id", "team_id"}
HIT_KEYS = {"id", "subject", "summary", "memory_type", "importance", "project", "age"}
HEADER = re.compile(r"^showing (\d+) of (\d+)")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _schema_types(prop: dict) -> list[str]:
    """The JSON types a property schema allows ([] when it names none)."""
    if "type" in prop:
        return [prop["type"]]
    options = prop.get("anyOf", [])
    return [o["type"] for o in options] if options and all("type" in o for o in options) else []


def _header(text: str) -> tuple[int, int]:
    match = HEADER.match(text)
    assert match, text
    return int(match.group(1)), int(match.group(2))


# ----------------------------------------------------------------- initialize


async def test_initialize_gives_short_instructions_and_documented_tools(km):
    async with connect(km) as c:
        assert c.init.server_info.name == "kioku-mesh"
        text = c.init.instructions
        assert text and len(text) < 1500
        assert "recall_context" in text and "save_observation" in text
        assert "recall" in text.lower() and "save" in text.lower()

        tools = (await c.session.list_tools()).tools
        assert sorted(t.name for t in tools) == sorted(TOOLS)
        for tool in tools:
            assert tool.description, tool.name
            props = tool.input_schema.get("properties", {})
            for name, prop in props.items():
                assert prop.get("description"), f"{tool.name}.{name} has no description"
                types = _schema_types(prop)
                assert types, f"{tool.name}.{name} has no type"
                if "array" in types:
                    assert prop["items"].get("type"), f"{tool.name}.{name} items have no type"
            # Nobody picks whose namespace to read or write by argument.
            assert not {"user_id", "team_id"} & props.keys(), tool.name
        by_name = {t.name: t.input_schema for t in tools}
        save = by_name["save_observation"]
        assert not IDENTITY_ARGS & save["properties"].keys()
        assert sorted(save["required"]) == ["content", "subject"]
        assert not by_name["delete_memory"]["properties"].keys() & IDENTITY_ARGS
        assert by_name["get_memory_status"].get("properties", {}) == {}


# ------------------------------------------------------------------ the tools


async def test_each_tool_round_trip_with_identity_from_env(km):
    filler = " ".join(f"detail{i}" for i in range(400))
    content = f"Readers must not block the writer, so the store runs in WAL mode. {filler} END-OF-CONTENT"
    async with connect(km, **CLAUDE) as c:
        before = await c.status()
        me = before["identity"]
        assert (me["agent_family"], me["client_id"]) == ("claude", "claude-code")
        assert before["counts"]["live"] == 0

        saved = await c.ok(
            "save_observation", content=content, subject="Store uses WAL journal mode",
            summary="WAL lets readers run while one process writes.", project="kioku-mesh",
            tags=["sqlite", "wal"], memory_type="decision", importance=4,
            source_files=["src/kioku_mesh/store/db.py"], references=["#12"],
        )
        oid = saved.structured_content["observation_id"]
        assert re.fullmatch(r"[0-9a-f]{32}", oid)
        assert saved.content[0].text == f"saved {oid} (visibility=mesh)"
        assert saved.structured_content["similar"] == []

        # get_memory by an 8-char prefix gives the full record, identity from the env.
        got = await c.ok("get_memory", id=oid[:8])
        rec = got.structured_content
        assert rec["observation_id"] == oid
        assert rec["content"] == content
        assert (rec["subject"], rec["summary"]) == (
            "Store uses WAL journal mode", "WAL lets readers run while one process writes.")
        assert (rec["project"], rec["memory_type"], rec["importance"]) == ("kioku-mesh", "decision", 4)
        assert rec["tags"] == ["sqlite", "wal"]
        assert rec["source_files"] == ["src/kioku_mesh/store/db.py"] and rec["references"] == ["#12"]
        assert (rec["agent_family"], rec["client_id"]) == ("claude", "claude-code")
        assert (rec["pc_id"], rec["session_id"]) == (me["pc_id"], me["session_id"])
        assert rec["visibility"] == "mesh" and rec["state"] == []
        assert "by claude/claude-code" in got.content[0].text
        assert got.content[0].text.endswith("END-OF-CONTENT")

        # search: compact hits, never the content.
        found = await c.ok("search_memory", query="WAL journal")
        text = found.content[0].text
        assert _header(text) == (1, 1)
        assert "END-OF-CONTENT" not in text and "detail399" not in text
        (hit,) = found.structured_content["hits"]
        assert set(hit) == HIT_KEYS
        assert hit == {"id": oid, "subject": "Store uses WAL journal mode",
                       "summary": "WAL lets readers run while one process writes.",
                       "memory_type": "decision", "importance": 4, "project": "kioku-mesh",
                       "age": "<1m"}
        assert found.structured_content["total"] == 1
        assert oid[:12] in text

        other = await c.save("The FTS query builder quoted nothing; a hyphen broke MATCH.",
                             "Hyphen in search query broke FTS", project="bench", memory_type="bug")

        pack = await c.ok("recall_context", project="kioku-mesh")
        assert "Store uses WAL journal mode" in pack.content[0].text
        assert "Hyphen in search" not in pack.content[0].text
        assert pack.structured_content["groups"] == {"kioku-mesh": {"decision": [oid]}}
        assert pack.structured_content["included"] == 1
        everything = await c.ok("recall_context")
        assert everything.structured_content["groups"] == {
            "kioku-mesh": {"decision": [oid]}, "bench": {"bug": [other]}}

        assert (await c.status())["counts"]["live"] == 2

        deleted = await c.ok("delete_memory", id=oid[:10], reason="wrong decision")
        assert deleted.content[0].text == f"deleted {oid} (wrong decision)"
        assert deleted.structured_content == {"observation_id": oid, "reason": "wrong decision"}

        gone = await c.ok("search_memory", query="WAL journal")
        assert _header(gone.content[0].text) == (0, 0)
        assert gone.structured_content["hits"] == []
        assert "deleted" in await c.fail("get_memory", id=oid)
        hidden = await c.ok("get_memory", id=oid, include_hidden=True)
        [state] = hidden.structured_content["state"]
        assert state.startswith("deleted 20") and state.endswith(" (wrong decision)")
        assert (await c.ok("recall_context")).structured_content["groups"] == {"bench": {"bug": [other]}}

        counts = (await c.status())["counts"]
        assert (counts["total"], counts["live"], counts["tombstoned"]) == (2, 1, 1)


async def test_identity_arguments_smuggled_into_save_are_not_used(km):
    async with connect(km, **CLAUDE) as c:
        result = await c.call("save_observation", content="A fact worth keeping.", subject="Smuggling",
                              agent_family="mallory", client_id="evil", pc_id="f" * 32,
                              session_id="stolen", user_id="root")
        if not result.is_error:  # extra arguments ignored, or refused: either is safe
            rec = (await c.ok("get_memory", id=result.structured_content["observation_id"]))
            rec = rec.structured_content
            assert (rec["agent_family"], rec["client_id"]) == ("claude", "claude-code")
            assert rec["pc_id"] != "f" * 32 and rec["session_id"] != "stolen"
            assert rec["scope_id"] == ""


# ----------------------------------------------------------------- error paths


BAD_CALLS = [
    ("save_observation", {"content": "x", "subject": ""}, "subject"),
    ("save_observation", {"content": "x", "subject": "   "}, "subject"),
    ("save_observation", {"content": "", "subject": "s"}, "content"),
    ("save_observation", {"content": "x", "subject": "s", "importance": 9}, "importance"),
    ("save_observation", {"content": "x", "subject": "s", "importance": 0}, "importance"),
    ("save_observation", {"content": "x", "subject": "s", "importance": "abc"}, "importance"),
    ("save_observation", {"content": "x", "subject": "s", "visibility": "galaxy"}, "visibility"),
    ("save_observation", {"content": "x", "subject": "s", "visibility": "user"}, "user_id"),
    ("save_observation", {"content": "x", "subject": "s", "memory_type": "rumour"}, "memory_type"),
    ("save_observation", {"content": "x" * (64 * 1024 + 1), "subject": "s"}, "limit"),
    ("save_observation", {"content": "x", "subject": "s" * 201}, "subject"),
    ("save_observation", {"content": "a\x00b", "subject": "s"}, "NUL"),
    ("save_observation", {"content": "x", "subject": "s", "project": "no spaces allowed"}, "project"),
    ("save_observation", {"content": "x", "subject": "s", "tags": 5}, "tags"),
    ("save_observation", {"content": "x", "subject": "s", "tags": [f"t{i}" for i in range(40)]}, "tags"),
    ("save_observation", {"content": "x", "subject": "s", "supersedes": ["not-an-id"]}, "id"),
    ("save_observation", {"content": "x", "subject": "s", "ttl_sec": -5}, "ttl"),
    ("save_observation", {"content": "x", "subject": "s", "ttl_sec": 60,
                          "expires_at": "2099-01-01"}, "expires_at"),
    ("save_observation", {"content": "x", "subject": "s", "expires_at": "2001-01-01"}, "future"),
    ("save_observation", {"subject": "no content"}, "content"),
    ("get_memory", {"id": "zz"}, "invalid memory id"),
    ("get_memory", {"id": "abc"}, "too short"),
    ("get_memory", {"id": "0123456789abcdef0123456789abcdef"}, "no memory"),
    ("get_memory", {}, "id"),
    ("delete_memory", {"id": "nothex!!"}, "invalid memory id"),
    ("delete_memory", {"id": "fedcba9876543210"}, "no memory"),
    ("search_memory", {"memory_types": ["rumour"]}, "memory_type"),
    ("search_memory", {"visibility": ["galaxy"]}, "visibility"),
    ("search_memory", {"limit": 0}, "limit"),
    ("search_memory", {"limit": 101}, "limit"),
    ("search_memory", {"max_bytes": 10}, "max_bytes"),
    ("search_memory", {"since": "the day before"}, "invalid time"),
    ("recall_context", {"memory_types": ["rumour"]}, "memory_type"),
    ("recall_context", {"max_chars": 5}, "max_chars"),
    ("no_such_tool", {}, "no_such_tool"),
    ("search_memory", {"bogus": 1}, "bogus"),
    ("search_memory", {"memory_types": ["bug"], "memory_type": "bug"}, "give one"),
    ("save_observation", {"content": "x", "subject": "s", "importnce": 3}, "importance"),
]


async def test_bad_calls_fail_with_one_line_and_write_nothing(km):
    async with connect(km, **CLAUDE) as c:
        keep = await c.save("The first memory stays the only one.", "Baseline memory")
        before = (await c.status())["counts"]
        for tool, args, word in BAD_CALLS:
            text = await c.fail(tool, **args)
            assert word.lower() in text.lower(), (tool, args, text)
            assert len(text) < 300, text  # no pydantic essay
        after = (await c.status())["counts"]
        assert after == before
        assert after["total"] == 1
        # Still serving, and nothing crashed on the way (a crash logs a traceback).
        assert (await c.ok("get_memory", id=keep)).structured_content["subject"] == "Baseline memory"
        assert "Traceback" not in c.stderr_text()


async def test_query_syntax_is_searched_as_words_not_fts(km):
    async with connect(km) as c:
        oid = await c.save("The foo-bar flag toggles NEAR caching; col:val pairs are literal.",
                           "foo-bar flag and NEAR(caching)")
        for query in ["foo-bar", '"foo-bar"', "NEAR(caching)", "col:val", "foo*", "^foo", "-bar"]:
            result = await c.ok("search_memory", query=query)
            assert [h["id"] for h in result.structured_content["hits"]] == [oid], query
        for query in ['"unbalanced', "a AND (b OR", "NOT", "*", ")(", "'; DROP TABLE observations; --",
                      "\\", "{x}", "a:b:c", "OR OR AND"]:
            if not any(ch.isalnum() for ch in query):  # nothing to search for: said so
                assert "no letters or digits" in await c.fail("search_memory", query=query)
                continue
            result = await c.ok("search_memory", query=query)
            _header(result.content[0].text)
        assert (await c.status())["counts"]["live"] == 1
        assert "Traceback" not in c.stderr_text()


async def test_explain_and_current_project(km):
    async with connect(km) as c:
        other = await c.save("lease renewal races the heartbeat", "lease race", project="alpha")
        mine = await c.save("lease renewal races the heartbeat", "lease race", project="beta")
        plain = await c.ok("search_memory", query="lease heartbeat")
        first = plain.structured_content["hits"][0]
        assert "why" not in first and "explain" not in first
        boosted = await c.ok("search_memory", query="lease heartbeat", current_project="beta",
                             explain=True)
        hits = boosted.structured_content["hits"]
        assert [h["id"] for h in hits] == [mine, other]
        why = hits[0]["explain"]
        assert why["factors"]["project"] == 1.25 and hits[1]["explain"]["factors"]["project"] == 1.0
        assert set(why["terms"]) == {"lease", "heartbeat"} and all(why["terms"].values())
        assert abs(why["relevance"] * why["boost"] - why["score"]) < 1e-4
        assert "why: score" in boosted.content[0].text


# --------------------------------------------------------------- size budgets


async def test_search_over_the_byte_cap_shows_what_fits_and_says_so(km):
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    async with connect(km) as c:
        for i in range(40):
            w = words[i % len(words)]
            await c.save(f"Cache tier {i} uses {w} eviction because the {w} benchmark said so.",
                         f"Cache tier {i}: {w} eviction policy", summary=f"Tier {i} evicts by {w}.",
                         project="cachesvc")
        for query in ["cache", ""]:
            result = await c.ok("search_memory", query=query, limit=100, max_bytes=600)
            text = result.content[0].text
            header, _, body = text.partition("\n")
            assert len(body.encode("utf-8")) <= 600
            shown, total = _header(header)
            assert total == 40 and 1 <= shown < total
            assert "narrow the query" in header
            assert len(body.split("\n")) == shown
            assert result.structured_content["shown"] == shown
            assert result.structured_content["total"] == 40
            assert len(result.structured_content["hits"]) == shown

        # A cap smaller than a single line still gives one (cut) line within the cap.
        long_subject = "長い件名" * 40 + "x" * 30
        await c.save("本文はここにある。" * 20, long_subject, summary="要約" * 200)
        one = await c.ok("search_memory", query="長い件名", max_bytes=200)
        header, _, body = one.content[0].text.partition("\n")
        assert _header(header) == (1, 1)
        assert len(body.encode("utf-8")) <= 200 and body.endswith("…")


async def test_recall_context_stays_within_its_budget(km):
    async with connect(km) as c:
        for i in range(12):
            await c.save(f"Rule {i}: " + "explained at length " * 20, f"House rule number {i}",
                         project="house", memory_type="pattern", importance=2 + i % 3)
        pack = await c.ok("recall_context", project="house", max_chars=600)
        data = pack.structured_content
        assert data["included"] >= 1 and data["omitted"] >= 1
        assert data["included"] + data["omitted"] == 12
        assert f"({data['omitted']} more not shown" in pack.content[0].text


# --------------------------------------------------------------- duplicates


async def test_near_duplicate_save_points_at_supersedes(km):
    content = "The importer must stream JSONL line by line so memory stays flat on large exports."
    async with connect(km) as c:
        first = await c.save(content, "Importer streams JSONL line by line")
        dup = await c.ok("save_observation", content=content + " Really.",
                         subject="Importer streams JSONL line by line")
        text = dup.content[0].text
        second = dup.structured_content["observation_id"]
        assert f"near-duplicate of {first}" in text
        assert "supersedes" in text
        similar = dup.structured_content["similar"]
        assert [s["observation_id"] for s in similar] == [first]
        assert similar[0]["similarity"] >= 0.6

        # Doing as told: the replacement names both, and is not warned about them.
        fixed = await c.ok("save_observation", content=content + " Verified on 1M rows.",
                           subject="Importer streams JSONL line by line",
                           supersedes=[first[:8], second])
        newest = fixed.structured_content["observation_id"]
        assert fixed.structured_content["similar"] == []
        assert "near-duplicate" not in fixed.content[0].text

        hits = (await c.ok("search_memory", query="importer JSONL")).structured_content["hits"]
        assert [h["id"] for h in hits] == [newest]
        assert "superseded" in await c.fail("get_memory", id=first)
        old = await c.ok("get_memory", id=first, include_hidden=True)
        assert old.structured_content["state"] == [f"superseded by {newest}"]
        with_old = await c.ok("search_memory", query="importer JSONL", include_superseded=True)
        assert {h["id"] for h in with_old.structured_content["hits"]} == {first, second, newest}
        assert (await c.status())["counts"]["superseded"] == 2


# ------------------------------------------------------------------ resources


async def test_resources_recent_and_by_id(km):
    async with connect(km) as c:
        listed = (await c.session.list_resources()).resources
        assert [str(r.uri) for r in listed] == ["kioku://memories/recent"]
        templates = (await c.session.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["kioku://memory/{memory_id}"]

        empty = await c.session.read_resource("kioku://memories/recent")
        assert empty.contents[0].text == "no memories yet"

        older = await c.save("Ports below 1024 need root; the hub listens on 7447.", "Hub port is 7447")
        newer = await c.save("Spokes reconnect with exponential backoff capped at 60 s.",
                             "Spoke reconnect backoff", project="mesh")
        recent = (await c.session.read_resource("kioku://memories/recent")).contents[0].text
        lines = recent.split("\n")
        assert len(lines) == 2
        assert lines[0].startswith(newer[:12]) and "Spoke reconnect backoff" in lines[0]
        assert lines[1].startswith(older[:12])

        one = (await c.session.read_resource(f"kioku://memory/{older}")).contents[0]
        assert one.mime_type == "application/json"
        record = json.loads(one.text)
        assert record["observation_id"] == older and record["subject"] == "Hub port is 7447"
        assert json.loads((await c.session.read_resource(
            f"kioku://memory/{newer[:8]}")).contents[0].text)["observation_id"] == newer

        await c.ok("delete_memory", id=newer)
        recent = (await c.session.read_resource("kioku://memories/recent")).contents[0].text
        assert recent.split("\n") == [lines[1]]
        for uri, word in [(f"kioku://memory/{newer}", "deleted"), ("kioku://memory/zz", "invalid memory id"),
                          (f"kioku://memory/{'0' * 32}", "no memory")]:
            with pytest.raises(MCPError) as caught:
                await c.session.read_resource(uri)
            assert word in str(caught.value), (uri, str(caught.value))
        # Errors are expected failures, not crashes: no traceback, and still serving.
        assert "Traceback" not in c.stderr_text()
        assert (await c.status())["counts"]["live"] == 1


# ------------------------------------------------------------- several agents


async def test_four_servers_write_concurrently_on_one_store(km, memory):
    failures: list[str] = []
    ids: dict[int, list[str]] = {}

    async def writer(n: int) -> None:
        async with connect(km, KIOKU_MESH_AGENT_FAMILY=f"agent{n}", KIOKU_MESH_CLIENT_ID=f"client{n}") as c:
            ids[n] = []
            for i in range(50):
                result = await c.call("save_observation", subject=f"Writer {n} finding {i}",
                                      content=f"Finding {i} of writer {n}: measured {n * 1000 + i} ops.",
                                      project="concurrency")
                if result.is_error:
                    failures.append(result.content[0].text)
                else:
                    ids[n].append(result.structured_content["observation_id"])

    async with anyio.create_task_group() as tg:
        for n in range(4):
            tg.start_soon(writer, n)

    assert failures == []
    assert sorted(ids) == [0, 1, 2, 3] and all(len(v) == 50 for v in ids.values())
    stored = {row[0] for row in memory.store.db.execute("SELECT id FROM observations")}
    assert stored == {oid for v in ids.values() for oid in v}
    async with connect(km) as c:
        counts = (await c.status())["counts"]
        assert (counts["total"], counts["live"]) == (200, 200)
        for n in range(4):
            mine = await c.ok("search_memory", client_id=f"client{n}", limit=100, max_bytes=100_000)
            assert mine.structured_content["total"] == 50
            assert {h["id"] for h in mine.structured_content["hits"]} == set(ids[n])


async def test_two_agents_share_one_store_and_see_the_author(km, make_km):
    gemini_env = make_km(KIOKU_MESH_STATE_DIR=str(km.state_dir), KIOKU_MESH_AGENT_FAMILY="gemini",
                         KIOKU_MESH_CLIENT_ID="gemini-cli")
    async with connect(km, **CLAUDE) as claude, connect(gemini_env) as gemini:
        author = (await claude.status())["identity"]
        reader = (await gemini.status())["identity"]
        assert reader["agent_family"] == "gemini" and author["session_id"] != reader["session_id"]
        assert author["pc_id"] == reader["pc_id"]  # one host, one store

        oid = await claude.save("Retries use jittered backoff; a fixed delay caused thundering herds.",
                                "Retry policy: jittered backoff", project="shared", memory_type="decision",
                                importance=4)
        pack = await gemini.ok("recall_context", project="shared")
        assert pack.structured_content["groups"] == {"shared": {"decision": [oid]}}
        assert "Retry policy: jittered backoff" in pack.content[0].text

        rec = (await gemini.ok("get_memory", id=oid[:8])).structured_content
        assert (rec["agent_family"], rec["client_id"]) == ("claude", "claude-code")
        assert rec["session_id"] == author["session_id"]

        by_claude = await gemini.ok("search_memory", query="retry", agent_family="claude")
        assert [h["id"] for h in by_claude.structured_content["hits"]] == [oid]
        by_gemini = await gemini.ok("search_memory", query="retry", agent_family="gemini")
        assert by_gemini.structured_content["total"] == 0

        # And the other way round: gemini's memory carries gemini's identity.
        reply = await gemini.save("Confirmed: jitter fixed the herd in the load test.", "Jitter verified",
                                  project="shared")
        rec = (await claude.ok("get_memory", id=reply)).structured_content
        assert (rec["agent_family"], rec["client_id"]) == ("gemini", "gemini-cli")
