"""Agent-to-agent messages on one host: the real CLI (`kioku-mesh msg ...`) and the
library (`Messenger`), on one isolated store.

Acks follow docs/adr/0009-message-acks.md: a session message is read when that
session acks it; an agent message is settled for every session of the agent by
the first ack, and the sender sees which session acked.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import assert_one_line_error, db_file, wait_for
from conftest import Env

from kioku_mesh.api import Memory
from kioku_mesh.api.messaging import Messenger
from kioku_mesh.core.config import Settings
from kioku_mesh.core.errors import NotFoundError, ValidationError
from kioku_mesh.core.messages import MAX_BODY_BYTES
from kioku_mesh.core.timeutil import parse_ts

ALICE = {"agent": "alice-agent", "session": "alice-s1"}
BOB1 = {"agent": "bob-agent", "session": "bob-s1"}
BOB2 = {"agent": "bob-agent", "session": "bob-s2"}
CAROL = {"agent": "carol-agent", "session": "carol-s1"}


def ident_env(agent: str, session: str, user: str = "", team: str = "") -> dict[str, str]:
    env = {"KIOKU_MESH_CLIENT_ID": agent, "KIOKU_MESH_SESSION_ID": session,
           "KIOKU_MESH_AGENT_FAMILY": "test"}
    if user:
        env["KIOKU_MESH_USER_ID"] = user
    if team:
        env["KIOKU_MESH_TEAM_ID"] = team
    return env


def msg(km: Env, who: dict[str, str], *args: str, input: str | None = None) -> Any:
    """`kioku-mesh msg ARGS --json` as `who`; must succeed; the parsed JSON."""
    res = km.run("msg", *args, "--json", input=input, extra_env=ident_env(**who), check=True)
    return json.loads(res.stdout)


def msg_fail(km: Env, who: dict[str, str], *args: str, input: str | None = None,
             code: int | None = 2, contains: str | None = None) -> str:
    res = km.run("msg", *args, input=input, extra_env=ident_env(**who))
    return assert_one_line_error(res, code, contains=contains)


def inbox_ids(km: Env, who: dict[str, str], *args: str) -> list[str]:
    return [m["msg_id"] for m in msg(km, who, "inbox", *args)]


def db_rows(km: Env, sql: str, *params: object) -> list[tuple]:
    path = db_file(km)
    if not path.exists():
        return []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def message_count(km: Env) -> int:
    rows = db_rows(km, "SELECT count(*) FROM messages")
    return int(rows[0][0]) if rows else 0


@pytest.fixture
def messenger(km: Env):
    """Messenger(agent, session, user=, team=): the library on km's store, as that
    identity (a Settings built directly, so several identities share a process)."""
    opened: list[Memory] = []

    def make(agent: str, session: str, user: str = "", team: str = "") -> Messenger:
        settings = Settings(state_dir=km.state_dir, config_path=km.config_path,
                            project_config_path=None, agent_family="test", client_id=agent,
                            session_id=session, user_id=user, team_id=team)
        mem = Memory(settings)
        opened.append(mem)
        return Messenger(mem)

    yield make
    for mem in opened:
        mem.close()


# ------------------------------------------------------------- send / inbox / ack


def test_send_to_session_and_agent_then_inbox_ack_and_sender_status(km):
    to_agent = msg(km, ALICE, "send", "run the test suite please", "--to-agent", "bob-agent")
    to_session = msg(km, ALICE, "send", "review my diff", "--to-session", "bob-s1",
                     "--requires-ack", "--correlation-id", "req-42")
    assert to_agent["recipient"] == {"kind": "agent", "agent_id": "bob-agent"}
    assert to_session["recipient"] == {"kind": "session", "session_id": "bob-s1"}
    for sent in (to_agent, to_session):
        assert sent["sender"] == {"agent_id": "alice-agent", "session_id": "alice-s1"}
        assert sent["sender_id"] == "alice-agent" and sent["scope"] == "mesh"
        assert len(sent["msg_id"]) == 32 and sent["kind"] == "direct"
    assert to_session["requires_ack"] is True and to_session["correlation_id"] == "req-42"
    assert to_agent["requires_ack"] is False
    assert (to_agent["sender_seq"], to_session["sender_seq"]) == (1, 2)

    # bob-s1 gets both (oldest first); bob-s2 only the agent one; alice nothing
    inbox = msg(km, BOB1, "inbox")
    assert [m["msg_id"] for m in inbox] == [to_agent["msg_id"], to_session["msg_id"]]
    assert [m["body"] for m in inbox] == ["run the test suite please", "review my diff"]
    assert all(m["acks"] == [] and m["expired"] is False for m in inbox)
    assert inbox_ids(km, BOB2) == [to_agent["msg_id"]]
    assert inbox_ids(km, ALICE) == []
    human = km.run("msg", "inbox", extra_env=ident_env(**BOB1), check=True).stdout
    assert "review my diff" in human and "needs ack" in human and "alice-agent" in human

    # ack by an 8-char prefix
    ack = msg(km, BOB1, "ack", to_session["msg_id"][:8])
    assert ack["msg_id"] == to_session["msg_id"]
    assert ack["recipient_session_id"] == "bob-s1" and ack["recipient_agent_id"] == "bob-agent"
    assert ack["status"] == "acknowledged" and parse_ts(ack["acked_at"])
    assert inbox_ids(km, BOB1) == [to_agent["msg_id"]]
    everything = msg(km, BOB1, "inbox", "--all")
    assert [m["msg_id"] for m in everything] == [to_agent["msg_id"], to_session["msg_id"]]
    assert [a["recipient_session_id"] for a in everything[1]["acks"]] == ["bob-s1"]

    # the sender sees the delivery state and which session acked
    status = {m["msg_id"]: m for m in msg(km, ALICE, "status")}
    assert set(status) == {to_agent["msg_id"], to_session["msg_id"]}
    assert status[to_agent["msg_id"]]["acks"] == []
    acks = status[to_session["msg_id"]]["acks"]
    assert [(a["recipient_session_id"], a["recipient_agent_id"]) for a in acks] == [
        ("bob-s1", "bob-agent")]
    one = msg(km, ALICE, "status", to_session["msg_id"])
    assert [m["msg_id"] for m in one] == [to_session["msg_id"]]
    text = km.run("msg", "status", extra_env=ident_env(**ALICE), check=True).stdout
    # Local mode, no node: both stay on this host, and status says so plainly.
    assert (f"{to_session['msg_id'][:12]} to session bob-s1 [mesh] "
            "kept on this host (local mode: agents here see it") in text
    assert "acked by bob-s1" in text and "not acked" in text
    assert "node not running?" not in text
    # bob sent nothing
    assert msg(km, BOB1, "status") == []


def test_agent_ack_settles_all_sessions_session_message_stays(km):
    """ADR 0009: the first ack of an agent message by any session of the agent
    takes it off every session's unread list; session messages stay per session."""
    for_agent = msg(km, ALICE, "send", "whoever is free: bump the deps", "--to-agent",
                    "bob-agent", "--requires-ack")["msg_id"]
    for_s1 = msg(km, ALICE, "send", "only for bob-s1", "--to-session", "bob-s1")["msg_id"]
    for_s2 = msg(km, ALICE, "send", "only for bob-s2", "--to-session", "bob-s2")["msg_id"]
    assert inbox_ids(km, BOB1) == [for_agent, for_s1]
    assert inbox_ids(km, BOB2) == [for_agent, for_s2]

    msg(km, BOB1, "ack", for_agent)
    msg(km, BOB1, "ack", for_s1)
    assert inbox_ids(km, BOB1) == []
    assert inbox_ids(km, BOB2) == [for_s2]  # agent message gone, its own one stays
    seen_by_s2 = msg(km, BOB2, "inbox", "--all")
    assert [m["msg_id"] for m in seen_by_s2] == [for_agent, for_s2]
    assert [a["recipient_session_id"] for a in seen_by_s2[0]["acks"]] == ["bob-s1"]

    # nobody acks what is not addressed to them or their agent
    msg_fail(km, BOB1, "ack", for_s2, contains="not addressed")
    msg_fail(km, CAROL, "ack", for_agent, contains="not addressed")
    msg_fail(km, ALICE, "ack", for_s1, contains="not addressed")  # the sender neither
    assert inbox_ids(km, BOB2) == [for_s2]
    msg_fail(km, BOB1, "ack", "0123456789abcdef", code=1, contains="no message")
    msg_fail(km, BOB1, "ack", "xyz", contains="invalid message id")

    # a second session may ack too: every ack is kept, the sender sees both
    msg(km, BOB2, "ack", for_agent)
    msg(km, BOB1, "ack", for_agent)  # again: idempotent
    [status] = msg(km, ALICE, "status", for_agent)
    assert sorted(a["recipient_session_id"] for a in status["acks"]) == ["bob-s1", "bob-s2"]
    assert db_rows(km, "SELECT count(*) FROM acks WHERE msg_id = ?", for_agent) == [(2,)]


