"""Bad input everywhere: one line on stderr, a non-zero exit, no traceback, nothing written."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, counts, save_id, search_json
from conftest import make_env

# A lone surrogate in an argument is how Python hands over invalid UTF-8 bytes
# from argv (surrogateescape); subprocess turns it back into the raw byte 0xff.
BAD_UTF8_ARG = "caf\udcff"



@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """One store holding one memory, shared by the many cases that must not change it."""
    env = make_env(tmp_path_factory.mktemp("populated"))
    save_id(env, "an existing memory", "Existing")
    return env, counts(env)


SAVE_CASES = {
    "empty subject": (["body", "-s", ""], None, "subject"),
    "blank subject": (["body", "-s", "   "], None, "subject"),
    "empty content": (["", "-s", "subj"], None, "content"),
    "importance 9": (["body", "-s", "subj", "--importance", "9"], None, "importance"),
    "importance 0": (["body", "-s", "subj", "-i", "0"], None, "importance"),
    "importance not an integer": (["body", "-s", "subj", "--importance", "high"], None,
                                  "importance"),
    "importance a float": (["body", "-s", "subj", "--importance", "2.5"], None, "importance"),
    "invalid visibility": (["body", "-s", "subj", "--visibility", "world"], None, "visibility"),
    "user visibility without user id": (["body", "-s", "subj", "--visibility", "user"], None,
                                        "user_id"),
    "invalid memory type": (["body", "-s", "subj", "--memory-type", "rumour"], None,
                            "memory_type"),
    "invalid project": (["body", "-s", "subj", "-p", "has space"], None, "project"),
    "zero ttl": (["body", "-s", "subj", "--ttl", "0"], None, "ttl"),
    "ttl not an integer": (["body", "-s", "subj", "--ttl", "soon"], None, "ttl"),
    "ttl and expires-at": (["body", "-s", "subj", "--ttl", "5", "--expires-at", "2099-01-01"],
                           None, "not both"),
    "expires-at in the past": (["body", "-s", "subj", "--expires-at", "2001-01-01"], None,
                               "future"),
    "expires-at garbage": (["body", "-s", "subj", "--expires-at", "tomorrowish"], None, "time"),
    "supersedes short prefix": (["body", "-s", "subj", "--supersedes", "abc"], None, "short"),
    "supersedes not hex": (["body", "-s", "subj", "--supersedes", "xyzxyzxyzxyz"], None,
                           "hexadecimal"),
    "subject too long": (["body", "-s", "s" * 201], None, "subject"),
    "invalid UTF-8 content argument": ([BAD_UTF8_ARG, "-s", "subj"], None, "UTF-8"),
    "invalid UTF-8 subject argument": (["body", "-s", BAD_UTF8_ARG], None, "UTF-8"),
    "invalid UTF-8 tag argument": (["body", "-s", "subj", "-t", BAD_UTF8_ARG], None, "UTF-8"),
    "invalid UTF-8 on stdin": (["-", "-s", "subj"], b"caf\xc3\x28 ok\n", "UTF-8"),
    "lone continuation byte on stdin": (["-", "-s", "subj"], b"\x80abc", "UTF-8"),
    "NUL on stdin": (["-", "-s", "subj"], b"before\x00after", "NUL"),
    "only whitespace on stdin": (["-", "-s", "subj"], b" \n\t\n", "content"),
    "content over the size limit": (["-", "-s", "subj"], b"x" * (64 * 1024 + 1), "bytes"),
}


@pytest.mark.parametrize("case", list(SAVE_CASES))
def test_bad_save_input_is_one_line_exit_2_and_writes_nothing(populated, case):
    km, before = populated
    args, stdin, needle = SAVE_CASES[case]
    res = km.run("save", *args, input=stdin if stdin is not None else b"")
    assert_one_line_error(res, 2, contains=needle)
    assert res.stdout == ""
    assert counts(km) == before


def test_supersedes_unknown_prefix_is_not_found_and_writes_nothing(populated):
    km, before = populated
    res = km.run("save", "body", "-s", "subj", "--supersedes", "0123456789")
    assert_one_line_error(res, 1, contains="no memory")
    assert counts(km) == before


USAGE_CASES = {
    "unknown subcommand": (["frobnicate"], "invalid choice"),
    "unknown option": (["search", "--frobnicate"], "unrecognized"),
    "search limit not an integer": (["search", "x", "-n", "many"], "limit"),
    "search limit zero": (["search", "x", "-n", "0"], "limit"),
    "search bad since": (["search", "--since", "last tuesday"], "time"),
    "search bad until": (["search", "--until", "2026-13-45"], "time"),
    "search bad memory type": (["search", "--memory-type", "rumour"], "memory_type"),
    "search bad visibility": (["search", "--visibility", "world"], "visibility"),
    "search invalid UTF-8 query": (["search", BAD_UTF8_ARG], "UTF-8"),
    "search invalid UTF-8 project": (["search", "-p", BAD_UTF8_ARG], "UTF-8"),
    "search bad format": (["search", "--format", "yaml"], "format"),
    "get without id": (["get-memory"], "id"),
    "recall budget too small": (["recall", "--max-chars", "10"], "max_chars"),
    "recall budget not an integer": (["recall", "--max-chars", "lots"], "max-chars"),
    "gc without a mode": (["gc"], "--retention-days"),
    "gc negative retention": (["gc", "--retention-days", "-1"], "retention"),
    "gc both modes": (["gc", "--retention-days", "1", "--by-pc-id", "ab"], "not allowed"),
    "delete without id or filters": (["delete", "--yes"], "bulk"),
    "delete id and filters": (["delete", "0123456789", "-p", "x", "--yes"], "not both"),
    "delete bad since": (["delete", "--since", "never", "--yes"], "time"),
    "import missing file": (["import", "/nonexistent/dir/file.jsonl"], "cannot read"),
    "init bad default visibility": (["init", "--default-visibility", "world"], "invalid choice"),
}


@pytest.mark.parametrize("case", list(USAGE_CASES))
def test_usage_and_validation_errors(populated, case):
    km, before = populated
    args, needle = USAGE_CASES[case]
    res = km.run(*args, input=b"")
    assert_one_line_error(res, 2, contains=needle)
    assert counts(km) == before
    assert not km.config_path.exists()


@pytest.mark.parametrize("command", ["get-memory", "delete", "purge"])
def test_bad_ids_are_rejected_by_every_command(km, command):
    oid = save_id(km, "an existing memory", "Existing")
    before = counts(km)
    extra = ["--yes"] if command == "delete" else []
    for bad, needle in ((oid[:7], "too short"), ("g" * 12, "hexadecimal"),
                        (oid + "a", "hexadecimal"), ("", None),
                        ("0123-4567-89", "hexadecimal"), (BAD_UTF8_ARG * 3, "hexadecimal")):
        res = km.run(command, bad, *extra, input=b"")
        assert_one_line_error(res, 2, contains=needle)
    missing = "0" * 32 if oid != "0" * 32 else "1" * 32
    for unknown in (missing[:8], missing):
        assert_one_line_error(km.run(command, unknown, *extra, input=b""), 1, contains="no memory")
    assert counts(km) == before


def test_delete_reason_with_invalid_utf8_writes_nothing(km):
    oid = save_id(km, "an existing memory", "Existing")
    before = counts(km)
    assert_one_line_error(km.run("delete", oid, "--reason", BAD_UTF8_ARG), 2, contains="UTF-8")
    assert_one_line_error(km.run("delete", "-p", "x", "--reason", BAD_UTF8_ARG, "--yes",
                                 input=b""), 2, contains="UTF-8")
    assert counts(km) == before


def test_no_command_prints_help_and_exits_2(km):
    res = km.run()
    assert res.returncode == 2
    assert "usage:" in res.stdout and "Traceback" not in res.stderr


FTS_QUERIES = [
    '"', '""', '"alpha', 'alpha"', '"alpha beta"', "alpha*", "*", "-alpha beta", "alpha -beta",
    "alpha:beta", "subject:alpha", "(alpha", "alpha)", "(alpha OR beta)", "NEAR(alpha beta)",
    "NEAR(alpha beta, 2)", "alpha AND", "NOT alpha", "AND OR NOT", "^alpha", "{subject}: alpha",
    "'alpha'", "alpha\\", '"""alpha"""', "[alpha]", "alpha;--", "%alpha%", "alpha\t\nbeta",
    "α βeta 日本", "alpha" * 200, " ".join(["alpha"] * 100),
]
# Each of these contains the whole word alpha, so it should find the memory.
FINDS_ALPHA = {'"alpha', 'alpha"', '"alpha beta"', "alpha*", "-alpha beta", "alpha -beta",
               "alpha:beta", "(alpha", "alpha)", "(alpha OR beta)", "^alpha", "{subject}: alpha",
               "'alpha'", "alpha\\", '"""alpha"""', "[alpha]", "alpha;--", "%alpha%",
               "alpha\t\nbeta", " ".join(["alpha"] * 100)}
assert FINDS_ALPHA <= set(FTS_QUERIES)


def test_fts5_syntax_in_queries_never_breaks_search(km):
    oid = save_id(km, "alpha beta gamma: the (quick) brown fox", "Alpha beta subject")
    for query in FTS_QUERIES:
        res = km.run("search", query, "--json")
        if not any(c.isalnum() for c in query):  # nothing to search for: said so, not "everything"
            assert_one_line_error(res, 2, contains="no letters or digits")
            continue
        assert res.returncode == 0, (query, res.stderr)
        assert "Traceback" not in res.stderr and "error" not in res.stderr.lower(), query
        ids = [o["observation_id"] for o in json.loads(res.stdout)["hits"]]
        if query in FINDS_ALPHA:
            assert ids == [oid], query
    for query in [q for q in FTS_QUERIES if any(c.isalnum() for c in q)][::4]:
        text = km.run("search", query)
        assert text.returncode == 0 and "Traceback" not in text.stderr, query
        assert text.stdout.strip(), query
    # An argument that starts with "-" needs "--", as with any command-line tool.
    res = km.run("search", "--", "-alpha")
    assert res.returncode == 0 and oid[:12] in res.stdout
    res = km.run("search", "--json", "--", "-alpha", check=True)
    assert [o["observation_id"] for o in json.loads(res.stdout)["hits"]] == [oid]


def test_fts5_syntax_in_saved_content_is_stored_verbatim(km):
    content = 'NEAR("x" y) AND -z OR col:w * ^q {a b} \'s\' "unbalanced'
    oid = save_id(km, content, 'Subject with "quotes" and (parens)')
    got = json.loads(km.run("get", oid, "--json", check=True).stdout)
    assert got["content"] == content
    assert [o["observation_id"] for o in search_json(km, "unbalanced")] == [oid]
    assert [o["observation_id"] for o in search_json(km, '"quotes" and (parens)')] == [oid]
