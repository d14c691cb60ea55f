"""Ingress hardening: whatever a peer sends, classification never raises
anything but Rejected, and applying what passes never leaves a partial row."""

from __future__ import annotations

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kioku_mesh.core.keyspace import build_key
from kioku_mesh.core.models import WIRE_FIELDS
from kioku_mesh.mesh.ingest import Action, Rejected, classify
from kioku_mesh.store.db import Store
from kioku_mesh.store.replication import PeerItems, apply_peer_items

HEX = "0123456789abcdef"
ids = st.text(HEX, min_size=32, max_size=32)
segments = st.one_of(
    st.text(string.ascii_letters + string.digits + "-_.@", min_size=1, max_size=12),
    st.text(min_size=0, max_size=6),  # anything, including / * $ # ? and empty
)
# Flat values keep generation cheap enough for 10,000 cases per test; nesting
# adds nothing here (every field is type-checked the same way at any depth).
json_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
    st.lists(st.text(max_size=6), max_size=3),
)


@st.composite
def keys(draw: st.DrawFn) -> str:
    tier = draw(st.sampled_from(["mesh", "user", "team", "", "bogus"]))
    kind = draw(st.sampled_from(["obs", "tomb", "other"]))
    parts = ["mem"]
    if tier in ("user", "team"):
        parts += [tier, draw(segments)]
    elif tier:
        parts.append(tier)
    parts.append(kind)
    parts += draw(st.lists(segments, min_size=2, max_size=5))
    parts.append(draw(st.one_of(ids, segments)))
    return "/".join(parts)


@st.composite
def observation_payloads(draw: st.DrawFn) -> bytes:
    """Mostly-plausible observation JSON with random corruption of fields."""
    oid = draw(ids)
    data = draw(st.dictionaries(st.sampled_from(WIRE_FIELDS), json_values, max_size=8))
    data["observation_id"] = draw(st.one_of(st.just(oid), json_values))
    data.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=1)))
    raw = json.dumps(data).encode()
    return draw(st.sampled_from([raw, raw[: len(raw) // 2], b"\xff" + raw, b"null", b"[]"]))


def _check(action: Action) -> None:
    assert action.kind in ("obs", "tomb", "purge")
    assert len(action.id) == 32 and set(action.id) <= set(HEX)
    if action.kind == "obs":
        assert action.observation is not None and action.observation.observation_id == action.id
    if action.kind == "tomb":
        assert action.tombstone is not None and action.tombstone.observation_id == action.id


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=keys(), payload=observation_payloads(), is_delete=st.booleans())
def test_classify_never_raises_unexpectedly(key: str, payload: bytes, is_delete: bool) -> None:
    try:
        action = classify(key, is_delete, payload)
    except Rejected as exc:
        assert exc.reason in {"bad_key", "bad_json", "bad_shape", "id_mismatch",
                              "scope_mismatch", "identity_mismatch", "oversized"}
        return
    _check(action)


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(family=segments, client=segments, pc=segments, session=segments, oid=ids,
       data=st.dictionaries(st.sampled_from(WIRE_FIELDS), json_values, max_size=8))
def test_well_keyed_samples_agree_with_their_key_or_are_rejected(
    family: str, client: str, pc: str, session: str, oid: str, data: dict
) -> None:
    body = {**data, "observation_id": oid, "agent_family": family, "client_id": client,
            "pc_id": pc, "session_id": session, "visibility": "mesh", "scope_id": ""}
    try:
        key = build_key("obs", "mesh", "", family, client, pc, session, oid)
    except Exception:  # noqa: BLE001 - invalid segments: nothing to send
        return
    try:
        action = classify(key, False, json.dumps(body).encode())
    except Rejected as exc:
        assert exc.reason == "bad_shape"
        return
    _check(action)
    assert action.observation is not None and action.observation.pc_id == pc


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(samples=st.lists(st.tuples(keys(), observation_payloads(), st.booleans()), max_size=8))
def test_applying_accepted_samples_keeps_the_store_consistent(tmp_path_factory, samples) -> None:
    store = Store.open(tmp_path_factory.mktemp("ingest") / "kioku.db")
    try:
        items = PeerItems()
        for key, payload, is_delete in samples:
            try:
                action = classify(key, is_delete, payload)
            except Rejected:
                continue
            if action.kind == "obs":
                items.observations.append(action.observation)  # type: ignore[arg-type]
            elif action.kind == "tomb":
                items.tombstones.append((action.tombstone, action.key))  # type: ignore[arg-type]
            else:
                items.purges.append(action.id)
        apply_peer_items(store, items)
        db = store.db
        # Every stored row is whole: indexed, in the digest, readable back.
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT count(*) FROM observations").fetchone()[0]
        tombs = db.execute("SELECT count(*) FROM tombstones").fetchone()[0]
        purged = db.execute("SELECT count(*) FROM purged").fetchone()[0]
        assert db.execute("SELECT coalesce(sum(n), 0) FROM digest").fetchone()[0] == rows + tombs + purged
        db.execute("INSERT INTO obs_tri(obs_tri) VALUES ('integrity-check')")
        for (oid,) in db.execute("SELECT id FROM purged"):
            assert db.execute("SELECT 1 FROM observations WHERE id = ?", (oid,)).fetchone() is None
    finally:
        store.close()