def test_library_send_inbox_ack_status(messenger):
    alice = messenger("alice-agent", "alice-s1")
    bob1, bob2 = messenger("bob-agent", "bob-s1"), messenger("bob-agent", "bob-s2")
    sent = alice.send("library hello", to_agent="bob-agent", requires_ack=True)
    direct = alice.send("library direct", to_session="bob-s2")
    assert [s.message.msg_id for s in bob1.inbox()] == [sent.msg_id]
    assert [s.message.msg_id for s in bob2.inbox()] == [sent.msg_id, direct.msg_id]
    ack = bob2.ack(sent.msg_id)
    assert (ack.recipient_session_id, ack.recipient_agent_id) == ("bob-s2", "bob-agent")
    assert bob1.inbox() == []
    assert [s.message.msg_id for s in bob2.inbox()] == [direct.msg_id]
    assert [s.message.msg_id for s in bob1.inbox(unread_only=False)] == [sent.msg_id]
    [status] = alice.status(sent.msg_id)
    assert [a.recipient_session_id for a in status.acks] == ["bob-s2"]
    with pytest.raises(ValidationError, match="not addressed"):
        bob1.ack(direct.msg_id)
    with pytest.raises(NotFoundError):
        bob1.ack("f" * 32)


def test_inbox_filters_by_scope_and_since(km):
    sender = {**ALICE, "user": "alice", "team": "core"}
    reader = {**BOB1, "user": "alice", "team": "core"}  # the same user, a team member
    mesh_id = msg(km, sender, "send", "to everyone's mesh", "--to-agent", "bob-agent")["msg_id"]
    user = msg(km, sender, "send", "for alice's agents", "--to-agent", "bob-agent",
               "--scope", "user")
    team = msg(km, sender, "send", "for the core team", "--to-agent", "bob-agent",
               "--scope", "team")
    assert (user["scope"], team["scope"]) == ("user/alice", "team/core")

    assert inbox_ids(km, reader) == [mesh_id, user["msg_id"], team["msg_id"]]
    assert inbox_ids(km, reader, "--scope", "mesh") == [mesh_id]
    assert inbox_ids(km, reader, "--scope", "user") == [user["msg_id"]]
    assert inbox_ids(km, reader, "--scope", "team") == [team["msg_id"]]
    assert inbox_ids(km, reader, "--since", user["created_at"]) == [user["msg_id"], team["msg_id"]]
    assert inbox_ids(km, reader, "--since", team["created_at"]) == [team["msg_id"]]
    assert inbox_ids(km, reader, "--since", "1h") == [mesh_id, user["msg_id"], team["msg_id"]]
    assert inbox_ids(km, reader, "--since", "2099-01-01") == []
    assert inbox_ids(km, reader, "-n", "1") == [mesh_id]
    msg_fail(km, reader, "inbox", "--since", "yesterday-ish", contains="invalid time")
    msg_fail(km, reader, "inbox", "--scope", "galaxy", contains="invalid scope")
    msg_fail(km, BOB1, "inbox", "--scope", "user", contains="user_id")  # no user configured


