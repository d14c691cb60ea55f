"""Zenoh key shapes: build/parse for every tier and kind, and what is refused."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kioku_mesh.core.errors import ValidationError
from kioku_mesh.core.keyspace import (
    OBS_SELECTOR,
    TOMB_SELECTOR,
    MemoryKey,
    build_key,
    is_valid_chunk,
    key_for,
    parse_key,
)
from kioku_mesh.core.models import Observation

OID = "0123456789abcdef0123456789abcdef"
IDENT = ("claude", "claude-code", "f" * 32, "20260131T120000Z-deadbeef")
TAIL = "/".join(IDENT) + "/" + OID

TIERS = [
    ("mesh", "", "mem/mesh/{kind}/" + TAIL),
    ("user", "alice", "mem/user/alice/{kind}/" + TAIL),
    ("team", "core.dev-1", "mem/team/core.dev-1/{kind}/" + TAIL),
    ("", "", "mem/{kind}/" + TAIL),
]


@pytest.mark.parametrize("kind", ["obs", "tomb"])
@pytest.mark.parametrize(("tier", "scope", "template"), TIERS)
def test_build_and_parse_round_trip(kind: str, tier: str, scope: str, template: str) -> None:
    key = build_key(kind, tier, scope, *IDENT, OID)
    assert key == template.format(kind=kind)
    parsed = parse_key(key)
    assert parsed == MemoryKey(tier, scope, kind, *IDENT, OID)
    assert str(parsed) == key


def test_selectors_cover_every_tier_shape() -> None:
    assert OBS_SELECTOR == "mem/**/obs/**"
    assert TOMB_SELECTOR == "mem/**/tomb/**"


@pytest.mark.parametrize("bad", ["a/b", "a*", "$x", "x#", "what?", "", " lead", "trail ", "tab\tin",
                                 "nul\x00"])
@pytest.mark.parametrize("position", range(4))
def test_build_rejects_bad_identity_segments(bad: str, position: int) -> None:
    ident = list(IDENT)
    ident[position] = bad
    with pytest.raises(ValidationError):
        build_key("obs", "mesh", "", *ident, OID)


@pytest.mark.parametrize("bad", ["a/b", "a*", "$x", "x#", "what?", "", " x"])
def test_is_valid_chunk_rejects(bad: str) -> None:
    assert not is_valid_chunk(bad)


def test_is_valid_chunk_accepts_ordinary_segments() -> None:
    for good in ("claude", "user@host.local", "日本", "a-b_c.d", "x:y"):
        assert is_valid_chunk(good)
    assert not is_valid_chunk(None)
    assert not is_valid_chunk(42)


@pytest.mark.parametrize("scope", ["", "-lead", ".dot", "a b", "a/b", "x" * 65, "ü"])
@pytest.mark.parametrize("tier", ["user", "team"])
def test_build_rejects_bad_slugs(tier: str, scope: str) -> None:
    with pytest.raises(ValidationError):
        build_key("obs", tier, scope, *IDENT, OID)


def test_build_rejects_unknown_kind_tier_and_bad_id() -> None:
    with pytest.raises(ValidationError):
        build_key("msg", "mesh", "", *IDENT, OID)
    with pytest.raises(ValidationError):
        build_key("obs", "galaxy", "", *IDENT, OID)
    for bad in (OID.upper(), OID[:-1], "z" * 32, ""):
        with pytest.raises(ValidationError):
            build_key("obs", "mesh", "", *IDENT, bad)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "mem",
        "mem/mesh/obs",
        # wrong segment counts
        "mem/mesh/obs/" + "/".join(IDENT),
        "mem/mesh/obs/" + TAIL + "/extra",
        "mem/user/obs/" + TAIL,
        "mem/team/t1/x/obs/" + TAIL,
        "mem/obs/" + TAIL + "/extra",
        # wrong root / kind
        "mum/mesh/obs/" + TAIL,
        "mem/mesh/msg/" + TAIL,
        "mem/user/alice/msg/" + TAIL,
        "mem/galaxy/obs/" + TAIL,
        # bad slug
        "mem/user/-alice/obs/" + TAIL,
        "mem/team/a b/obs/" + TAIL,
        # empty and forbidden segments
        "mem/mesh/obs//claude-code/pc/sess/" + OID,
        "mem/mesh/obs/*/claude-code/pc/sess/" + OID,
        "mem/mesh/obs/**/claude-code/pc/sess/" + OID,
        "mem/mesh/obs/claude/$cli/pc/sess/" + OID,
        "mem/mesh/obs/claude/cli/p#c/sess/" + OID,
        "mem/mesh/obs/claude/cli/pc/se?ss/" + OID,
        # non-hex / wrong-length leaf
        "mem/mesh/obs/" + "/".join(IDENT) + "/" + OID.upper(),
        "mem/mesh/obs/" + "/".join(IDENT) + "/" + "g" * 32,
        "mem/mesh/obs/" + "/".join(IDENT) + "/" + OID[:31],
        "mem/mesh/obs/" + "/".join(IDENT) + "/*",
    ],
)
def test_parse_rejects(key: str) -> None:
    with pytest.raises(ValidationError):
        parse_key(key)


def _obs(**overrides: object) -> Observation:
    base = Observation(
        observation_id=OID, created_at="", content="c", subject="s",
        agent_family=IDENT[0], client_id=IDENT[1], pc_id=IDENT[2], session_id=IDENT[3],
    )
    return dataclasses.replace(base, **overrides)


@pytest.mark.parametrize(
    ("visibility", "scope", "prefix"),
    [("mesh", "", "mem/mesh/"), ("user", "alice", "mem/user/alice/"),
     ("team", "core", "mem/team/core/"), ("", "", "mem/")],
)
def test_key_for_observation_and_tombstone(visibility: str, scope: str, prefix: str) -> None:
    obs = _obs(visibility=visibility, scope_id=scope)
    assert key_for(obs) == f"{prefix}obs/{TAIL}"
    assert key_for(obs, "tomb") == f"{prefix}tomb/{TAIL}"
    parsed = parse_key(key_for(obs))
    assert (parsed.tier, parsed.scope_id, parsed.observation_id) == (visibility, scope, OID)


def test_key_for_refuses_observation_with_unusable_fields() -> None:
    with pytest.raises(ValidationError):
        key_for(_obs(visibility="user", scope_id=""))
    with pytest.raises(ValidationError):
        key_for(_obs(client_id="a/b"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.lists(
    st.sampled_from(["mem", "mesh", "user", "team", "obs", "tomb", "alice", "", "*", "**", OID,
                     "x", "a b", "$"]) | st.text(max_size=6),
    max_size=11,
).map("/".join))
def test_parse_key_never_raises_anything_but_validation_error(key: str) -> None:
    try:
        parsed = parse_key(key)
    except ValidationError:
        return
    assert str(parsed) == key
    assert parsed.kind in ("obs", "tomb")


_chunks = st.text(min_size=1, max_size=12).filter(is_valid_chunk)
_slugs = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["obs", "tomb"]),
    tier=st.sampled_from(["mesh", "user", "team", ""]),
    slug=_slugs,
    ident=st.tuples(_chunks, _chunks, _chunks, _chunks),
    oid=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
)
def test_build_parse_round_trip_property(
    kind: str, tier: str, slug: str, ident: tuple[str, str, str, str], oid: str
) -> None:
    scope = slug if tier in ("user", "team") else ""
    key = build_key(kind, tier, scope, *ident, oid)
    assert parse_key(key) == MemoryKey(tier, scope, kind, *ident, oid)
