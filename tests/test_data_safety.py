"""Issue 12 §3: data must not do harm.

Memories come from other hosts and agents: no output meant for a person
may carry a control or bidi character to the terminal, while JSON keeps
the exact text. Imports are checked and redacted like saves. Placeholder
keys are kept, and said to be.
"""

from __future__ import annotations

import io
import json
import re
import string

import pytest
from cli_helpers import save, save_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp_helpers import connect, spawned  # noqa: F401 - spawned checks every server exits

from kioku_mesh.cli.render import SafeStream, dump_json
from kioku_mesh.core.textsafe import UNSAFE_RE, neutralise, neutralise_output, one_line

NASTY_CONTENT = "x \x1b]0;pwned\x07 and \u202eevil\u202c \x9b2J end"
NASTY_SUBJECT = "a \x1b[2J\rb \u2066c"
UNSAFE = ["\x1b", "\x07", "\u202e", "\u2066", "\x9b", "\r"]


def _clean(text: str) -> None:
    for ch in UNSAFE:
        assert ch not in text, (ch, text)


def test_every_human_output_neutralises_escapes_and_json_stays_exact(km):
    obs = save(km, NASTY_CONTENT, NASTY_SUBJECT, "-t", "t\x1b[31m", "-p", "proj")
    oid = obs["observation_id"]
    assert obs["content"] == NASTY_CONTENT and obs["subject"] == NASTY_SUBJECT.strip()
    for args in (["search", "pwned"], ["search", "pwned", "--format", "markdown"], ["search"],
                 ["get", oid], ["get", oid, "--format", "markdown"], ["recall"],
                 ["delete", "-p", "proj", "--dry-run"], ["status"]):
        res = km.run(*args, check=True)
        _clean(res.stdout)
        _clean(res.stderr)
    shown = km.run("get", oid, check=True).stdout
    assert "\\u001b]0;pwned\\u0007" in shown and "\\u202eevil" in shown  # visible, not acted on
    # JSON output is the same JSON value: the text comes back exactly.
    for args in (["get", oid, "--json"], ["search", "pwned", "--json"], ["export"]):
        out = km.run(*args, check=True).stdout
        _clean(out)
        text = out if args[0] != "export" else out.splitlines()[0]
        data = json.loads(text)
        got = data["hits"][0] if "hits" in data else data
        assert got["content"] == NASTY_CONTENT and got["subject"] == NASTY_SUBJECT.strip()


def test_messages_and_errors_are_neutralised_too(km):
    me = json.loads(km.run("status", "--json", check=True).stdout)["identity"]["client_id"]
    sent = km.run("msg", "send", "hi \x1b]0;t\x07 there", "--to-agent", me, "--json", check=True)
    assert json.loads(sent.stdout)["msg_id"]
    inbox = km.run("msg", "inbox", check=True).stdout
    assert "hi \\u001b]0;t\\u0007 there" in inbox
    _clean(inbox)
    res = km.run("get", "\x1b[2Jdeadbeef")
    assert res.returncode != 0
    _clean(res.stderr)


@pytest.mark.anyio
@pytest.mark.usefixtures("spawned")
async def test_mcp_text_is_neutralised_and_structured_content_exact(km):
    async with connect(km) as c:
        oid = await c.save(NASTY_CONTENT, NASTY_SUBJECT)
        for tool, args in (("search_memory", {"query": "pwned"}), ("get_memory", {"id": oid}),
                           ("recall_context", {})):
            result = await c.ok(tool, **args)
            _clean(result.content[0].text)
        got = (await c.ok("get_memory", id=oid)).structured_content
        assert got["content"] == NASTY_CONTENT


# ----------------------------------------------------------------- properties

UNSAFE_CHARS = [chr(c) for c in (*range(0, 9), *range(11, 32), *range(127, 160))] + [
    "\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
texts = st.text(alphabet=st.one_of(st.sampled_from(UNSAFE_CHARS), st.characters(),
                                   st.sampled_from(list(string.printable))), max_size=60)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_neutralised_text_has_no_unsafe_character_and_keeps_the_rest(text: str) -> None:
    out = neutralise(text)
    assert UNSAFE_RE.search(out) is None
    assert "\r" not in out and "\x1b" not in out
    # Only unsafe characters change, each into its \\uXXXX spelling; lines and tabs stay.
    assert out.count("\n") == text.count("\n")
    if "\\" not in text:
        assert re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1), 16)), out) == text
    flat = one_line(text)
    assert "\n" not in flat and "\t" not in flat and UNSAFE_RE.search(flat) is None


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(texts, st.lists(texts, max_size=3)),
                       max_size=4))