def test_scope_isolation_user_and_team(km, messenger):
    sender = {**ALICE, "user": "alice", "team": "core"}
    for_alice = msg(km, sender, "send", "alice-only secret plan", "--to-agent", "bob-agent",
                    "--scope", "user")["msg_id"]
    for_core = msg(km, sender, "send", "core-team note", "--to-agent", "bob-agent",
                   "--scope", "team")["msg_id"]

    as_bob_user = {**BOB1, "user": "bob", "team": "other"}
    assert inbox_ids(km, as_bob_user, "--all") == []
    assert inbox_ids(km, BOB1, "--all") == []  # no user, no team: mesh only
    msg_fail(km, as_bob_user, "ack", for_alice, contains="not addressed")
    msg_fail(km, as_bob_user, "ack", for_core, contains="not addressed")
    res = km.run("msg", "status", for_alice, "--json", extra_env=ident_env(**as_bob_user))
    assert "alice-only secret plan" not in res.stdout + res.stderr

    # library: the same rules
    outsider = messenger("bob-agent", "bob-s9", user="bob", team="other")
    assert outsider.inbox(unread_only=False) == []
    with pytest.raises(ValidationError):
        outsider.ack(for_core)
    with pytest.raises((NotFoundError, ValidationError)):
        outsider.status(for_alice)

    # the right user / team member does see them
    assert inbox_ids(km, {**BOB1, "user": "alice"}) == [for_alice]
    assert inbox_ids(km, {**BOB1, "team": "core"}) == [for_core]
    member = messenger("bob-agent", "bob-s3", user="alice", team="core")
    assert [s.message.body for s in member.inbox()] == ["alice-only secret plan", "core-team note"]
    member.ack(for_alice)
    assert [s.message.msg_id for s in member.inbox()] == [for_core]


