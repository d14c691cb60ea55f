"""Search through Memory.search: matching, filters, hidden states, ranking, scope."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kioku_mesh.api import Memory, SearchQuery
from kioku_mesh.core.errors import ValidationError
from kioku_mesh.core.models import Observation, Tombstone, new_id
from kioku_mesh.core.timeutil import format_ts
from kioku_mesh.store.search import search

DAY = 86400.0


def put(mem: Memory, content: str, subject: str = "a subject", *, age_s: float = 0.0,
        **fields: object) -> Observation:
    """Insert an observation straight into the store, as a peer or import would."""
    ident = mem.identity
    obs = Observation(
        observation_id=new_id(),
        created_at=format_ts(time.time() - age_s),
        content=content,
        subject=subject,
        agent_family=ident.agent_family,
        client_id=ident.client_id,
        pc_id=ident.pc_id,
        session_id=ident.session_id,
    )
    obs = dataclasses.replace(obs, **fields)
    assert mem.store.add_observation(obs, origin="peer")
    return obs


def ids(result) -> list[str]:
    return [h.observation.observation_id for h in result.hits]


def find(mem: Memory, text: str = "", **kw: object):
    """Keyword search: these tests pin down how words match and rank
    (meaning and hybrid: test_semantic.py)."""
    kw.setdefault("mode", "keyword")
    return mem.search(SearchQuery(text=text, **kw))


@pytest.fixture
def scoped(memory: Memory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Memory]:
    """A reader with user_id alice and team core, on the same store as `memory`."""
    monkeypatch.setenv("KIOKU_MESH_USER_ID", "alice")
    monkeypatch.setenv("KIOKU_MESH_TEAM_ID", "core")
    with Memory() as mem:
        yield mem


# ------------------------------------------------------------- matching


def test_english_stemming(memory: Memory) -> None:
    oid = memory.save("The indexer runs every night", "nightly job").observation.observation_id
    other = memory.save("Nothing relevant in here", "unrelated").observation.observation_id
    for query in ("running", "run", "runs"):
        result = find(memory, query)
        assert ids(result) == [oid], query
    assert other not in ids(find(memory, "running"))


def test_prefix_of_a_partial_word(memory: Memory) -> None:
    oid = memory.save("Changed the configuration of the proxy", "proxy").observation.observation_id
    assert ids(find(memory, "config")) == [oid]
    assert ids(find(memory, "conf")) == [oid]


def test_mid_word_substring_of_a_subject_or_tag(memory: Memory) -> None:
    oid = memory.save("Moved it to WAL mode", "database storage",
                      tags=["sqlite-tuning"]).observation.observation_id
    assert ids(find(memory, "abas")) == [oid]
    assert ids(find(memory, "tabase")) == [oid]
    assert ids(find(memory, "uning")) == [oid]
    assert ids(find(memory, "xyzzy")) == []


def test_mid_word_fragment_of_content_alone_is_not_searched(memory: Memory) -> None:
    # ADR 0012: substring search covers subjects and tags; content is found
    # by words, stems and word prefixes.
    oid = memory.save("Migrated the database to WAL mode", "storage").observation.observation_id
    assert ids(find(memory, "abas")) == []
    assert ids(find(memory, "datab")) == [oid]


def test_subject_and_tags_are_searched(memory: Memory) -> None:
    oid = memory.save("body text only", "Kubernetes upgrade", tags="infra,k8s").observation.observation_id
    assert ids(find(memory, "kubernetes")) == [oid]
    assert ids(find(memory, "k8s")) == [oid]


@pytest.mark.parametrize("query", ["設定", "都庁", "東京都", "東京", "設定値", "変更", "東京 設定"])
def test_japanese_words_including_two_characters(memory: Memory, query: str) -> None:
    oid = memory.save("東京都庁の設定値を変更した", "都庁メモ").observation.observation_id
    memory.save("大阪の天気は晴れ", "天気")
    result = find(memory, query)
    assert ids(result) == [oid]
    assert result.match == "all"


def test_japanese_non_matching_two_characters(memory: Memory) -> None:
    memory.save("東京都庁の設定値を変更した", "都庁メモ")
    assert ids(find(memory, "京庁")) == []  # the characters exist, the word does not
    assert ids(find(memory, "大阪")) == []


def test_mixed_script_query(memory: Memory) -> None:
    oid = memory.save("Zenoh設定を見直した", "mesh").observation.observation_id
    assert ids(find(memory, "Zenoh設定")) == [oid]
    assert ids(find(memory, "zenoh")) == [oid]


def test_quoted_phrase_is_one_term(memory: Memory) -> None:
    adjacent = memory.save("use the connection pool size of ten", "pool").observation.observation_id
    apart = memory.save("the pool was full; the connection dropped", "other").observation.observation_id
    both = find(memory, "connection pool")
    assert set(ids(both)) == {adjacent, apart}
    assert ids(find(memory, '"connection pool"')) == [adjacent]


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced', 'unbalanced"', '"', '""', '"a" "', "a*", "*", "**", "-foo", "foo -bar",
        "x:y", "subject:foo", "content : bar", "(", ")", "(a OR b", "a) AND (b", "NEAR(a b)",
        "NEAR(a b, 2)", "AND", "OR", "NOT", "a AND b", "a OR b", "a NOT b", "^start", "a + b",
        "{subject content}: x", "'single'", "a\"b\"c", "\\", "a\x00b", "\x00", "%", "_", "a_b",
        "cafe\u0301", "ﬃ", "İstanbul", "\t\n", "🙂 emoji", "a" * 1000, " ".join(["w"] * 800),
        " ".join(f"w{i}" for i in range(700)),
    ],
)
def test_fts5_syntax_in_query_text_never_raises(memory: Memory, query: str) -> None:
    memory.save("foo bar connection NEAR AND OR NOT subject", "syntax")
    result = memory.search(SearchQuery(text=query))
    assert result.match in ("all", "any", "browse")
    assert result.total >= len(result.hits)


def test_fts5_operators_are_searched_as_words(memory: Memory) -> None:
    oid = memory.save("Remember to NOT deploy on Fridays", "deploys").observation.observation_id
    memory.save("unrelated text", "other")
    assert ids(find(memory, "NOT deploy")) == [oid]
    assert ids(find(memory, "deploy:")) == [oid]
    assert ids(find(memory, "(Fridays)")) == [oid]


def test_lone_surrogate_in_query_is_a_validation_error(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="query"):
        find(memory, "bad \ud800 text")
    with pytest.raises(ValidationError, match="project"):
        find(memory, "ok", project="\udfff")


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=60) | st.lists(
    st.sampled_from(['"', "*", "-", ":", "(", ")", "NEAR", "AND", "OR", "NOT", "^", "+", "{", "}",
                     "東京", "db", "abc", " ", "\x00"]), max_size=12).map("".join))
def test_arbitrary_query_text_never_raises(memory: Memory, query: str) -> None:
    if not memory.store.db.execute("SELECT 1 FROM observations").fetchone():
        memory.save("database configuration 東京都庁 NEAR AND OR", "seed")
    result = memory.search(SearchQuery(text=query, limit=5))
    assert len(result.hits) <= 5
    assert result.total >= len(result.hits)


# ------------------------------------------------------ all / any terms


def test_every_word_counts_and_none_is_required(memory: Memory) -> None:
    both = memory.save("zenoh router and sqlite store", "both").observation.observation_id
    one = memory.save("zenoh router only", "one").observation.observation_id
    result = find(memory, "zenoh sqlite")
    assert result.match == "all"
    assert ids(result) == [both, one]
    assert result.hits[0].score > result.hits[1].score

    result = find(memory, "zenoh quokka")
    assert result.match == "any"
    assert set(ids(result)) == {both, one}
    assert result.total == 2
    assert result.matched_terms == ["zenoh"]

    result = find(memory, "quokka wombat")
    assert ids(result) == []


def test_single_term_matching_nothing(memory: Memory) -> None:
    memory.save("zenoh router", "one")
    result = find(memory, "quokka")
    assert result.hits == []
    assert result.total == 0


def test_stop_words_do_not_match_or_rank(memory: Memory) -> None:
    only_stop = put(memory, "it was the one that we had", "the of and").observation_id
    router = put(memory, "router", "a router").observation_id
    result = find(memory, "what is the router for")
    assert ids(result) == [router]
    assert result.terms == ["router"]
    # A query of stop words only still searches for them.
    assert only_stop in ids(find(memory, "the"))


def test_sentence_finds_the_memory_sharing_its_rarer_words(memory: Memory) -> None:
    target = put(memory, "The resolver now skips yanked wheels when locking", "skip yanked "
                 "wheels").observation_id
    for i in range(15):
        put(memory, f"fix the resolver cache {i}", f"resolver fix {i}")
    put(memory, "fix locking in the installer", "installer locking")
    result = find(memory, "Fix an issue where the resolver did not skip yanked wheels", limit=5)
    assert ids(result)[0] == target
    assert result.match == "any"


def test_empty_query_is_browse(memory: Memory) -> None:
    memory.save("anything", "one")
    for text in ("", "   ", '""', "()"):
        result = find(memory, text)
        assert result.match == "browse"
        assert len(result.hits) == 1


# --------------------------------------------------------------- filters


def test_filter_project_and_memory_types(memory: Memory) -> None:
    a = memory.save("shared word", "a", project="alpha", memory_type="decision").observation
    b = memory.save("shared word", "b", project="beta", memory_type="bug").observation
    c = memory.save("shared word", "c", project="alpha", memory_type="note").observation
    assert set(ids(find(memory, "shared", project="alpha"))) == {a.observation_id, c.observation_id}
    assert ids(find(memory, "", project="beta")) == [b.observation_id]
    assert ids(find(memory, "shared", project="gamma")) == []
    assert set(ids(find(memory, "shared", memory_types=["decision", "bug"]))) == {
        a.observation_id, b.observation_id}
    assert ids(find(memory, "", project="alpha", memory_types=["note"])) == [c.observation_id]
    with pytest.raises(ValidationError):
        find(memory, "shared", memory_types=["incident"])


def test_filter_tags_requires_every_tag(memory: Memory) -> None:
    ab = memory.save("tagged", "ab", tags="a,b").observation.observation_id
    a = memory.save("tagged", "a", tags=["a"]).observation.observation_id
    memory.save("tagged", "none")
    assert set(ids(find(memory, "tagged", tags=["a"]))) == {ab, a}
    assert ids(find(memory, "tagged", tags=["a", "b"])) == [ab]
    assert ids(find(memory, "", tags=["c"])) == []
    # a tag is matched whole, not as a substring of a longer tag
    assert ids(find(memory, "", tags=["ab"])) == []


@pytest.mark.parametrize("name", ["agent_family", "client_id", "pc_id", "session_id"])
def test_filter_identity_fields(memory: Memory, name: str) -> None:
    mine = memory.save("identity text", "mine").observation
    theirs = put(memory, "identity text", "theirs", **{name: "other-" + "e" * 8})
    assert ids(find(memory, "identity", **{name: getattr(mine, name)})) == [mine.observation_id]
    assert ids(find(memory, "", **{name: getattr(theirs, name)})) == [theirs.observation_id]
    assert ids(find(memory, "identity", **{name: "nobody"})) == []


def test_filter_visibility_tiers(scoped: Memory) -> None:
    mesh = scoped.save("tier text", "mesh").observation.observation_id
    user = scoped.save("tier text", "user", visibility="user").observation.observation_id
    team = scoped.save("tier text", "team", visibility="team").observation.observation_id
    legacy = put(scoped, "tier text", "legacy", visibility="").observation_id
    assert set(ids(find(scoped, "tier"))) == {mesh, user, team, legacy}
    assert ids(find(scoped, "tier", visibility=["mesh"])) == [mesh]
    assert ids(find(scoped, "tier", visibility=["user"])) == [user]
    assert ids(find(scoped, "tier", visibility=["team"])) == [team]
    assert ids(find(scoped, "tier", visibility=["legacy"])) == [legacy]
    assert set(ids(find(scoped, "", visibility=["user", "legacy"]))) == {user, legacy}
    with pytest.raises(ValidationError):
        find(scoped, "tier", visibility=["public"])


def test_filter_since_and_until(memory: Memory) -> None:
    old = put(memory, "timed text", "old", age_s=10 * DAY).observation_id
    mid = put(memory, "timed text", "mid", age_s=3 * DAY).observation_id
    new = put(memory, "timed text", "new").observation_id
    now = time.time()
    assert set(ids(find(memory, "timed", since=now - 5 * DAY))) == {mid, new}
    assert ids(find(memory, "timed", until=now - 5 * DAY)) == [old]
    assert ids(find(memory, "", since=now - 5 * DAY, until=now - DAY)) == [mid]
    assert ids(find(memory, "timed", since=now + DAY)) == []


# ------------------------------------------------------ hidden by default


def test_tombstoned_hidden_unless_included(memory: Memory) -> None:
    gone = memory.save("hidden text", "gone").observation.observation_id
    kept = memory.save("hidden text", "kept").observation.observation_id
    memory.delete(gone, "obsolete")
    assert ids(find(memory, "hidden")) == [kept]
    assert ids(find(memory, "")) == [kept]
    result = find(memory, "hidden", include_tombstoned=True)
    assert set(ids(result)) == {gone, kept}
    flags = {h.observation.observation_id: h.tombstoned for h in result.hits}
    assert flags == {gone: True, kept: False}


def test_superseded_hidden_unless_included(memory: Memory) -> None:
    old = memory.save("retry policy is three attempts", "retry").observation.observation_id
    new = memory.save("retry policy is five attempts", "retry v2",
                      supersedes=old[:10]).observation.observation_id
    assert ids(find(memory, "retry")) == [new]
    result = find(memory, "retry", include_superseded=True)
    assert set(ids(result)) == {old, new}
    assert {h.observation.observation_id: h.superseded for h in result.hits} == {old: True, new: False}
    # Deleting the replacement brings the original back.
    memory.delete(new)
    assert ids(find(memory, "retry")) == [old]


def test_supersession_arriving_before_the_old_memory(memory: Memory) -> None:
    old_id = new_id()
    new = put(memory, "replacement text", "new", supersedes=[old_id]).observation_id
    put(memory, "replacement text", "old", observation_id=old_id)
    assert ids(find(memory, "replacement")) == [new]


def test_expired_hidden_unless_included(memory: Memory) -> None:
    past = put(memory, "expiring text", "past", expires_at=format_ts(time.time() - 60)).observation_id
    future = memory.save("expiring text", "future", ttl_sec=3600).observation
    assert future.expires_at > format_ts(time.time())
    in_a_week = format_ts(time.time() + 7 * DAY)
    also_future = memory.save("expiring text", "later", expires_at=in_a_week).observation.observation_id
    never = memory.save("expiring text", "never").observation.observation_id
    assert set(ids(find(memory, "expiring"))) == {future.observation_id, also_future, never}
    result = find(memory, "expiring", include_expired=True)
    assert past in ids(result)
    assert {h.observation.observation_id for h in result.hits if h.expired} == {past}


def test_non_canonical_past_expiry_from_a_peer_is_hidden(memory: Memory) -> None:
    put(memory, "peer text", "iso date", expires_at="2001-02-03")
    put(memory, "peer text", "offset", expires_at="2001-02-03T04:05:06+09:00")
    assert ids(find(memory, "peer")) == []
    assert len(find(memory, "peer", include_expired=True).hits) == 2


def test_save_refuses_expiry_in_the_past(memory: Memory) -> None:
    with pytest.raises(ValidationError):
        memory.save("x", "y", expires_at="2001-01-01")
    with pytest.raises(ValidationError):
        memory.save("x", "y", ttl_sec=0)


# --------------------------------------------------------------- ranking


def test_importance_outranks_with_equal_text(memory: Memory) -> None:
    # The important one is slightly older, so the created_at tie-break alone
    # would put it second.
    high = put(memory, "ranking probe text", "same subject", importance=5, age_s=60).observation_id
    low = put(memory, "ranking probe text", "same subject", importance=1).observation_id
    result = find(memory, "ranking probe")
    assert ids(result) == [high, low]
    assert result.hits[0].score > result.hits[1].score
    browse = find(memory, "")
    assert ids(browse) == [high, low]


def test_newer_outranks_much_older_with_equal_text(memory: Memory) -> None:
    old = put(memory, "recency probe text", "same subject", age_s=365 * DAY).observation_id
    new = put(memory, "recency probe text", "same subject").observation_id
    result = find(memory, "recency probe")
    assert ids(result) == [new, old]
    assert result.hits[0].score > result.hits[1].score * 1.1


def test_recency_is_by_created_at_not_by_arrival(memory: Memory) -> None:
    new = put(memory, "arrival probe text", "same subject", age_s=DAY).observation_id
    old = put(memory, "arrival probe text", "same subject", age_s=400 * DAY).observation_id
    assert ids(find(memory, "arrival probe")) == [new, old]


def test_current_project_ranks_first_without_filtering(memory: Memory) -> None:
    other = put(memory, "boost probe text", "same", project="other", age_s=DAY).observation_id
    mine = put(memory, "boost probe text", "same", project="mine", age_s=2 * DAY).observation_id
    assert ids(find(memory, "boost probe")) == [other, mine]
    assert ids(find(memory, "boost probe", boost_project="mine")) == [mine, other]


def test_subject_match_outranks_content_match(memory: Memory) -> None:
    in_content = put(memory, "we talked about the heisenbug at length", "notes").observation_id
    in_subject = put(memory, "we talked about it at length", "heisenbug").observation_id
    assert ids(find(memory, "heisenbug")) == [in_subject, in_content]


def test_total_counts_matches_beyond_the_limit(memory: Memory) -> None:
    for i in range(7):
        put(memory, f"paging probe number {i}", f"page {i}")
    put(memory, "something else", "other")
    result = find(memory, "paging", limit=3)
    assert len(result.hits) == 3
    assert result.total == 7
    second = find(memory, "paging", limit=3, offset=3)
    assert len(second.hits) == 3
    assert not set(ids(result)) & set(ids(second))
    browse = find(memory, "", limit=3)
    assert len(browse.hits) == 3
    assert browse.total == 8
    with_unknown = find(memory, "paging quokka", limit=2)
    assert with_unknown.match == "any"
    assert (len(with_unknown.hits), with_unknown.total) == (2, 7)


def test_limit_must_be_positive(memory: Memory) -> None:
    with pytest.raises(ValidationError):
        find(memory, "x", limit=0)


# ---------------------------------------------------------- reader scope


def test_other_users_memories_are_not_returned(scoped: Memory) -> None:
    mine = put(scoped, "scoped text", "mine", visibility="user", scope_id="alice").observation_id
    bobs = put(scoped, "scoped text", "bob's", visibility="user", scope_id="bob").observation_id
    assert ids(find(scoped, "scoped")) == [mine]
    assert ids(find(scoped, "", visibility=["user"])) == [mine]
    assert bobs not in ids(find(scoped, "scoped", include_tombstoned=True, include_expired=True,
                                include_superseded=True))
    from kioku_mesh.core.errors import NotFoundError

    with pytest.raises(NotFoundError):
        scoped.get(bobs)
    assert scoped.get(mine).observation.observation_id == mine


def test_other_teams_memories_are_not_returned(scoped: Memory) -> None:
    ours = put(scoped, "team text", "ours", visibility="team", scope_id="core").observation_id
    put(scoped, "team text", "theirs", visibility="team", scope_id="sales")
    assert ids(find(scoped, "team")) == [ours]


def test_reader_without_user_id_sees_no_user_tier(memory: Memory) -> None:
    assert memory.settings.user_id == ""
    put(memory, "private text", "p", visibility="user", scope_id="alice")
    put(memory, "private text", "e", visibility="user", scope_id="")
    mesh = put(memory, "private text", "m").observation_id
    assert ids(find(memory, "private")) == [mesh]


def test_tombstone_of_unknown_memory_does_not_hide_others(memory: Memory) -> None:
    kept = memory.save("stay visible", "kept").observation.observation_id
    memory.store.add_tombstone(Tombstone(new_id(), "stray", format_ts(time.time())))
    assert ids(find(memory, "visible")) == [kept]


# ------------------------------------------------------- pruned ranking (ADR 0012)


def test_common_word_scored_only_where_it_can_matter_says_total_is_a_floor(
    memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kioku_mesh.store.search import topk

    # Start with the rarest term alone (in a large store, the budget does that).
    monkeypatch.setattr(topk, "FIRST_BUDGET", 1)
    for i in range(40):
        put(memory, f"widget note {i} " + "filler " * (i % 7), f"w{i}")
    rare = [put(memory, f"gizmo widget {i}", f"gizmo {i}").observation_id for i in range(3)]
    result = find(memory, "gizmo widget", limit=3)
    assert set(ids(result)) == set(rare)
    exhaustive = search(memory.store.db, SearchQuery(text="gizmo widget", limit=3),
                        memory.reader_scope, exhaustive=True)
    assert ids(result) == ids(exhaustive)
    assert [h.score for h in result.hits] == pytest.approx([h.score for h in exhaustive.hits])
    assert (exhaustive.total, exhaustive.total_exact) == (43, True)
    # "widget" is in every row: it cannot lift a row without "gizmo" into the
    # top 3, so only the gizmo rows were scored and the total is a floor.
    assert (result.total, result.total_exact, result.total_text) == (3, False, "3+")


def test_paging_gives_disjoint_pages_in_exhaustive_order(memory: Memory) -> None:
    for i in range(30):
        put(memory, f"cog {i} " + "sprocket " * (i % 4), f"c{i}", importance=1 + i % 5)
    pages = [ids(find(memory, "cog sprocket", limit=4, offset=o)) for o in (0, 4, 8)]
    whole = ids(search(memory.store.db, SearchQuery(text="cog sprocket", limit=12),
                       memory.reader_scope, exhaustive=True))
    assert pages[0] + pages[1] + pages[2] == whole


def test_quoted_word_is_exact_but_a_bare_word_is_also_a_prefix(memory: Memory) -> None:
    word = put(memory, "edit the config file", "cfg").observation_id
    longer = put(memory, "edit the configuration file", "cfg2").observation_id
    assert set(ids(find(memory, "config"))) == {word, longer}
    assert ids(find(memory, '"config"')) == [word]
    assert set(ids(find(memory, '"config file"'))) == {word}


@pytest.mark.parametrize("project", ["auth-service", 'we"ird:proj', "a*b (c)", "東京プロジェクト"])
def test_project_filter_is_exact_for_similar_and_odd_names(memory: Memory, project: str) -> None:
    mine = put(memory, "token refresh bug", "token", project=project).observation_id
    put(memory, "token refresh bug", "token", project=project + "-v2")
    put(memory, "token refresh bug", "token", project="other")
    assert ids(find(memory, "token", project=project)) == [mine]
    assert ids(find(memory, "oken", project=project)) == [mine]  # via the substring index


def test_a_term_matching_nothing_leaves_the_other_terms(memory: Memory) -> None:
    hit = put(memory, "a table of results", "tbl").observation_id
    all_terms = find(memory, "table qzxvjk")
    assert (ids(all_terms), all_terms.match) == ([hit], "any")
    assert ids(find(memory, "qzxvjk")) == []


def test_near_duplicate_candidates_have_the_longest_subject_word_newest_first(
    memory: Memory,
) -> None:
    from kioku_mesh.store.search import similar_candidates

    older = put(memory, "body", "Importer streams JSONL", age_s=DAY).observation_id
    newer = put(memory, "body", "importer streams jsonl lines").observation_id
    put(memory, "the importer streams JSONL", "words only in the content")
    csv = put(memory, "body", "importer reads CSV").observation_id
    db = memory.store.db
    found = [o.observation_id for o in similar_candidates(db, "Importer streams JSONL")]
    assert found == [csv, newer, older]
    narrowed = similar_candidates(db, "Importer streams JSONL", lambda s: "jsonl" in s.lower())
    assert [o.observation_id for o in narrowed] == [newer, older]
    assert [o.observation_id for o in similar_candidates(db, "Importer streams", limit=1)] == [csv]
    assert similar_candidates(db, "!!!") == []


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
# The names pile up in one store (the project column is indexed); a name with
# a word starting "oute" would make "oute" a word prefix, not a fragment of
# "router" (ADR 0012: a term is a word or prefix first, a substring only if
# no word matches).
@given(project=st.text(min_size=1, max_size=30).filter(
    lambda p: p.strip() == p and "\x00" not in p and "oute" not in p.lower()))
def test_arbitrary_project_filter_finds_exactly_that_project(memory: Memory, project: str) -> None:
    try:
        project.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates are refused earlier, by validation
    mine = put(memory, "zenoh router settings", "router probe", project=project).observation_id
    put(memory, "zenoh router settings", "router probe", project=project + " x")
    for text in ("zenoh", "oute", ""):
        result = find(memory, text, project=project, limit=100)
        assert mine in ids(result)
        assert {h.observation.project for h in result.hits} == {project}


# ------------------------------------------------------- identifiers (ADR 0012)


@pytest.mark.parametrize(("text", "queries"), [
    ("call Response.stream_text() to read it", ["Response.stream_text()", "stream_text",
                                                 "stream text", "Response"]),
    ("the --line-ranges option formats part of a file", ["--line-ranges", "line-ranges",
                                                         "ranges"]),
    ("respect NO_COLOR in every command", ["NO_COLOR", "no_color", "COLOR"]),
    ("rename parse_config_file", ["parse_config_file", "config_file", "parse"]),
    ("streamTextAsync replaces the old reader", ["streamTextAsync", "streamtextasync", "stream",
                                                 "Async", "text async", "StreamTextAsync"]),
    ("HTTPServer keeps connections open", ["HTTPServer", "server", "http"]),
])
def test_identifiers_are_found_whole_and_by_their_parts(memory: Memory, text: str,
                                                        queries: list[str]) -> None:
    in_subject = put(memory, "details below", text).observation_id
    put(memory, "an unrelated memory about parsing reader options", "other")
    for query in queries:
        assert ids(find(memory, query))[:1] == [in_subject], query


def test_camel_case_in_content_is_found_whole_and_by_its_first_part(memory: Memory) -> None:
    # ADR 0012: content is not scanned for camelCase parts (it would cost more
    # than the rest of its indexing); the whole word and a prefix still match.
    hit = put(memory, "streamTextAsync replaces the old reader", "note").observation_id
    assert ids(find(memory, "streamTextAsync")) == [hit]
    assert ids(find(memory, "stream")) == [hit]
    assert ids(find(memory, "Async")) == []


def test_whole_identifier_ranks_above_a_memory_with_one_part(memory: Memory) -> None:
    whole = put(memory, "stream_text() returns str", "api").observation_id
    part = put(memory, "the text of the error", "api").observation_id
    assert ids(find(memory, "stream_text"))[:2] == [whole, part]


def test_japanese_particles_split_words_and_do_not_match_alone(memory: Memory) -> None:
    hit = put(memory, "データベースの接続が切れる", "db").observation_id
    particle_only = put(memory, "これはのテスト", "ja").observation_id
    result = find(memory, "データベースの接続")
    assert ids(result) == [hit]
    assert result.terms == ["データベース", "接続"]
    assert particle_only not in ids(find(memory, "設定の接続"))


def test_a_short_partial_word_is_a_prefix_when_it_is_no_word(memory: Memory) -> None:
    auth = put(memory, "token refresh for authentication", "notes").observation_id
    py = put(memory, "the py launcher picks the interpreter", "notes").observation_id
    put(memory, "pyproject metadata", "notes")
    assert ids(find(memory, "aut")) == [auth]  # no word "aut": a prefix
    assert ids(find(memory, "py")) == [py]  # a word of its own: exact


def test_shown_superseded_memory_ranks_below_its_replacement(memory: Memory) -> None:
    old = memory.save("lease renewal lease renewal timing", "lease renewal").observation
    new = memory.save("renewal timing now lives in the node", "node timing",
                      supersedes=[old.observation_id]).observation
    result = find(memory, "lease renewal timing", include_superseded=True, explain=True)
    assert ids(result) == [new.observation_id, old.observation_id]
    why = result.hits[1].explanation
    assert why is not None and why.factors["superseded"] == 0.5
    assert "superseded" not in result.hits[0].explanation.factors  # type: ignore[union-attr]


def test_projects_filter_takes_any_of_several_names(memory: Memory) -> None:
    old = put(memory, "lease timing note", "lease", project="billing").observation_id
    new = put(memory, "lease timing note two", "lease", project="payments").observation_id
    put(memory, "lease timing note", "lease", project="other")
    result = find(memory, "lease timing", projects=["billing", "payments"])
    assert set(ids(result)) == {old, new} and result.total == 2


def test_boost_covers_the_other_names_of_the_current_project(memory: Memory) -> None:
    other = put(memory, "alias probe text", "same", project="other", age_s=DAY).observation_id
    old_name = put(memory, "alias probe text", "same", project="billing",
                   age_s=2 * DAY).observation_id
    result = find(memory, "alias probe", boost_project="payments", boost_aliases=["billing"])
    assert ids(result) == [old_name, other]
