"""Zenoh access control for a hub: scopes enforced by certificate identity.

Every enrolled peer (mutual TLS with our CA) may use the mesh scope and the
node protocol. `user/{u}` keys (memories, messages, sync) only for the cert
whose common name is u; `team/{t}` keys only for the team's members. The
hub's own session is the router and is not filtered; everything a peer sends
or receives crosses the router's links and is. Wildcard declarations that
reach beyond what a peer may read (e.g. subscribing to `mem/**`) are refused
whole, so a peer cannot widen its view by asking broadly.
"""

from __future__ import annotations

from typing import Any

from ..core.models import SLUG_RE

ALL_MESSAGES = [
    "put", "delete", "declare_subscriber", "query", "reply", "declare_queryable",
    "liveliness_token", "declare_liveliness_subscriber", "liveliness_query",
]
MESH_KEYS = [
    "mem/mesh/**", "mem/obs/**", "mem/tomb/**", "msg/mesh/**",
    "kioku/node/**", "kioku/presence/**", "kioku/sync/*/mesh/**",
    "kioku/projects/**",  # project renames are mesh-wide (ADR 0017)
]


def scope_keys(scope: str) -> list[str]:
    """Every key a scope (`user/alice`, `team/core`) covers."""
    return [f"mem/{scope}/**", f"msg/{scope}/**", f"kioku/sync/*/{scope}/**"]


def access_control(users: list[str], teams: dict[str, list[str]]) -> dict[str, Any]:
    users = sorted({u for u in users if SLUG_RE.match(u)} | {
        m for members in teams.values() for m in members if SLUG_RE.match(m)})
    rules: list[dict[str, Any]] = [_rule("mesh", MESH_KEYS)]
    subjects: list[dict[str, Any]] = [{"id": "enrolled"}]  # no attribute: every peer
    policies: list[dict[str, Any]] = [{"id": "p-mesh", "rules": ["mesh"], "subjects": ["enrolled"]}]
    for user in users:
        rules.append(_rule(f"user-{user}", scope_keys(f"user/{user}")))
        subjects.append({"id": f"cn-{user}", "cert_common_names": [user]})
        policies.append({"id": f"p-user-{user}", "rules": [f"user-{user}"],
                         "subjects": [f"cn-{user}"]})
    for team, members in sorted(teams.items()):
        valid = sorted(m for m in members if SLUG_RE.match(m))
        if not SLUG_RE.match(team) or not valid:
            continue
        rules.append(_rule(f"team-{team}", scope_keys(f"team/{team}")))
        policies.append({"id": f"p-team-{team}", "rules": [f"team-{team}"],
                         "subjects": [f"cn-{m}" for m in valid]})
    return {"enabled": True, "default_permission": "deny", "rules": rules,
            "subjects": subjects, "policies": policies}


def _rule(rule_id: str, keys: list[str]) -> dict[str, Any]:
    return {"id": rule_id, "messages": ALL_MESSAGES, "flows": ["ingress", "egress"],
            "permission": "allow", "key_exprs": keys}