def test_json_through_the_safe_stream_is_the_same_json_value(data: dict) -> None:
    raw = io.StringIO()
    dump_json(data, SafeStream(raw))  # type: ignore[arg-type]
    out = raw.getvalue()
    assert UNSAFE_RE.search(out.replace("\n", "")) is None
    assert json.loads(out) == data


@settings(max_examples=300, deadline=None)
@given(texts)
def test_our_own_colour_codes_survive_and_foreign_ones_do_not(text: str) -> None:
    line = f"\x1b[36m{text}\x1b[0m"
    out = neutralise_output(line)
    assert out.startswith("\x1b[36m") and out.endswith("\x1b[0m")
    inner = out[len("\x1b[36m"):-len("\x1b[0m")]
    assert "\x1b" not in neutralise(text) and (inner == neutralise(text) or "\x1b[" in text)


# ---------------------------------------------------------------------- import


def test_import_redacts_like_save_with_a_summary_and_allow_secrets(km, make_km):
    token = "ghp_" + "Ab1" * 12
    lines = [{"subject": "Deploy", "content": f"push with GITHUB_TOKEN={token}"},
             {"subject": "Keys", "content": f"two: {token} and again {token}"},
             {"subject": "Clean", "content": "nothing secret here"}]
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    res = km.run("import", "-", input=text, check=True)
    assert "redacted 3 secrets (github_token x3) in 2 memories" in res.stderr
    assert "--allow-secrets" in res.stderr
    exported = km.run("export", check=True).stdout
    assert token not in exported and "[REDACTED:github_token]" in exported
    report = json.loads(km.run("import", "-", "--json", input=text, check=True).stdout)
    assert report["redactions"] == {"github_token": 3} and report["redacted_memories"] == 2
    other = make_km()
    res = other.run("import", "-", "--allow-secrets", input=text, check=True)
    assert "redacted" not in res.stderr
    assert token in other.run("export", check=True).stdout


def test_placeholder_keys_are_kept_and_said_to_be(km):
    res = km.run("save", "AWS docs use AKIAIOSFODNN7EXAMPLE as the key id", "-s", "AWS example")
    assert res.returncode == 0
    assert "AKIAIOSFODNN7EXAMPLE looks like a documentation placeholder, kept" in res.stderr
    oid = res.stdout.split()[1]
    assert "AKIAIOSFODNN7EXAMPLE" in km.run("get", oid, check=True).stdout
    quiet = km.run("save", "nothing key-like here", "-s", "Plain", check=True)
    assert quiet.stderr == ""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({}, optional={
    "subject": st.one_of(st.text(max_size=30), st.integers()),
    "content": st.one_of(st.text(max_size=60), st.just("key ghp_" + "Zz9" * 12)),
    "created_at": st.one_of(st.text(max_size=12), st.just("2025-01-02T03:04:05.000000Z")),
    "expires_at": st.one_of(st.just(""), st.text(max_size=10)),
    "memory_type": st.one_of(st.sampled_from(["note", "bug", "weird", ""]), st.text(max_size=6)),
    "visibility": st.sampled_from(["mesh", "", "galaxy", "user", "team"]),
    "importance": st.one_of(st.integers(-2, 8), st.text(max_size=2)),
    "project": st.one_of(st.just("ok-proj"), st.text(max_size=10)),
    "tags": st.one_of(st.lists(st.text(max_size=8), max_size=3), st.text(max_size=5)),
    "x_extra": st.integers(),
}))
def test_import_lines_are_stored_valid_and_redacted_or_refused(memory, data: dict) -> None:
    """Whatever a line holds, import stores a record that passes the checks a
    save makes, with no secret left in it, or refuses that line."""
    from kioku_mesh.api.transfer import parse_line
    from kioku_mesh.core.errors import ValidationError
    from kioku_mesh.core.models import MEMORY_TYPES, validate_new
    from kioku_mesh.core.timeutil import parse_ts

    try:
        obs = parse_line(memory, json.dumps(data))
    except ValidationError:
        return
    validate_new(obs, memory.settings.limits, imported=True)
    assert parse_ts(obs.created_at) is not None
    assert obs.memory_type in MEMORY_TYPES and obs.raw_memory_type is None
    assert "ghp_" not in obs.content
    assert obs.extras.get("x_extra") == data.get("x_extra")


def test_save_with_escapes_round_trips_through_import(km, make_km):
    oid = save_id(km, NASTY_CONTENT, "Escapes")
    other = make_km()
    other.run("import", "-", input=km.run("export", check=True).stdout, check=True)
    got = json.loads(other.run("get", oid, "--json", check=True).stdout)
    assert got["content"] == NASTY_CONTENT
