"""Observation / Tombstone: tolerant reading, strict validation, JSON round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kioku_mesh.core.errors import ValidationError
from kioku_mesh.core.models import (
    DEFAULT_IMPORTANCE,
    WIRE_FIELDS,
    Limits,
    Observation,
    Tombstone,
    derive_summary,
    new_id,
    validate_new,
)

OID = "0123456789abcdef0123456789abcdef"


def full_wire(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "observation_id": OID,
        "created_at": "2026-01-31T12:00:00.000000Z",
        "content": "body text",
        "subject": "title",
        "summary": "short",
        "project": "kioku",
        "tags": ["a", "b"],
        "memory_type": "decision",
        "importance": 4,
        "agent_family": "claude",
        "client_id": "claude-code",
        "pc_id": "f" * 32,
        "session_id": "20260131T120000Z-deadbeef",
        "source_files": ["src/x.py"],
        "references": ["#67"],
        "supersedes": ["e" * 32],
        "visibility": "mesh",
        "scope_id": "",
        "expires_at": "",
    }
    data.update(overrides)
    return data


def good_obs(**overrides: object) -> Observation:
    obs = Observation(
        observation_id=new_id(),
        created_at="2026-01-31T12:00:00.000000Z",
        content="some content",
        subject="a subject",
        agent_family="cli",
        client_id="me@host",
        pc_id="f" * 32,
        session_id="20260131T120000Z-deadbeef",
    )
    return dataclasses.replace(obs, **overrides)


# ------------------------------------------------------------ from_wire


def test_from_wire_full_object_round_trips_exactly() -> None:
    data = full_wire()
    obs = Observation.from_wire(data)
    assert obs.memory_type == "decision"
    assert obs.importance == 4
    assert obs.tags == ["a", "b"]
    assert obs.extras == {}
    assert obs.to_wire() == data


def test_from_wire_missing_fields_get_empty_defaults() -> None:
    obs = Observation.from_wire({"observation_id": OID})
    assert obs.observation_id == OID
    assert obs.content == "" and obs.subject == "" and obs.created_at == ""
    assert obs.tags == [] and obs.supersedes == [] and obs.source_files == []
    assert obs.importance == DEFAULT_IMPORTANCE
    assert obs.memory_type == "note"
    wire = obs.to_wire()
    assert set(WIRE_FIELDS) <= set(wire)


def test_from_wire_null_everywhere() -> None:
    data = {name: None for name in WIRE_FIELDS}
    data["observation_id"] = OID
    obs = Observation.from_wire(data)
    assert obs.content == ""
    assert obs.tags == []
    assert obs.importance == DEFAULT_IMPORTANCE
    assert obs.visibility == ""  # null visibility reads as legacy


@pytest.mark.parametrize(
    ("field_name", "value", "expected"),
    [
        ("content", 123, "123"),
        ("subject", True, "True"),
        ("project", {"x": 1}, '{"x": 1}'),
        ("summary", ["a"], '["a"]'),
        ("tags", "solo", ["solo"]),
        ("tags", "", []),
        ("tags", [1, None, "x"], ["1", "x"]),
        ("tags", {"k": "v"}, ['{"k": "v"}']),
        ("references", 7, ["7"]),
        ("importance", "3", DEFAULT_IMPORTANCE),
        ("importance", True, DEFAULT_IMPORTANCE),
        ("importance", 9, 5),
        ("importance", 0, 1),
        ("importance", -4, 1),
        ("importance", 3.9, 3),
        ("importance", float("nan"), DEFAULT_IMPORTANCE),
        ("importance", float("inf"), DEFAULT_IMPORTANCE),
        ("importance", [3], DEFAULT_IMPORTANCE),
    ],
)
def test_from_wire_coerces_wrong_types(field_name: str, value: object, expected: object) -> None:
    obs = Observation.from_wire(full_wire(**{field_name: value}))
    assert getattr(obs, field_name) == expected


def test_from_json_accepts_nan_importance_without_crashing() -> None:
    text = json.dumps(full_wire()).replace('"importance": 4', '"importance": NaN')
    assert "NaN" in text
    assert Observation.from_json(text).importance == DEFAULT_IMPORTANCE


def test_unknown_memory_type_is_note_locally_and_original_on_the_wire() -> None:
    obs = Observation.from_wire(full_wire(memory_type="incident"))
    assert obs.memory_type == "note"
    assert obs.raw_memory_type == "incident"
    assert obs.to_wire()["memory_type"] == "incident"


def test_unknown_visibility_is_legacy_locally_and_original_on_the_wire() -> None:
    obs = Observation.from_wire(full_wire(visibility="org", scope_id="acme"))
    assert obs.visibility == ""
    assert obs.raw_visibility == "org"
    wire = obs.to_wire()
    assert wire["visibility"] == "org"
    assert wire["scope_id"] == "acme"


def test_known_values_have_no_raw_copy() -> None:
    obs = Observation.from_wire(full_wire(visibility="user", scope_id="alice"))
    assert obs.raw_visibility is None and obs.raw_memory_type is None
    assert obs.visibility == "user"


def test_unknown_extra_fields_are_kept_at_top_level() -> None:
    extra = {"x_future": {"nested": [1, 2]}, "priority": "high", "_raw_memory_type": "zzz"}
    obs = Observation.from_wire(full_wire(**extra))
    assert obs.extras == extra
    wire = obs.to_wire()
    for key, value in extra.items():
        assert wire[key] == value
    assert "extras" not in wire
    again = Observation.from_json(obs.to_json())
    assert again.to_wire() == wire


@pytest.mark.parametrize(
    "bad_id",
    [None, "", "xyz", OID.upper(), OID[:-1], OID + "0", "g" * 32, 12345, ["a" * 32],
     "01234567-89ab-cdef-0123-456789abcdef"],
)
def test_from_wire_rejects_invalid_observation_id(bad_id: object) -> None:
    with pytest.raises(ValidationError):
        Observation.from_wire(full_wire(observation_id=bad_id))


def test_from_wire_rejects_missing_id_and_non_objects() -> None:
    data = full_wire()
    del data["observation_id"]
    with pytest.raises(ValidationError):
        Observation.from_wire(data)
    for value in ([], "text", 3, None):
        with pytest.raises(ValidationError):
            Observation.from_wire(value)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", b"\xff\xfe", "null"])
def test_from_json_rejects_bad_text_with_validation_error(text: str | bytes) -> None:
    with pytest.raises(ValidationError):
        Observation.from_json(text)


def test_to_json_round_trip_preserves_everything() -> None:
    obs = Observation.from_wire(full_wire(
        content="日本語の本文 with \"quotes\" and \\ back\nslash",
        memory_type="weird", visibility="galaxy", extra_field=[1, {"a": None}],
    ))
    text = obs.to_json()
    assert "日本語" in text  # not ascii-escaped
    again = Observation.from_json(text)
    assert again == obs
    assert json.loads(text) == obs.to_wire()


def test_to_json_accepts_bytes() -> None:
    obs = Observation.from_wire(full_wire())
    assert Observation.from_json(obs.to_json().encode("utf-8")) == obs


def test_tombstone_from_wire_tolerant_and_round_trip() -> None:
    tomb = Tombstone.from_wire({"observation_id": OID, "deleted_at": None, "who": "me"})
    assert tomb.reason == "" and tomb.deleted_at == ""
    assert tomb.to_wire() == {"observation_id": OID, "reason": "", "deleted_at": "", "who": "me"}
    assert json.loads(tomb.to_json())["who"] == "me"
    with pytest.raises(ValidationError):
        Tombstone.from_wire({"reason": "x"})
    with pytest.raises(ValidationError):
        Tombstone.from_wire(["not", "an", "object"])


# ---------------------------------------------------------- validate_new


def test_validate_new_accepts_a_good_observation() -> None:
    validate_new(good_obs(tags=["x", "y"], supersedes=[OID], visibility="team", scope_id="core"),
                 Limits())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"content": " \n "}, "content"),
        ({"importance": 0}, "importance"),
        ({"importance": 9}, "importance"),
        ({"importance": "3"}, "importance"),
        ({"importance": True}, "importance"),
        ({"importance": 2.0}, "importance"),
        ({"visibility": "public"}, "visibility"),
        ({"visibility": ""}, "visibility"),
        ({"visibility": "user", "scope_id": ""}, "user_id"),
        ({"visibility": "team", "scope_id": ""}, "team_id"),
        ({"visibility": "user", "scope_id": "bad/slug"}, "user_id"),
        ({"visibility": "mesh", "scope_id": "alice"}, "scope_id"),
        ({"content": "a\x00b"}, "NUL"),
        ({"subject": "nul\x00"}, "NUL"),
        ({"content": "lone \ud800 surrogate"}, "UTF-8"),
        ({"summary": "\udfff"}, "UTF-8"),
        ({"project": "-starts-with-dash"}, "project"),
        ({"project": "has space"}, "project"),
        ({"project": "x" * 129}, "project"),
        ({"memory_type": "incident"}, "memory_type"),
        ({"tags": ["a,b"]}, "tag"),
        ({"tags": [" padded"]}, "tag"),
        ({"tags": [""]}, "tag"),
        ({"tags": ["line\nbreak"]}, "tag"),
        ({"tags": ["t" * 65]}, "tag"),
        ({"tags": [f"t{i}" for i in range(33)]}, "tags"),
        ({"supersedes": ["abcdef12"]}, "supersedes"),
        ({"supersedes": [OID.upper()]}, "supersedes"),
        ({"observation_id": "nothex"}, "observation_id"),
        ({"agent_family": "a/b"}, "agent_family"),
        ({"session_id": ""}, "session_id"),
        ({"source_files": ["  "]}, "source_files"),
        ({"subject": "s" * 201}, "subject"),
    ],
)
def test_validate_new_rejects(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_new(good_obs(**overrides), Limits())


def test_validate_new_rejects_self_supersession() -> None:
    obs = good_obs()
    obs.supersedes = [obs.observation_id]
    with pytest.raises(ValidationError, match="itself"):
        validate_new(obs, Limits())


def test_validate_new_content_limit_is_in_utf8_bytes() -> None:
    limits = Limits(max_content_bytes=30)
    validate_new(good_obs(content="x" * 30), limits)
    with pytest.raises(ValidationError, match="31 bytes"):
        validate_new(good_obs(content="x" * 31), limits)
    # 11 characters, 33 bytes
    with pytest.raises(ValidationError, match="33 bytes"):
        validate_new(good_obs(content="あ" * 11), limits)


def test_validate_new_default_content_limit_is_64k() -> None:
    validate_new(good_obs(content="x" * 65536), Limits())
    with pytest.raises(ValidationError, match="max_content_bytes"):
        validate_new(good_obs(content="x" * 65537), Limits())


# --------------------------------------------------------- derive_summary


def test_derive_summary_first_sentence() -> None:
    assert derive_summary("First sentence. Second sentence.") == "First sentence."
    assert derive_summary("これは一文目。二文目です。") == "これは一文目。"
    assert derive_summary("Is it? Yes. Fine") == "Is it?"


def test_derive_summary_takes_the_earliest_sentence_end() -> None:
    assert derive_summary("Really! It works. Fine") == "Really!"
    assert derive_summary("Done。Next. More") == "Done。"


def test_derive_summary_collapses_whitespace() -> None:
    assert derive_summary("  many\n\n  spaces\there  ") == "many spaces here"


def test_derive_summary_short_text_unchanged() -> None:
    assert derive_summary("no sentence end") == "no sentence end"
    assert derive_summary("") == ""


def test_derive_summary_cuts_long_text_at_a_word_boundary() -> None:
    text = " ".join(["word"] * 100)
    out = derive_summary(text, limit=50)
    assert out.endswith("…")
    assert len(out) <= 51
    assert out[:-1].split(" ") == ["word"] * (len(out[:-1].split(" ")))


def test_derive_summary_cuts_long_text_without_spaces() -> None:
    out = derive_summary("x" * 300, limit=40)
    assert out == "x" * 40 + "…"


def test_derive_summary_ignores_sentence_end_beyond_limit() -> None:
    text = "a " * 150 + "end. tail"
    out = derive_summary(text, limit=100)
    assert out.endswith("…")
    assert "end." not in out


# ------------------------------------------------------------- property


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_ids = st.just(OID) | st.text(alphabet="0123456789abcdefABCDEF-", min_size=30, max_size=34) | _json_values
_keys = st.sampled_from(WIRE_FIELDS) | st.text(max_size=10)
_wire_like = st.fixed_dictionaries({"observation_id": _ids}) | st.fixed_dictionaries({})
_wire_dicts = st.builds(
    lambda base, rest: {**rest, **base},
    _wire_like,
    st.dictionaries(_keys, _json_values, max_size=10),
)


@settings(max_examples=300, deadline=None)
@given(data=_wire_dicts | _json_values)
def test_from_wire_never_raises_anything_but_validation_error(data: object) -> None:
    try:
        obs = Observation.from_wire(data)
    except ValidationError:
        return
    # Whatever was accepted can be written back out and read again, stably.
    wire = obs.to_wire()
    assert wire["observation_id"] == OID
    assert isinstance(obs.importance, int) and 1 <= obs.importance <= 5
    assert all(isinstance(t, str) for t in obs.tags)
    text = obs.to_json()
    again = Observation.from_json(text)
    assert json.dumps(again.to_wire(), sort_keys=True) == json.dumps(wire, sort_keys=True)