# ------------------------------------------------------------------------ expiry


def test_ttl_expiry_hides_at_once_and_purge_removes(km, messenger):
    keep = msg(km, ALICE, "send", "lasts a week", "--to-agent", "bob-agent")["msg_id"]
    by_cli = msg(km, ALICE, "send", "gone in a second", "--to-agent", "bob-agent", "--ttl", "1")
    assert by_cli["ttl_sec"] == 1
    assert abs(parse_ts(by_cli["expires_at"]) - parse_ts(by_cli["created_at"]) - 1) < 1e-3
    # the library for the timed part: a CLI start takes longer than the TTL under load
    alice, bob = messenger("alice-agent", "alice-s1"), messenger("bob-agent", "bob-s1")
    short = alice.send("also gone in a second", to_agent="bob-agent", ttl_sec=1)
    expires = short.expires_ts()
    assert expires is not None
    bob.ack(short.msg_id)  # an ack goes with its message

    def visible() -> list[str]:
        return [s.message.msg_id for s in bob.inbox(unread_only=False)]

    assert short.msg_id in visible() or time.time() >= expires
    gone_at = wait_for(lambda: short.msg_id not in visible() and time.time(), timeout=10,
                       interval=0.01)
    assert gone_at >= expires - 0.05, "hidden before it expired"
    assert gone_at - expires < 1.0, "not hidden at once after expiry"
    assert inbox_ids(km, BOB1, "--all") == [keep]
    msg_fail(km, BOB1, "ack", by_cli["msg_id"], contains="expired")
    status = {m["msg_id"]: m["expired"] for m in msg(km, ALICE, "status")}
    assert status == {keep: False, by_cli["msg_id"]: True, short.msg_id: True}
    assert db_rows(km, "SELECT count(*) FROM messages") == [(3,)]  # hidden, still stored
    assert db_rows(km, "SELECT count(*) FROM acks WHERE msg_id = ?", short.msg_id) == [(1,)]

    assert msg(km, ALICE, "purge-expired") == {"purged": 2}
    assert db_rows(km, "SELECT msg_id FROM messages") == [(keep,)]
    assert db_rows(km, "SELECT count(*) FROM acks") == [(0,)]
    msg_fail(km, ALICE, "status", short.msg_id, code=1, contains="no message")
    assert msg(km, ALICE, "purge-expired") == {"purged": 0}
    text = km.run("msg", "purge-expired", extra_env=ident_env(**ALICE), check=True).stdout
    assert text.strip() == "purged 0 expired messages"


# --------------------------------------------------------------------- bad input


def test_body_over_64_kib_is_refused_whole(km):
    limit = MAX_BODY_BYTES
    assert limit == 64 * 1024
    err = msg_fail(km, ALICE, "send", "-", "--to-agent", "bob-agent", input="x" * (limit + 1),
                   contains="over the limit")
    assert str(limit + 1) in err and str(limit) in err
    # measured in UTF-8 bytes, not characters: 21,846 x 3 bytes > 64 KiB
    msg_fail(km, ALICE, "send", "-", "--to-agent", "bob-agent", input="あ" * 21846,
             contains="over the limit")
    assert message_count(km) == 0, "a refused message was stored"
    # exactly at the limit: stored whole, byte for byte
    body = "y" * (limit - 3) + "あ"
    sent = msg(km, ALICE, "send", "-", "--to-agent", "bob-agent", input=body)
    [got] = msg(km, BOB1, "inbox")
    assert got["msg_id"] == sent["msg_id"] and got["body"] == body
    assert len(got["body"].encode()) == limit


def test_bad_send_arguments_are_one_line_errors(km, messenger):
    msg_fail(km, ALICE, "send", "", "--to-agent", "bob-agent", contains="empty")
    msg_fail(km, ALICE, "send", "   \n ", "--to-agent", "bob-agent", contains="empty")
    msg_fail(km, ALICE, "send", "both", "--to-agent", "bob-agent", "--to-session", "s1",
             contains="not allowed")
    msg_fail(km, ALICE, "send", "neither", contains="required")
    msg_fail(km, ALICE, "send", "bad scope", "--to-agent", "bob-agent", "--scope", "planet",
             contains="invalid scope")
    msg_fail(km, ALICE, "send", "no user", "--to-agent", "bob-agent", "--scope", "user",
             contains="user_id")
    msg_fail(km, ALICE, "send", "no team", "--to-agent", "bob-agent", "--scope", "team",
             contains="team_id")
    msg_fail(km, ALICE, "send", "ttl", "--to-agent", "bob-agent", "--ttl", "0", contains="ttl")
    msg_fail(km, ALICE, "send", "ttl", "--to-agent", "bob-agent", "--ttl", "9" * 22,
             contains="too large")
    msg_fail(km, ALICE, "send", "slash", "--to-agent", "bob/agent")
    assert message_count(km) == 0

    alice = messenger("alice-agent", "alice-s1")
    with pytest.raises(ValidationError, match="exactly one recipient"):
        alice.send("both", to_agent="bob-agent", to_session="bob-s1")
    with pytest.raises(ValidationError, match="exactly one recipient"):
        alice.send("neither")
    with pytest.raises(ValidationError, match="empty"):
        alice.send("", to_agent="bob-agent")
    with pytest.raises(ValidationError, match="invalid scope"):
        alice.send("x", to_agent="bob-agent", scope="team/core")
    with pytest.raises(ValidationError, match="over the limit"):
        alice.send("z" * (MAX_BODY_BYTES + 1), to_agent="bob-agent")
    with pytest.raises(ValidationError, match="ttl"):
        alice.send("x", to_agent="bob-agent", ttl_sec=-5)
    with pytest.raises(ValidationError, match="too large"):
        alice.send("x", to_agent="bob-agent", ttl_sec=10**400)
    assert message_count(km) == 0


# ------------------------------------------------------------------------ storage


def test_messages_live_in_the_one_store(km):
    memory_id = json.loads(km.run("save", "a memory beside messages", "-s", "beside", "--json",
                                  check=True).stdout)["observation_id"]
    sent = msg(km, ALICE, "send", "stored with the memories", "--to-agent", "bob-agent")
    msg(km, BOB1, "ack", sent["msg_id"])
    state = Path(km.state_dir)
    databases = sorted(p.name for p in state.rglob("*")
                       if p.is_file() and p.name not in ("pc_id", "node-status.json")
                       and not p.name.startswith("kioku.db"))
    assert databases == [], f"files besides kioku.db in the state dir: {databases}"
    for path in state.rglob("*"):
        if path.is_file() and path.name != "kioku.db":
            assert not path.read_bytes().startswith(b"SQLite format 3"), path
    assert db_rows(km, "SELECT msg_id FROM messages") == [(sent["msg_id"],)]
    assert db_rows(km, "SELECT recipient_session_id FROM acks") == [("bob-s1",)]
    assert db_rows(km, "SELECT id FROM observations") == [(memory_id,)]
    payload = json.loads(db_rows(km, "SELECT payload FROM messages")[0][0])
    assert payload["body"] == "stored with the memories"
